//! Step 4: IRSA service accounts, annotated with their role, and each role trusting exactly its
//! service account.

use k8s_openapi::api::core::v1::ServiceAccount;
use kube::ResourceExt;
use kube::api::Api;

use super::cluster::ClusterFacts;
use super::desired;
use super::error::Error;
use super::kube_io;
use super::namespace_step::report;
use super::outcome::Outcome;
use super::pass::Pass;
use super::trust::Family;
use super::trust_step;

pub async fn converge(pass: &mut Pass<'_>, facts: &Result<ClusterFacts, Outcome>) -> Outcome {
    if let Err(e) = service_accounts(pass).await {
        return e.outcome();
    }
    let trust = trust_step::converge(pass, facts, Family::ServiceAccounts).await;
    if !trust.is_ready() {
        return trust;
    }
    let count = pass.vc.spec.service_accounts.len();
    Outcome::ready(
        "ServiceAccountsReady",
        format!(
            "{count} IRSA service account(s) in namespace {} annotated with their role; {}",
            pass.namespace(),
            trust.message
        ),
    )
}

async fn service_accounts(pass: &mut Pass<'_>) -> Result<(), Error> {
    let ns = pass.namespace().to_owned();
    let api: Api<ServiceAccount> = Api::namespaced(pass.client(), &ns);
    for sa in pass.vc.spec.service_accounts.clone() {
        let wanted = desired::service_account(&pass.owner, &ns, &sa);
        let applied = kube_io::apply(&api, &wanted)
            .await
            .map_err(|source| Error::ApplyChild {
                kind: "ServiceAccount",
                namespace: ns.clone(),
                name: sa.name.clone(),
                source,
            })?;
        report(pass, "ServiceAccount", &ns, &sa.name, applied);
    }
    let ours = kube_io::list_ours(&api, &pass.owner.name)
        .await
        .map_err(|source| Error::ListChildren {
            kind: "ServiceAccount",
            namespace: ns.clone(),
            source,
        })?;
    for stale in ours {
        let name = stale.name_any();
        if pass
            .vc
            .spec
            .service_accounts
            .iter()
            .any(|sa| sa.name == name)
        {
            continue;
        }
        if kube_io::delete(&api, &name)
            .await
            .map_err(|source| Error::DeleteChild {
                kind: "ServiceAccount",
                namespace: ns.clone(),
                name: name.clone(),
                source,
            })?
        {
            pass.changed(
                "ServiceAccountDeleted",
                format!("deleted ServiceAccount {ns}/{name}"),
            );
        }
    }
    Ok(())
}
