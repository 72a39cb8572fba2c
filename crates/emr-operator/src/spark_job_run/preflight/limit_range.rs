//! What the namespace's LimitRanges do to a Spark container, as the apiserver does it: the
//! LimitRange's own defaulting (`default` from `max`, `defaultRequest` from `default`, then
//! `min`), the LimitRanger admission plugin filling unset requests and limits, its `min`,
//! `max` and `maxLimitRequestRatio` checks (items of type `Container`, and of type `Pod`, whose
//! only container the preflight knows is Spark's), and pod validation's request <= limit.
//!
//! With several LimitRanges, their defaults are taken in name order; the apiserver takes them
//! in its cache's order, which a namespace with one LimitRange (the usual case) never sees.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{LimitRange, LimitRangeItem};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::ResourceExt;

use super::pods::{Container, Role, Sourced};
use super::quantity;
use super::template::TemplatePod;

/// The two resources Spark sets on its containers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    Cpu,
    Memory,
}

impl Resource {
    pub const ALL: [Resource; 2] = [Resource::Cpu, Resource::Memory];

    pub fn name(self) -> &'static str {
        match self {
            Resource::Cpu => "cpu",
            Resource::Memory => "memory",
        }
    }

    /// A quantity of this resource (millicores, bytes); `None` when unreadable.
    pub fn read(self, q: &Quantity) -> Option<u128> {
        match self {
            Resource::Cpu => quantity::kube_millis(&q.0).ok(),
            Resource::Memory => quantity::kube_units(&q.0).ok(),
        }
    }

    pub fn show(self, amount: u128) -> String {
        match self {
            Resource::Cpu => quantity::show_millis(amount),
            Resource::Memory => quantity::show_bytes(amount),
        }
    }

    /// The Spark property that sets this resource's limit, when one does.
    fn limit_property(self, role: Role) -> Option<String> {
        match self {
            Resource::Cpu => Some(format!("spark.kubernetes.{}.limit.cores", role.as_str())),
            Resource::Memory => None,
        }
    }
}

/// A container's request and limit of one resource after admission.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bounds {
    pub request: Option<Sourced>,
    pub limit: Option<Sourced>,
}

/// A Spark container (or a whole pod) as admitted: per resource, its request and limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admitted {
    pub role: Role,
    /// `None`: Spark's own container. Else what it is, for messages: a pod template's
    /// container, or the pod as a whole.
    pub who: Option<String>,
    pub cpu: Bounds,
    pub memory: Bounds,
}

impl Admitted {
    /// How messages name it: `executor`, `executor spec.podTemplates.executor.spec.containers[1] (x)`.
    fn label(&self) -> String {
        match &self.who {
            None => self.role.as_str().to_owned(),
            Some(who) => format!("{} {who}", self.role.as_str()),
        }
    }

    /// The Spark property that sets this resource's limit, for Spark's own container only.
    fn limit_property(&self, resource: Resource) -> Option<String> {
        match self.who {
            None => resource.limit_property(self.role),
            Some(_) => None,
        }
    }

    pub fn of(&self, resource: Resource) -> &Bounds {
        match resource {
            Resource::Cpu => &self.cpu,
            Resource::Memory => &self.memory,
        }
    }

    fn of_mut(&mut self, resource: Resource) -> &mut Bounds {
        match resource {
            Resource::Cpu => &mut self.cpu,
            Resource::Memory => &mut self.memory,
        }
    }
}

/// One LimitRange item with the apiserver's defaulting applied.
struct Item {
    owner: String,
    pod_level: bool,
    default: BTreeMap<String, Quantity>,
    default_request: BTreeMap<String, Quantity>,
    max: BTreeMap<String, Quantity>,
    min: BTreeMap<String, Quantity>,
    ratio: BTreeMap<String, Quantity>,
}

fn items(limit_ranges: &[LimitRange]) -> Vec<Item> {
    let mut sorted: Vec<&LimitRange> = limit_ranges.iter().collect();
    sorted.sort_by_key(|lr| lr.name_any());
    sorted
        .into_iter()
        .flat_map(|lr| {
            let owner = lr.name_any();
            lr.spec
                .iter()
                .flat_map(|s| &s.limits)
                .filter_map(move |item| item_of(owner.clone(), item))
        })
        .collect()
}

fn item_of(owner: String, item: &LimitRangeItem) -> Option<Item> {
    let pod_level = match item.type_.as_str() {
        "Container" => false,
        "Pod" => true,
        _ => return None,
    };
    let map = |m: &Option<BTreeMap<String, Quantity>>| m.clone().unwrap_or_default();
    let (max, min) = (map(&item.max), map(&item.min));
    let mut default = map(&item.default);
    let mut default_request = map(&item.default_request);
    if !pod_level {
        for (k, v) in &max {
            default.entry(k.clone()).or_insert_with(|| v.clone());
        }
        for (k, v) in default.iter().chain(&min) {
            default_request
                .entry(k.clone())
                .or_insert_with(|| v.clone());
        }
    } else {
        default.clear();
        default_request.clear();
    }
    Some(Item {
        owner,
        pod_level,
        default,
        default_request,
        max,
        min,
        ratio: map(&item.max_limit_request_ratio),
    })
}

/// The container as the apiserver admits it, and every rule it breaks (one line each, naming
/// the Spark property, the value and the limit). Spark's container is the pod's only one
/// here, so `Pod` items are checked on it too.
pub fn admit(container: &Container, limit_ranges: &[LimitRange]) -> (Admitted, Vec<String>) {
    let items = items(limit_ranges);
    let mut admitted = spark_container(container);
    fill_defaults(&mut admitted, &items);
    let mut problems = Vec::new();
    check(&admitted, &items, None, &mut problems);
    (admitted, problems)
}

/// The pod of Spark's container and a pod template's other containers, as the apiserver admits
/// it: each container against the `Container` items, the pod's totals against the `Pod` items.
/// Returns the totals (what a quota counts) and every rule broken.
pub fn admit_pod(
    container: &Container,
    template: &TemplatePod,
    limit_ranges: &[LimitRange],
) -> (Admitted, Vec<String>) {
    if template.extras.is_empty() {
        return admit(container, limit_ranges);
    }
    let items = items(limit_ranges);
    let mut problems = Vec::new();
    let mut spark = spark_container(container);
    fill_defaults(&mut spark, &items);
    check(&spark, &items, Some(false), &mut problems);
    let mut total = spark;
    let mut inits = Vec::new();
    for extra in &template.extras {
        let mut admitted = Admitted {
            role: container.role,
            who: Some(extra.field.clone()),
            cpu: extra.cpu.clone(),
            memory: extra.memory.clone(),
        };
        fill_defaults(&mut admitted, &items);
        check(&admitted, &items, Some(false), &mut problems);
        if extra.init {
            inits.push(admitted);
        } else {
            total = sum(total, &admitted);
        }
    }
    for init in &inits {
        total = at_least(total, init);
    }
    total.who = Some("pod (all its containers)".to_owned());
    check(&total, &items, Some(true), &mut problems);
    (total, problems)
}

/// Spark's container before the LimitRanges: Spark sets its CPU request and its memory.
fn spark_container(container: &Container) -> Admitted {
    Admitted {
        role: container.role,
        who: None,
        cpu: Bounds {
            request: Some(container.cpu_request.clone()),
            limit: container.cpu_limit.clone(),
        },
        memory: Bounds {
            request: Some(container.memory.clone()),
            limit: Some(container.memory.clone()),
        },
    }
}

/// Fills what is unset from the LimitRanges' defaults: the first LimitRange to give one wins.
fn fill_defaults(admitted: &mut Admitted, items: &[Item]) {
    for item in items {
        for resource in Resource::ALL {
            let unset = admitted
                .limit_property(resource)
                .map(|p| format!(", as {p} is not set"))
                .unwrap_or_default();
            let bounds = admitted.of_mut(resource);
            let name = resource.name();
            if bounds.limit.is_none()
                && let Some(amount) = item.default.get(name).and_then(|q| resource.read(q))
            {
                bounds.limit = Some(Sourced {
                    amount,
                    source: format!(
                        "the default {name} limit of LimitRange {}{unset}",
                        item.owner
                    ),
                });
            }
            if bounds.request.is_none()
                && let Some(amount) = item
                    .default_request
                    .get(name)
                    .and_then(|q| resource.read(q))
            {
                bounds.request = Some(Sourced {
                    amount,
                    source: format!("the default {name} request of LimitRange {}", item.owner),
                });
            }
        }
    }
}

/// Checks the items of one level (`Some(true)`: `Pod` items, `Some(false)`: `Container`
/// items, `None`: both), and request <= limit for a container.
fn check(admitted: &Admitted, items: &[Item], pod_level: Option<bool>, problems: &mut Vec<String>) {
    for item in items
        .iter()
        .filter(|i| pod_level.is_none_or(|level| level == i.pod_level))
    {
        for resource in Resource::ALL {
            check_item(admitted, resource, item, problems);
        }
    }
    if pod_level != Some(true) {
        for resource in Resource::ALL {
            check_request_within_limit(admitted, resource, problems);
        }
    }
}

/// Two containers running side by side: their requests and their limits added (unknown when
/// either is).
fn sum(a: Admitted, b: &Admitted) -> Admitted {
    combine(a, b, |x, y| {
        let (x, y) = (x?, y.as_ref()?);
        Some(Sourced {
            amount: x.amount.saturating_add(y.amount),
            source: format!("{} + {}", x.source, y.source),
        })
    })
}

/// The pod with an init container: the larger of the two, per value.
fn at_least(a: Admitted, init: &Admitted) -> Admitted {
    combine(a, init, |x, y| match (x, y) {
        (Some(x), Some(y)) if y.amount > x.amount => Some(y.clone()),
        (x, _) => x,
    })
}

/// `a` with each of its four values (cpu and memory, request and limit) combined with `b`'s.
fn combine(
    a: Admitted,
    b: &Admitted,
    pick: impl Fn(Option<Sourced>, &Option<Sourced>) -> Option<Sourced>,
) -> Admitted {
    let both = |x: Bounds, y: &Bounds| Bounds {
        request: pick(x.request, &y.request),
        limit: pick(x.limit, &y.limit),
    };
    Admitted {
        role: a.role,
        who: a.who,
        cpu: both(a.cpu, &b.cpu),
        memory: both(a.memory, &b.memory),
    }
}

fn check_item(admitted: &Admitted, resource: Resource, item: &Item, problems: &mut Vec<String>) {
    let role = admitted.label();
    let name = resource.name();
    let bounds = admitted.of(resource);
    let per = if item.pod_level { "pod" } else { "container" };
    let owner = &item.owner;
    let show = |a: u128| resource.show(a);
    if let Some(min) = item.min.get(name).and_then(|q| resource.read(q)) {
        // The request is the lower of the two: when it is above the minimum, so is the limit
        // (or the limit is below its request, reported on its own).
        let low = [
            ("requests", &bounds.request),
            ("is limited to", &bounds.limit),
        ]
        .into_iter()
        .find_map(|(what, v)| v.as_ref().filter(|v| v.amount < min).map(|v| (what, v)));
        if let Some((what, v)) = low {
            problems.push(format!(
                "{role}: {} {what} {name} {}, below the minimum of {} per {per} of LimitRange {owner}",
                v.source,
                show(v.amount),
                show(min)
            ));
        }
    }
    if let Some(max) = item.max.get(name).and_then(|q| resource.read(q)) {
        // One message per rule: the request when it is over (it names the property the user
        // set, e.g. spark.executor.cores), else the limit.
        let request_over = bounds.request.as_ref().filter(|r| r.amount > max);
        match (request_over, &bounds.limit) {
            (Some(request), _) => problems.push(format!(
                "{role}: {} requests {name} {}, above the maximum of {} per {per} of LimitRange {owner}",
                request.source,
                show(request.amount),
                show(max)
            )),
            (None, None) => problems.push(format!(
                "{role}: LimitRange {owner} sets a maximum {name} of {} per {per}, so the container needs a {name} limit, and none is set or defaulted{}",
                show(max),
                admitted
                    .limit_property(resource)
                    .map(|p| format!(": set {p}"))
                    .unwrap_or_default()
            )),
            (None, Some(limit)) if limit.amount > max => problems.push(format!(
                "{role}: {name} limit {} ({}) is above the maximum of {} per {per} of LimitRange {owner}",
                show(limit.amount),
                limit.source,
                show(max)
            )),
            (None, Some(_)) => {}
        }
    }
    if let Some(ratio) = item
        .ratio
        .get(name)
        .and_then(|q| quantity::kube_millis(&q.0).ok())
    {
        let shown = quantity::show_millis(ratio);
        match (&bounds.request, &bounds.limit) {
            (Some(request), Some(limit)) if request.amount > 0 => {
                // limit / request > ratio, without division: limit * 1000 > ratio(milli) * request.
                let over = match (
                    limit.amount.checked_mul(1000),
                    ratio.checked_mul(request.amount),
                ) {
                    (Some(l), Some(r)) => l > r,
                    (None, _) => true,
                    (_, None) => false,
                };
                if over {
                    problems.push(format!(
                        "{role}: {name} limit {} ({}) is more than {shown} times the request {} ({}), the maxLimitRequestRatio of LimitRange {owner}",
                        show(limit.amount),
                        limit.source,
                        show(request.amount),
                        request.source
                    ));
                }
            }
            _ => problems.push(format!(
                "{role}: LimitRange {owner} sets a maxLimitRequestRatio for {name}, so the container needs both a {name} request and a {name} limit"
            )),
        }
    }
}

fn check_request_within_limit(admitted: &Admitted, resource: Resource, problems: &mut Vec<String>) {
    let role = admitted.label();
    let name = resource.name();
    let bounds = admitted.of(resource);
    if let (Some(request), Some(limit)) = (&bounds.request, &bounds.limit)
        && request.amount > limit.amount
    {
        let fix = admitted
            .limit_property(resource)
            .map(|p| format!("; set {p} to at least {}", resource.show(request.amount)))
            .unwrap_or_default();
        problems.push(format!(
            "{role}: {} requests {name} {}, above its {name} limit {} ({}){fix}",
            request.source,
            resource.show(request.amount),
            resource.show(limit.amount),
            limit.source,
        ));
    }
}
