//! What a pass whose status write was refused (409) had recorded, carried into the pass redone on
//! the fresh copy. The redone pass finds most things in place and records them again (a trust
//! statement found present, an EMR virtual cluster holding the namespace), but not that the
//! operator created the namespace: from the outside a namespace it created looks adopted. Pure.

use emr_api::VirtualClusterStatus;

use crate::virtual_cluster::steps::trust;

/// Adds to `fresh` what `refused` recorded that `fresh` lacks. Records only grow here: one that
/// is no longer true is dropped by the redone pass itself (removing an absent statement is a
/// no-op that forgets it).
pub fn carry(fresh: &mut VirtualClusterStatus, refused: &VirtualClusterStatus) {
    let (into, from) = (&mut fresh.managed, &refused.managed);
    if into.namespace.is_none() {
        into.namespace.clone_from(&from.namespace);
    }
    if into.namespace == from.namespace && from.namespace_created && !into.namespace_created {
        into.namespace_created = true;
        into.namespace_uid.clone_from(&from.namespace_uid);
    }
    into.aws_auth_entry_added |= from.aws_auth_entry_added;
    for reference in &from.trust_statements {
        trust::plan::record(&mut into.trust_statements, reference);
    }
    if fresh.virtual_cluster_id.is_none() {
        fresh
            .virtual_cluster_id
            .clone_from(&refused.virtual_cluster_id);
        fresh.arn.clone_from(&refused.arn);
    }
    fresh.virtual_cluster_creations = fresh
        .virtual_cluster_creations
        .max(refused.virtual_cluster_creations);
    if fresh.account_id.is_none() {
        fresh.account_id.clone_from(&refused.account_id);
    }
    if fresh.oidc_provider.is_none() {
        fresh.oidc_provider.clone_from(&refused.oidc_provider);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use emr_api::virtual_cluster::TrustStatementRef;

    fn reference(role: &str) -> TrustStatementRef {
        TrustStatementRef {
            role_arn: format!("arn:aws:iam::123456789012:role/{role}"),
            service_account: None,
            namespace: Some("spark".into()),
            account_id: Some("123456789012".into()),
            oidc_provider: Some("oidc".into()),
        }
    }

    #[test]
    fn a_refused_pass_keeps_what_only_it_knew() {
        let mut refused = VirtualClusterStatus::default();
        refused.managed.namespace = Some("spark".into());
        refused.managed.namespace_created = true;
        refused.managed.namespace_uid = Some("u1".into());
        refused.managed.trust_statements = vec![reference("a")];
        refused.virtual_cluster_id = Some("vc1".into());
        refused.virtual_cluster_creations = 1;
        let mut fresh = VirtualClusterStatus::default();
        fresh.managed.trust_statements = vec![reference("b")];
        carry(&mut fresh, &refused);
        assert_eq!(fresh.managed.namespace.as_deref(), Some("spark"));
        assert!(fresh.managed.namespace_created);
        assert_eq!(fresh.managed.namespace_uid.as_deref(), Some("u1"));
        assert_eq!(
            fresh.managed.trust_statements,
            vec![reference("a"), reference("b")]
        );
        assert_eq!(fresh.virtual_cluster_id.as_deref(), Some("vc1"));
        assert_eq!(fresh.virtual_cluster_creations, 1);
    }

    #[test]
    fn the_fresh_copy_wins_where_it_knows() {
        let mut refused = VirtualClusterStatus::default();
        refused.managed.namespace = Some("old".into());
        refused.managed.namespace_created = true;
        refused.virtual_cluster_id = Some("stale".into());
        let mut fresh = VirtualClusterStatus::default();
        fresh.managed.namespace = Some("spark".into());
        fresh.virtual_cluster_id = Some("current".into());
        fresh.virtual_cluster_creations = 3;
        carry(&mut fresh, &refused);
        assert_eq!(fresh.managed.namespace.as_deref(), Some("spark"));
        assert!(
            !fresh.managed.namespace_created,
            "a record about another namespace is not carried"
        );
        assert_eq!(fresh.virtual_cluster_id.as_deref(), Some("current"));
        assert_eq!(fresh.virtual_cluster_creations, 3);
    }
}
