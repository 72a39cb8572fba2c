//! What an inline pod template (the job's own or its VirtualCluster's default) changes in the
//! resources of a Spark pod, as Spark builds the pod from it:
//!
//! - Spark's container is the one named by `spark.kubernetes.{driver,executor}.podTemplateContainerName`
//!   (EMR's templates name it `spark-kubernetes-driver`/`-executor`), else the first one. Spark
//!   overwrites its CPU request and its memory, but keeps the template's CPU limit when
//!   `limit.cores` is not set;
//! - every other container and init container is admitted as written, and counts in the pod's
//!   totals (the quota's and a `Pod` LimitRange item's).
//!
//! Read from the template as written (JSON), not the typed parse, which needs a thread of its
//! own (see `pod_templates`). A quantity that cannot be read is left out: the preflight then
//! passes what Kubernetes may still refuse, never refuses what it would admit.

use emr_api::pod_template::PodRole;
use serde_json::Value;

use super::limit_range::{Bounds, Resource};
use super::pods::{Role, Sourced};
use super::spark_conf::SparkConf;
use crate::spark_job_run::pod_templates::Chosen;

/// A container of the template other than Spark's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extra {
    /// Where it is written, for messages: `spec.podTemplates.executor.spec.containers[1] (sidecar)`.
    pub field: String,
    /// An init container: it runs before the others, so the pod needs the larger of it and the
    /// sum of the others.
    pub init: bool,
    pub cpu: Bounds,
    pub memory: Bounds,
}

impl Extra {
    pub fn of(&self, resource: Resource) -> &Bounds {
        match resource {
            Resource::Cpu => &self.cpu,
            Resource::Memory => &self.memory,
        }
    }
}

/// What one role's template adds to the pod Spark asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TemplatePod {
    /// The CPU limit the template gives Spark's container (kept when `limit.cores` is unset).
    pub spark_cpu_limit: Option<Sourced>,
    pub extras: Vec<Extra>,
}

/// The template of `role` among `chosen`, read.
pub fn read(chosen: &[Chosen<'_>], role: Role, conf: &SparkConf) -> TemplatePod {
    let wanted = match role {
        Role::Driver => PodRole::Driver,
        Role::Executor => PodRole::Executor,
    };
    let Some(template) = chosen.iter().find(|c| c.role == wanted) else {
        return TemplatePod::default();
    };
    let field = template.field();
    let spec = &template.template.0["spec"];
    let name_key = format!(
        "spark.kubernetes.{}.podTemplateContainerName",
        role.as_str()
    );
    let spark_name = conf
        .get(&name_key)
        .map(str::to_owned)
        .unwrap_or_else(|| format!("spark-kubernetes-{}", role.as_str()));
    let containers: &[Value] = spec["containers"].as_array().map_or(&[], Vec::as_slice);
    let spark_index = containers
        .iter()
        .position(|c| c["name"].as_str() == Some(spark_name.as_str()))
        .or(if containers.is_empty() { None } else { Some(0) });

    let mut pod = TemplatePod::default();
    for (i, container) in containers.iter().enumerate() {
        let at = format!("{field}.spec.containers[{i}]");
        if Some(i) == spark_index {
            pod.spark_cpu_limit = quantity(container, "limits", Resource::Cpu, &at);
        } else {
            pod.extras.push(extra(container, at, false));
        }
    }
    let inits: &[Value] = spec["initContainers"].as_array().map_or(&[], Vec::as_slice);
    for (i, container) in inits.iter().enumerate() {
        pod.extras.push(extra(
            container,
            format!("{field}.spec.initContainers[{i}]"),
            true,
        ));
    }
    pod
}

fn extra(container: &Value, at: String, init: bool) -> Extra {
    // A limit without a request is also the request: the apiserver's Pod defaulting, before
    // any LimitRange default.
    let bounds = |resource| {
        let limit = quantity(container, "limits", resource, &at);
        Bounds {
            request: quantity(container, "requests", resource, &at).or_else(|| limit.clone()),
            limit,
        }
    };
    let (cpu, memory) = (bounds(Resource::Cpu), bounds(Resource::Memory));
    let field = match container["name"].as_str() {
        Some(name) => format!("{at} ({name})"),
        None => at,
    };
    Extra {
        field,
        init,
        cpu,
        memory,
    }
}

/// `resources.<kind>.<resource>` of a container: a string or a number, as a quantity may be.
fn quantity(container: &Value, kind: &str, resource: Resource, at: &str) -> Option<Sourced> {
    let value = &container["resources"][kind][resource.name()];
    let text = match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    let amount = resource.read(&k8s_openapi::apimachinery::pkg::api::resource::Quantity(
        text.clone(),
    ))?;
    Some(Sourced {
        amount,
        source: format!("{at}.resources.{kind}.{}={text}", resource.name()),
    })
}
