//! Step 4: IRSA service accounts, annotated with their role, and each role trusting exactly its
//! service account.

use k8s_openapi::api::core::v1::ServiceAccount;
use kube::ResourceExt;
use kube::api::Api;

use super::plan;
use crate::virtual_cluster::children::{self, report};
use crate::virtual_cluster::error::Error;
use crate::virtual_cluster::outcome::Outcome;
use crate::virtual_cluster::reconciliation::Reconciliation;
use crate::virtual_cluster::steps::cluster_facts::ClusterFacts;
use crate::virtual_cluster::steps::trust;
use crate::virtual_cluster::steps::trust::plan::Family;

pub async fn converge(
    recon: &mut Reconciliation<'_>,
    facts: &Result<ClusterFacts, Outcome>,
) -> Outcome {
    if let Err(e) = service_accounts(recon).await {
        return e.outcome();
    }
    let trust = trust::converge(recon, facts, Family::ServiceAccounts).await;
    if !trust.is_ready() {
        return trust;
    }
    let count = recon.vc.spec.service_accounts.len();
    Outcome::ready(
        "ServiceAccountsReady",
        format!(
            "{count} IRSA service account(s) in namespace {} annotated with their role; {}",
            recon.namespace(),
            trust.message
        ),
    )
}

async fn service_accounts(recon: &mut Reconciliation<'_>) -> Result<(), Error> {
    let ns = recon.namespace().to_owned();
    let api: Api<ServiceAccount> = Api::namespaced(recon.client(), &ns);
    for sa in recon.vc.spec.service_accounts.clone() {
        let wanted = plan::service_account(&recon.owner, &ns, &sa);
        let applied = children::apply::apply(&api, &wanted)
            .await
            .map_err(|source| Error::ApplyChild {
                kind: "ServiceAccount",
                namespace: ns.clone(),
                name: sa.name.clone(),
                source,
            })?;
        report(recon, "ServiceAccount", &ns, &sa.name, applied);
    }
    let ours = children::apply::list_ours(&api, &recon.owner.name)
        .await
        .map_err(|source| Error::ListChildren {
            kind: "ServiceAccount",
            namespace: ns.clone(),
            source,
        })?;
    for stale in ours {
        let name = stale.name_any();
        if recon
            .vc
            .spec
            .service_accounts
            .iter()
            .any(|sa| sa.name == name)
        {
            continue;
        }
        if children::apply::delete(&api, &name)
            .await
            .map_err(|source| Error::DeleteChild {
                kind: "ServiceAccount",
                namespace: ns.clone(),
                name: name.clone(),
                source,
            })?
        {
            recon.changed(
                "ServiceAccountDeleted",
                format!("deleted ServiceAccount {ns}/{name}"),
            );
        }
    }
    Ok(())
}
