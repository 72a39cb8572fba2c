//! Which EMR virtual cluster a SparkJobRun may run in, decided from the VirtualCluster object it
//! names (or its raw id): the rules that keep one team's job out of another team's namespace and
//! roles.

use emr_api::condition;
use emr_api::spark_job_run::reasons;
use emr_api::virtual_cluster::condition_types as vc_conditions;
use emr_api::{SparkJobRunSpec, VirtualCluster};

/// The verdict on a job's virtual cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resolution {
    /// Submit to this EMR virtual cluster.
    Ready { virtual_cluster_id: String },
    /// Not yet: the VirtualCluster is still converging; its next change brings the job back.
    Waiting {
        reason: &'static str,
        message: String,
    },
    /// Never as the objects stand: the user must change the job or the VirtualCluster.
    Refused {
        reason: &'static str,
        message: String,
    },
}

/// Resolves the job's virtual cluster. `found` is the VirtualCluster named by
/// `spec.virtualCluster.name`, when it exists.
pub fn resolve(
    spec: &SparkJobRunSpec,
    namespace: &str,
    allow_raw_ids: bool,
    found: Option<&VirtualCluster>,
) -> Resolution {
    if let Some(id) = &spec.virtual_cluster.id {
        return if allow_raw_ids {
            Resolution::Ready {
                virtual_cluster_id: id.clone(),
            }
        } else {
            Resolution::Refused {
                reason: reasons::RAW_VIRTUAL_CLUSTER_ID_NOT_ALLOWED,
                message: format!(
                    "spec.virtualCluster.id {id} names a raw EMR virtual cluster, which this operator \
                     does not allow; name a VirtualCluster instead"
                ),
            }
        };
    }
    let name = spec.virtual_cluster.name.as_deref().unwrap_or_default();
    let Some(vc) = found else {
        return Resolution::Refused {
            reason: reasons::VIRTUAL_CLUSTER_NOT_FOUND,
            message: format!("VirtualCluster {name} not found"),
        };
    };
    let vc_namespace = &vc.spec.namespace.name;
    if vc_namespace != namespace {
        return Resolution::Refused {
            reason: reasons::VIRTUAL_CLUSTER_IN_OTHER_NAMESPACE,
            message: format!(
                "VirtualCluster {name} runs jobs in namespace {vc_namespace}, not {namespace}"
            ),
        };
    }
    // Without a role of its own (spec.jobTemplateRef) the template's role is checked at start.
    if let Some(role) = &spec.execution_role_arn
        && !vc.allows_execution_role(role)
    {
        return Resolution::Refused {
            reason: reasons::EXECUTION_ROLE_NOT_ALLOWED,
            message: format!(
                "execution role {role} is not one of VirtualCluster {name}'s executionRoles"
            ),
        };
    }
    if vc.metadata.deletion_timestamp.is_some() {
        return Resolution::Waiting {
            reason: reasons::VIRTUAL_CLUSTER_NOT_READY,
            message: format!("VirtualCluster {name} is being deleted"),
        };
    }
    let status = vc.status.as_ref();
    let ready = status.is_some_and(|s| condition::is_true(&s.conditions, vc_conditions::READY));
    match status.and_then(|s| s.virtual_cluster_id.clone()) {
        Some(virtual_cluster_id) if ready => Resolution::Ready { virtual_cluster_id },
        _ => {
            let detail = status
                .and_then(|s| s.message.as_deref())
                .map(|m| format!(" ({m})"))
                .unwrap_or_default();
            Resolution::Waiting {
                reason: reasons::VIRTUAL_CLUSTER_NOT_READY,
                message: format!("waiting for VirtualCluster {name} to become Ready{detail}"),
            }
        }
    }
}

/// The EMR virtual cluster the spec names, whatever its readiness or roles: the only one this
/// object's job runs may be in (see [`super::ownership`]). `None` when the spec names none the
/// operator may use (a missing VirtualCluster, one of another namespace, a forbidden raw id).
pub fn owned_virtual_cluster_id(
    spec: &SparkJobRunSpec,
    namespace: &str,
    allow_raw_ids: bool,
    found: Option<&VirtualCluster>,
) -> Option<String> {
    if let Some(id) = &spec.virtual_cluster.id {
        return allow_raw_ids.then(|| id.clone());
    }
    let vc = found?;
    if vc.spec.namespace.name != namespace {
        return None;
    }
    vc.status.as_ref()?.virtual_cluster_id.clone()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use emr_api::{Condition, ConditionStatus, VirtualClusterStatus};

    use super::*;

    const ROLE: &str = "arn:aws:iam::123456789012:role/emr-job-role";

    fn spec(vc: &str) -> SparkJobRunSpec {
        serde_saphyr::from_str(&format!(
            r#"
virtualCluster: {vc}
executionRoleArn: {ROLE}
releaseLabel: emr-7.2.0-latest
jobDriver: {{sparkSubmitJobDriver: {{entryPoint: "local:///x.py"}}}}
"#
        ))
        .unwrap()
    }

    fn vc(ready: bool) -> VirtualCluster {
        let mut vc = VirtualCluster::new(
            "analytics",
            serde_saphyr::from_str(&format!(
                "{{eksClusterName: c, namespace: {{name: team-a}}, executionRoles: [{{arn: {ROLE}}}]}}"
            ))
            .unwrap(),
        );
        vc.status = Some(VirtualClusterStatus {
            virtual_cluster_id: Some("vc123".into()),
            conditions: vec![Condition::new(
                "Ready",
                if ready {
                    ConditionStatus::True
                } else {
                    ConditionStatus::False
                },
                "R",
                "m",
                None,
            )],
            message: Some("creating the EMR virtual cluster".into()),
            ..Default::default()
        });
        vc
    }

    #[test]
    fn a_ready_virtual_cluster_in_the_same_namespace() {
        assert_eq!(
            resolve(&spec("{name: analytics}"), "team-a", false, Some(&vc(true))),
            Resolution::Ready {
                virtual_cluster_id: "vc123".into()
            }
        );
    }

    #[test]
    fn not_ready_waits_with_its_message() {
        let r = resolve(
            &spec("{name: analytics}"),
            "team-a",
            false,
            Some(&vc(false)),
        );
        let Resolution::Waiting { reason, message } = r else {
            panic!("{r:?}")
        };
        assert_eq!(reason, reasons::VIRTUAL_CLUSTER_NOT_READY);
        assert!(
            message.contains("creating the EMR virtual cluster"),
            "{message}"
        );
    }

    #[test]
    fn ready_without_an_id_still_waits() {
        let mut v = vc(true);
        if let Some(s) = v.status.as_mut() {
            s.virtual_cluster_id = None;
        }
        assert!(matches!(
            resolve(&spec("{name: analytics}"), "team-a", false, Some(&v)),
            Resolution::Waiting { .. }
        ));
    }

    #[test]
    fn a_deleting_virtual_cluster_waits() {
        let mut v = vc(true);
        v.metadata.deletion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            k8s_openapi::jiff::Timestamp::now(),
        ));
        assert!(matches!(
            resolve(&spec("{name: analytics}"), "team-a", false, Some(&v)),
            Resolution::Waiting { .. }
        ));
    }

    fn refused(r: Resolution) -> &'static str {
        match r {
            Resolution::Refused { reason, .. } => reason,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn refusals_name_the_reason() {
        assert_eq!(
            refused(resolve(&spec("{name: analytics}"), "team-a", false, None)),
            reasons::VIRTUAL_CLUSTER_NOT_FOUND
        );
        assert_eq!(
            refused(resolve(
                &spec("{name: analytics}"),
                "team-b",
                false,
                Some(&vc(true))
            )),
            reasons::VIRTUAL_CLUSTER_IN_OTHER_NAMESPACE
        );
        let mut other_role = spec("{name: analytics}");
        other_role.execution_role_arn = Some("arn:aws:iam::123456789012:role/other".into());
        assert_eq!(
            refused(resolve(&other_role, "team-a", false, Some(&vc(true)))),
            reasons::EXECUTION_ROLE_NOT_ALLOWED
        );
        assert_eq!(
            refused(resolve(&spec("{id: abc}"), "team-a", false, None)),
            reasons::RAW_VIRTUAL_CLUSTER_ID_NOT_ALLOWED
        );
    }

    #[test]
    fn the_owned_virtual_cluster_ignores_readiness_but_not_the_namespace() {
        let mut deleting = vc(false);
        deleting.metadata.deletion_timestamp =
            Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                k8s_openapi::jiff::Timestamp::now(),
            ));
        let named = spec("{name: analytics}");
        assert_eq!(
            owned_virtual_cluster_id(&named, "team-a", false, Some(&deleting)),
            Some("vc123".into())
        );
        assert_eq!(
            owned_virtual_cluster_id(&named, "team-b", false, Some(&deleting)),
            None
        );
        assert_eq!(
            owned_virtual_cluster_id(&named, "team-a", false, None),
            None
        );
        assert_eq!(
            owned_virtual_cluster_id(&spec("{id: abc}"), "team-a", false, None),
            None
        );
        assert_eq!(
            owned_virtual_cluster_id(&spec("{id: abc}"), "team-a", true, None),
            Some("abc".into())
        );
    }

    #[test]
    fn raw_ids_when_allowed() {
        assert_eq!(
            resolve(&spec("{id: abc}"), "team-a", true, None),
            Resolution::Ready {
                virtual_cluster_id: "abc".into()
            }
        );
    }
}
