//! `spec.securityConfiguration`: the SecurityConfiguration's current EMR security
//! configuration, proved to be that object's by its own tags (a status can be forged), for
//! CreateVirtualCluster; and what to say when an existing virtual cluster was created with
//! another one (EMR cannot change it in place).

use emr_api::SecurityConfiguration;
use emr_api::labels::TAG_UID;
use kube::ResourceExt;
use kube::api::Api;

use crate::kit::Event;
use crate::virtual_cluster::error::aws_outcome;
use crate::virtual_cluster::outcome::Outcome;
use crate::virtual_cluster::reconciliation::{ACTION, Reconciliation};

/// The reason when the virtual cluster's security configuration is not the one the spec names.
pub const CHANGE_REQUIRES_RECREATE: &str = "SecurityConfigurationChangeRequiresRecreate";

/// The security configuration id a new virtual cluster gets: spec.securityConfigurationId, or
/// the current one of spec.securityConfiguration's object; `Err` says why there is none yet.
pub async fn resolve(recon: &Reconciliation<'_>) -> Result<Option<String>, Outcome> {
    let Some(reference) = &recon.vc.spec.security_configuration else {
        return Ok(recon.vc.spec.security_configuration_id.clone());
    };
    let name = &reference.name;
    let api: Api<SecurityConfiguration> = Api::all(recon.client());
    let object = match api.get_opt(name).await {
        Ok(Some(object)) => object,
        Ok(None) => {
            // Often applied together with the VirtualCluster: looked at again soon.
            return Err(Outcome::waiting(
                "SecurityConfigurationNotFound",
                format!(
                    "SecurityConfiguration {name} (spec.securityConfiguration.name) does not exist"
                ),
            ));
        }
        Err(error) => {
            return Err(Outcome::failed(
                "SecurityConfigurationUnreadable",
                format!("reading SecurityConfiguration {name}: {error}"),
            ));
        }
    };
    let not_ready = |why: String| {
        Outcome::waiting(
            "SecurityConfigurationNotReady",
            format!(
                "SecurityConfiguration {name}: {why}; the virtual cluster is created once it is ready"
            ),
        )
    };
    let Some(id) = object
        .status
        .as_ref()
        .and_then(|s| s.security_configuration_id.clone())
    else {
        return Err(not_ready("no EMR security configuration yet".into()));
    };
    match recon.ctx.aws.emr.describe_security_configuration(&id).await {
        Ok(found) if found.tags.get(TAG_UID) == object.uid().as_ref() => Ok(Some(id)),
        Ok(_) => Err(not_ready(format!(
            "its status names EMR security configuration {id}, which is not that object's"
        ))),
        Err(error) if error.is_not_found() => Err(not_ready(format!("{id} no longer exists"))),
        Err(error) => Err(aws_outcome(&error)),
    }
}

/// When the existing virtual cluster's security configuration (`actual`, as EMR describes it)
/// is not the one the spec asks for: the outcome to report instead of `ready`, and a Warning.
pub async fn change_report(
    recon: &mut Reconciliation<'_>,
    actual: Option<&str>,
    ready: Outcome,
) -> Outcome {
    let Ok(wanted) = resolve(recon).await else {
        return ready;
    };
    match change_message(wanted.as_deref(), actual) {
        None => ready,
        Some(message) => {
            recon.changes.push(Event::warning(
                CHANGE_REQUIRES_RECREATE,
                ACTION,
                message.clone(),
            ));
            Outcome {
                reason: CHANGE_REQUIRES_RECREATE.into(),
                message,
                ..ready
            }
        }
    }
}

/// What to say when `wanted` (the spec's) differs from `actual` (the virtual cluster's). Pure.
pub fn change_message(wanted: Option<&str>, actual: Option<&str>) -> Option<String> {
    (wanted != actual).then(|| {
        format!(
            "the EMR virtual cluster was created with security configuration {}, the spec asks for {}: EMR cannot change it in place; delete and recreate the VirtualCluster to apply it",
            actual.unwrap_or("(none)"),
            wanted.unwrap_or("(none)")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_difference_is_reported() {
        assert_eq!(change_message(Some("a"), Some("a")), None);
        assert_eq!(change_message(None, None), None);
        let changed = change_message(Some("b"), Some("a")).unwrap();
        assert!(
            changed.contains("created with security configuration a"),
            "{changed}"
        );
        assert!(changed.contains("asks for b"), "{changed}");
        assert!(change_message(Some("b"), None).is_some());
        assert!(change_message(None, Some("a")).is_some());
    }
}
