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

/// A Spark container as admitted: per resource, its request and limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admitted {
    pub role: Role,
    pub cpu: Bounds,
    pub memory: Bounds,
}

impl Admitted {
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
/// the Spark property, the value and the limit).
pub fn admit(container: &Container, limit_ranges: &[LimitRange]) -> (Admitted, Vec<String>) {
    let role = container.role;
    let mut admitted = Admitted {
        role,
        cpu: Bounds {
            request: Some(container.cpu_request.clone()),
            limit: container.cpu_limit.clone(),
        },
        memory: Bounds {
            request: Some(container.memory.clone()),
            limit: Some(container.memory.clone()),
        },
    };
    let items = items(limit_ranges);
    // Defaults fill only what is still unset: the first LimitRange to give one wins.
    for item in &items {
        for resource in Resource::ALL {
            let bounds = admitted.of_mut(resource);
            let name = resource.name();
            if bounds.limit.is_none()
                && let Some(amount) = item.default.get(name).and_then(|q| resource.read(q))
            {
                let unset = resource
                    .limit_property(role)
                    .map(|p| format!(", as {p} is not set"))
                    .unwrap_or_default();
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
    let mut problems = Vec::new();
    for item in &items {
        for resource in Resource::ALL {
            check_item(&admitted, resource, item, &mut problems);
        }
    }
    for resource in Resource::ALL {
        check_request_within_limit(&admitted, resource, &mut problems);
    }
    (admitted, problems)
}

fn check_item(admitted: &Admitted, resource: Resource, item: &Item, problems: &mut Vec<String>) {
    let role = admitted.role.as_str();
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
                resource
                    .limit_property(admitted.role)
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
    let role = admitted.role.as_str();
    let name = resource.name();
    let bounds = admitted.of(resource);
    if let (Some(request), Some(limit)) = (&bounds.request, &bounds.limit)
        && request.amount > limit.amount
    {
        let fix = resource
            .limit_property(admitted.role)
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
