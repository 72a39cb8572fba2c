//! The preflight: before StartJobRun, what the job's driver and executor pods will request and
//! be limited to (from its Spark properties, as EMR and Spark resolve them), checked against
//! the namespace's LimitRanges and ResourceQuotas. A job whose pods Kubernetes would refuse
//! fails at once, naming the property, its value and the limit, instead of minutes later in
//! EMR; a job whose driver does not fit in the quota the active runs leave waits; executors
//! that do not all fit are a warning.
//!
//! Pure: [`check`] takes the spec and the namespace's objects. [`cache`] keeps those objects
//! (a reflector per kind, cluster-wide read-only use of the rights the operator already has).
//!
//! - [`spark_conf`]: the properties as EMR resolves them (spark-defaults, then spark-submit);
//! - [`pods`]: the containers Spark asks for (the Spark defaults assumed are listed there);
//! - [`limit_range`]: LimitRange defaulting and checks; [`quota`]: ResourceQuota checks;
//! - [`quantity`]: Kubernetes quantities and Spark sizes, with checked arithmetic.
//!
//! Not checked: a job started from a job template (its properties are EMR's to merge), and
//! what the operator cannot see (the EMR image's own spark-defaults, `--properties-file`, the
//! job-runner pod EMR starts first, sidecars and resources from pod templates).

pub mod cache;
pub mod limit_range;
pub mod pods;
pub mod quantity;
pub mod quota;
pub mod spark_conf;
#[cfg(test)]
mod tests;

use emr_api::SparkJobRunSpec;
use k8s_openapi::api::core::v1::{LimitRange, ResourceQuota};

use spark_conf::SparkConf;

/// The namespace's rules, as cached.
#[derive(Debug, Clone, Default)]
pub struct NamespaceRules {
    pub limit_ranges: Vec<LimitRange>,
    pub quotas: Vec<ResourceQuota>,
}

impl NamespaceRules {
    pub fn is_empty(&self) -> bool {
        self.limit_ranges.is_empty() && self.quotas.is_empty()
    }
}

/// What the preflight concludes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The pods fit; the warnings say what does not fit entirely (executors beyond the quota).
    Fits { warnings: Vec<String> },
    /// Kubernetes would refuse the pods whatever runs beside them: the job cannot start as
    /// written. One line per broken rule.
    Exceeds(Vec<String>),
    /// A property the preflight must read is one Spark itself would refuse.
    BadProperty(String),
    /// The driver does not fit in what the quota leaves free now.
    WaitForQuota(Vec<String>),
}

/// Checks a job's pods against its namespace's rules.
pub fn check(spec: &SparkJobRunSpec, rules: &NamespaceRules) -> Verdict {
    // A template's properties merge with the spec's in EMR: checking only half would refuse
    // or pass the wrong job.
    if spec.job_template_id.is_some() || spec.job_template_ref.is_some() || rules.is_empty() {
        return Verdict::Fits {
            warnings: Vec::new(),
        };
    }
    let shape = match pods::shape(&SparkConf::of(spec)) {
        Ok(shape) => shape,
        Err(bad) => return Verdict::BadProperty(bad.to_string()),
    };
    let (driver, mut problems) = limit_range::admit(&shape.driver, &rules.limit_ranges);
    let (executor, executor_problems) = limit_range::admit(&shape.executor, &rules.limit_ranges);
    if shape.executors.initial > 0 || shape.executors.most != Some(0) {
        problems.extend(executor_problems);
    }
    let findings = quota::check(&driver, &executor, shape.executors, &rules.quotas);
    problems.extend(findings.refusals);
    if !problems.is_empty() {
        return Verdict::Exceeds(problems);
    }
    if !findings.waits.is_empty() {
        return Verdict::WaitForQuota(findings.waits);
    }
    Verdict::Fits {
        warnings: findings.warnings,
    }
}
