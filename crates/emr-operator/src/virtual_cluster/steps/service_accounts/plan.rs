//! What the service-accounts step should write: each IRSA service account, annotated with its
//! role. Pure. (The roles' trust is the trust step's, with [`Family::ServiceAccounts`].)
//!
//! [`Family::ServiceAccounts`]: crate::virtual_cluster::steps::trust::plan::Family::ServiceAccounts

use emr_api::virtual_cluster::IrsaServiceAccount;
use k8s_openapi::api::core::v1::ServiceAccount;

use crate::virtual_cluster::children::{Owner, child_meta};
use crate::virtual_cluster::names::IRSA_ROLE_ANNOTATION;

pub fn service_account(owner: &Owner, namespace: &str, sa: &IrsaServiceAccount) -> ServiceAccount {
    let mut metadata = child_meta(owner, namespace, &sa.name);
    if let Some(annotations) = metadata.annotations.as_mut() {
        annotations.insert(IRSA_ROLE_ANNOTATION.to_owned(), sa.role_arn.clone());
    }
    ServiceAccount {
        metadata,
        ..ServiceAccount::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use emr_api::labels::{ARGOCD_COMPARE_OPTIONS_ANNOTATION, ARGOCD_IGNORE_EXTRANEOUS};

    #[test]
    fn service_account_is_annotated_with_its_role() {
        let sa = IrsaServiceAccount {
            name: "submitter".into(),
            role_arn: "arn:aws:iam::123456789012:role/submit".into(),
            manage_trust_policy: true,
        };
        let sa = service_account(&Owner::team_a(), "spark-a", &sa);
        let annotations = sa.metadata.annotations.unwrap();
        assert_eq!(
            annotations[IRSA_ROLE_ANNOTATION],
            "arn:aws:iam::123456789012:role/submit"
        );
        assert_eq!(
            annotations[ARGOCD_COMPARE_OPTIONS_ANNOTATION],
            ARGOCD_IGNORE_EXTRANEOUS
        );
    }
}
