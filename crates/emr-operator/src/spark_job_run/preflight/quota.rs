//! What the namespace's ResourceQuotas say about a job's pods: a pod a quota can never admit
//! (larger than its `hard`, or missing a value it tracks, e.g. a CPU limit under `limits.cpu`)
//! refuses the job; a driver that does not fit in what the runs already active leave free makes
//! the job wait; executors that do not all fit only warn, because Spark keeps asking for the
//! missing ones and runs with those it gets.
//!
//! Only quotas that apply to Spark's pods are read: without scopes, or scoped to
//! `NotTerminating`/`NotBestEffort` (Spark's pods are both). Others (priority-class selectors,
//! `Terminating`, `BestEffort`) are left out rather than guessed at.

use k8s_openapi::api::core::v1::ResourceQuota;
use kube::ResourceExt;

use super::limit_range::{Admitted, Resource};
use super::pods::Executors;
use super::quantity;

/// What the quotas say.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct QuotaFindings {
    /// Pods no quota could ever admit.
    pub refusals: Vec<String>,
    /// The driver does not fit in what is free now.
    pub waits: Vec<String>,
    /// Not every executor fits.
    pub warnings: Vec<String>,
}

/// A quota resource the preflight understands, and what one pod uses of it.
#[derive(Clone, Copy)]
enum Tracked {
    Pods,
    Request(Resource),
    Limit(Resource),
}

fn tracked(key: &str) -> Option<Tracked> {
    match key {
        "pods" | "count/pods" => Some(Tracked::Pods),
        "cpu" | "requests.cpu" => Some(Tracked::Request(Resource::Cpu)),
        "memory" | "requests.memory" => Some(Tracked::Request(Resource::Memory)),
        "limits.cpu" => Some(Tracked::Limit(Resource::Cpu)),
        "limits.memory" => Some(Tracked::Limit(Resource::Memory)),
        _ => None,
    }
}

impl Tracked {
    fn read(self, text: &str) -> Option<u128> {
        match self {
            Tracked::Pods => quantity::kube_units(text).ok(),
            Tracked::Request(r) | Tracked::Limit(r) => match r {
                Resource::Cpu => quantity::kube_millis(text).ok(),
                Resource::Memory => quantity::kube_units(text).ok(),
            },
        }
    }

    fn show(self, amount: u128) -> String {
        match self {
            Tracked::Pods => amount.to_string(),
            Tracked::Request(r) | Tracked::Limit(r) => r.show(amount),
        }
    }

    /// What one pod uses; `None` when the pod sets no value for it.
    fn usage(self, pod: &Admitted) -> Option<u128> {
        match self {
            Tracked::Pods => Some(1),
            Tracked::Request(r) => pod.of(r).request.as_ref().map(|s| s.amount),
            Tracked::Limit(r) => pod.of(r).limit.as_ref().map(|s| s.amount),
        }
    }
}

/// Whether a quota's scopes cover Spark's pods (see the module's note).
fn applies(quota: &ResourceQuota) -> bool {
    let Some(spec) = &quota.spec else {
        return false;
    };
    spec.scope_selector.is_none()
        && spec
            .scopes
            .iter()
            .flatten()
            .all(|s| s == "NotTerminating" || s == "NotBestEffort")
}

/// Checks the job's pods against every quota that applies.
pub fn check(
    driver: &Admitted,
    executor: &Admitted,
    executors: Executors,
    quotas: &[ResourceQuota],
) -> QuotaFindings {
    let mut findings = QuotaFindings::default();
    let mut sorted: Vec<&ResourceQuota> = quotas.iter().filter(|q| applies(q)).collect();
    sorted.sort_by_key(|q| q.name_any());
    for quota in sorted {
        let name = quota.name_any();
        let hard = quota.spec.as_ref().and_then(|s| s.hard.as_ref());
        let used = quota.status.as_ref().and_then(|s| s.used.as_ref());
        for (key, hard_q) in hard.into_iter().flatten() {
            let Some(t) = tracked(key) else { continue };
            let Some(hard) = t.read(&hard_q.0) else {
                continue;
            };
            let used = used
                .and_then(|u| u.get(key))
                .and_then(|q| t.read(&q.0))
                .unwrap_or(0);
            let free = hard.saturating_sub(used);
            let line = Line {
                quota: &name,
                key,
                t,
                hard,
                free,
                used,
            };
            line.check(driver, executor, executors, &mut findings);
        }
    }
    findings
}

/// One `hard` entry of one quota.
struct Line<'a> {
    quota: &'a str,
    key: &'a str,
    t: Tracked,
    hard: u128,
    free: u128,
    used: u128,
}

impl Line<'_> {
    fn check(
        &self,
        driver: &Admitted,
        executor: &Admitted,
        executors: Executors,
        findings: &mut QuotaFindings,
    ) {
        let (quota, key, t) = (self.quota, self.key, self.t);
        let show = |a: u128| t.show(a);
        let mut unset = false;
        for pod in [driver, executor] {
            if t.usage(pod).is_none() {
                unset = true;
                let fix = match t {
                    Tracked::Limit(Resource::Cpu) => format!(
                        ": set spark.kubernetes.{}.limit.cores, or give the namespace a default cpu limit",
                        pod.role.as_str()
                    ),
                    _ => String::new(),
                };
                // A pod with a template's containers: any of its containers may be the one.
                let whose = if pod.who.is_some() {
                    " (in Spark's container or one of its pod template's, with no LimitRange default)"
                } else {
                    ""
                };
                findings.refusals.push(format!(
                    "{}: ResourceQuota {quota} tracks {key}, so every pod must set it, and this one sets none{whose}{fix}",
                    pod.role.as_str()
                ));
            }
        }
        if unset {
            return;
        }
        let (Some(d), Some(e)) = (t.usage(driver), t.usage(executor)) else {
            return;
        };
        if d > self.hard {
            findings.refusals.push(format!(
                "driver: needs {key} {}, more than ResourceQuota {quota} allows in the whole namespace ({})",
                show(d),
                show(self.hard)
            ));
            return;
        }
        let with_one = d.saturating_add(e);
        if executors.most != Some(0) && with_one > self.hard {
            findings.refusals.push(format!(
                "the driver and one executor need {key} {}, more than ResourceQuota {quota} allows in the whole namespace ({}): no executor could ever start",
                show(with_one),
                show(self.hard)
            ));
            return;
        }
        if d > self.free {
            findings.waits.push(format!(
                "ResourceQuota {quota}: the driver needs {key} {}, and {} of {} is free ({} used by what already runs)",
                show(d),
                show(self.free),
                show(self.hard),
                show(self.used)
            ));
            return;
        }
        let all = e
            .checked_mul(executors.initial)
            .and_then(|x| x.checked_add(d))
            .unwrap_or(u128::MAX);
        let fitting = |room: u128| room.saturating_sub(d).checked_div(e).unwrap_or(u128::MAX);
        let n = executors.initial;
        if all > self.hard {
            findings.warnings.push(format!(
                "ResourceQuota {quota}: the driver and {n} executors need {key} {}, more than its {}: at most {} executors can run at once",
                show(all),
                show(self.hard),
                fitting(self.hard)
            ));
        } else if all > self.free {
            findings.warnings.push(format!(
                "ResourceQuota {quota}: the driver and {n} executors need {key} {}, and {} is free now: {} executors start, the others wait for quota",
                show(all),
                show(self.free),
                fitting(self.free)
            ));
        }
    }
}
