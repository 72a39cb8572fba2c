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
//! - [`quantity`]: Kubernetes quantities and Spark sizes, with checked arithmetic;
//! - [`template`]: what an inline pod template adds (Spark's container's CPU limit, the other
//!   containers and init containers).
//!
//! Not checked: a job started from a job template (its properties are EMR's to merge), and
//! what the operator cannot see (the EMR image's own spark-defaults, `--properties-file`, the
//! job-runner pod EMR starts first, pod templates named by S3 path).

pub mod cache;
pub mod limit_range;
pub mod pods;
pub mod quantity;
pub mod quota;
pub mod spark_conf;
pub mod template;
#[cfg(test)]
mod tests;

use emr_api::SparkJobRunSpec;
use k8s_openapi::api::core::v1::{LimitRange, ResourceQuota};

use crate::spark_job_run::pod_templates::Chosen;
use pods::Role;
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

/// Checks a job's pods, with the inline pod templates chosen for it, against its namespace's
/// rules.
pub fn check(spec: &SparkJobRunSpec, templates: &[Chosen<'_>], rules: &NamespaceRules) -> Verdict {
    // A template's properties merge with the spec's in EMR: checking only half would refuse
    // or pass the wrong job.
    if spec.job_template_id.is_some() || spec.job_template_ref.is_some() || rules.is_empty() {
        return Verdict::Fits {
            warnings: Vec::new(),
        };
    }
    let conf = SparkConf::of(spec);
    let mut shape = match pods::shape(&conf) {
        Ok(shape) => shape,
        Err(bad) => return Verdict::BadProperty(bad.to_string()),
    };
    let driver_template = template::read(templates, Role::Driver, &conf);
    let executor_template = template::read(templates, Role::Executor, &conf);
    // Spark keeps the template's CPU limit when no limit.cores is set.
    if shape.driver.cpu_limit.is_none() {
        shape.driver.cpu_limit = driver_template.spark_cpu_limit.clone();
    }
    if shape.executor.cpu_limit.is_none() {
        shape.executor.cpu_limit = executor_template.spark_cpu_limit.clone();
    }
    let (driver, mut problems) =
        limit_range::admit_pod(&shape.driver, &driver_template, &rules.limit_ranges);
    let (executor, executor_problems) =
        limit_range::admit_pod(&shape.executor, &executor_template, &rules.limit_ranges);
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
