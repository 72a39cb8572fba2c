//! What the CRD schema cannot judge about a pod template, checked before any AWS call: that it
//! reads as a typed `PodTemplateSpec`, that it is small, and that its namespace (if it names
//! one) is the job's. The PriorityClass it names is looked up by the caller (an apiserver read).

use std::io::Write;

use k8s_openapi::api::core::v1::PodTemplateSpec;

use super::select::Chosen;

/// The largest template accepted, as JSON and as the YAML uploaded: Spark's templates are a
/// few kilobytes; a tenant's template must not make the operator hold or upload megabytes.
pub const MAX_TEMPLATE_BYTES: usize = 64 * 1024;

/// Why a template cannot be used, naming the field.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct Invalid {
    pub field: String,
    pub message: String,
}

/// The template as a typed `PodTemplateSpec`, checked against the job's namespace.
pub fn parse(chosen: &Chosen<'_>, job_namespace: &str) -> Result<PodTemplateSpec, Invalid> {
    let field = chosen.field();
    let size = json_size(&chosen.template.0);
    if size > MAX_TEMPLATE_BYTES {
        return Err(too_large(field, size));
    }
    let template = chosen.template.parse().map_err(|e| Invalid {
        field: if e.field.is_empty() {
            field.clone()
        } else {
            format!("{field}.{}", e.field)
        },
        message: e.message,
    })?;
    if let Some(namespace) = template
        .metadata
        .as_ref()
        .and_then(|m| m.namespace.as_deref())
        && namespace != job_namespace
    {
        return Err(Invalid {
            field: format!("{field}.metadata.namespace"),
            message: format!(
                "{namespace} is not the job's namespace {job_namespace} (leave it out: the pods run in the job's)"
            ),
        });
    }
    Ok(template)
}

/// The refusal of a template (or its rendering) of `size` bytes.
pub fn too_large(field: String, size: usize) -> Invalid {
    Invalid {
        field,
        message: format!(
            "is {size} bytes; a pod template may have at most {MAX_TEMPLATE_BYTES} bytes ({} KiB)",
            MAX_TEMPLATE_BYTES / 1024
        ),
    }
}

/// The PriorityClass the template names, if any.
pub fn priority_class(template: &PodTemplateSpec) -> Option<&str> {
    template
        .spec
        .as_ref()
        .and_then(|s| s.priority_class_name.as_deref())
        .filter(|name| !name.is_empty())
}

/// The length of the value's JSON, without building it.
fn json_size(value: &serde_json::Value) -> usize {
    struct Count(usize);
    impl Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 = self.0.saturating_add(buf.len());
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    // Writing a Value to a counter cannot fail; a failure would only undercount.
    let _ = serde_json::to_writer(&mut count, value);
    count.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spark_job_run::pod_templates::select::Origin;
    use emr_api::pod_template::{PodRole, PodTemplate};
    use serde_json::json;

    fn chosen(template: &PodTemplate) -> Chosen<'_> {
        Chosen {
            role: PodRole::Executor,
            template,
            origin: Origin::Job,
        }
    }

    #[test]
    fn a_good_template_parses_with_its_priority_class() {
        let t = PodTemplate(json!({
            "metadata": {"labels": {"team": "a"}, "namespace": "ns"},
            "spec": {"priorityClassName": "low", "nodeSelector": {"k": "v"},
                     "containers": [{"name": "spark-kubernetes-executor"}]}
        }));
        let parsed = parse(&chosen(&t), "ns").unwrap();
        assert_eq!(priority_class(&parsed), Some("low"));
    }

    #[test]
    fn a_value_the_typed_struct_refuses_names_its_field() {
        let t = PodTemplate(json!({"spec": {"containers": [
            {"name": "a"},
            {"name": "b", "ports": [{"containerPort": 99999999999i64}]}
        ]}}));
        let err = parse(&chosen(&t), "ns").unwrap_err();
        assert_eq!(
            err.field,
            "spec.podTemplates.executor.spec.containers[1].ports"
        );
    }

    #[test]
    fn another_namespace_is_refused() {
        let t = PodTemplate(json!({"metadata": {"namespace": "other"}}));
        let err = parse(&chosen(&t), "ns").unwrap_err();
        assert_eq!(err.field, "spec.podTemplates.executor.metadata.namespace");
        assert!(err.message.contains("other"), "{err}");
    }

    #[test]
    fn fields_a_pod_template_cannot_carry_are_refused() {
        let t = PodTemplate(json!({"metadata": {"name": "x"}}));
        let err = parse(&chosen(&t), "ns").unwrap_err();
        assert_eq!(err.field, "spec.podTemplates.executor.metadata.name");
    }

    #[test]
    fn a_huge_template_is_refused_naming_the_limit() {
        let big = "x".repeat(MAX_TEMPLATE_BYTES);
        let t = PodTemplate(json!({"metadata": {"annotations": {"a": big}}}));
        let err = parse(&chosen(&t), "ns").unwrap_err();
        assert_eq!(err.field, "spec.podTemplates.executor");
        assert!(err.message.contains("65536"), "{err}");
    }
}
