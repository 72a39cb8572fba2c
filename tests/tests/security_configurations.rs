//! SecurityConfiguration on the bed: what a new VirtualCluster referencing one passes to
//! CreateVirtualCluster, what an edit of either side does (a new EMR security configuration;
//! the virtual cluster reports that it keeps the old one, which is kept while it is used), a
//! reference to one that does not exist yet, and deletion.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::time::Duration;

use emr_api::condition;
use emr_api::labels::TAG_UID;
use emr_api::{SecurityConfiguration, VirtualCluster};
use emr_operator_tests::{Bed, Operator, TEST_LABEL, bed, wait_for, wait_gone};
use kube::ResourceExt;
use serde_json::{Value, json};

const EKS_CLUSTER: &str = "emrsc-tests";
const PUBLIC: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:emr-tls-public";
const PRIVATE: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:emr-tls-private";

struct Test {
    bed: &'static Bed,
    id: String,
    op: Operator,
}

impl Test {
    async fn start(prefix: &str) -> Test {
        let bed = bed().await;
        let id = bed.unique(prefix);
        let op = bed.start_operator(&id, &[]).await;
        bed.eks_cluster(EKS_CLUSTER).await;
        Test { bed, id, op }
    }

    fn configs(&self) -> kube::Api<SecurityConfiguration> {
        kube::Api::all(self.bed.client.clone())
    }

    fn vcs(&self) -> kube::Api<VirtualCluster> {
        kube::Api::all(self.bed.client.clone())
    }

    async fn apply_config(&self, name: &str, public: &str) -> SecurityConfiguration {
        let manifest = json!({
            "apiVersion": "emr-on-eks.dev/v1alpha1", "kind": "SecurityConfiguration",
            "metadata": {"name": name, "labels": {TEST_LABEL: self.id}},
            "spec": {"securityConfigurationData": {"authorizationConfiguration": {
                "encryptionConfiguration": {"inTransitEncryptionConfiguration": {
                    "tlsCertificateConfiguration": {"certificateProviderType": "PEM",
                        "publicCertificateSecretArn": public,
                        "privateCertificateSecretArn": PRIVATE}}}}},
                "tags": {"team": "secure"}}
        });
        self.bed.apply(&manifest.to_string()).await
    }

    async fn apply_vc(&self, name: &str, namespace: &str, config: &str) {
        let manifest = json!({
            "apiVersion": "emr-on-eks.dev/v1alpha1", "kind": "VirtualCluster",
            "metadata": {"name": name, "labels": {TEST_LABEL: self.id}},
            "spec": {"eksClusterName": EKS_CLUSTER, "namespace": {"name": namespace},
                     "securityConfiguration": {"name": config}}
        });
        self.bed.apply_yaml(&manifest.to_string()).await;
    }

    async fn wait_config(
        &self,
        name: &str,
        what: &str,
        pred: impl Fn(&SecurityConfiguration) -> bool,
    ) -> SecurityConfiguration {
        let found = tokio::time::timeout(
            Duration::from_secs(95),
            wait_for(&self.configs(), name, Duration::from_secs(90), what, pred),
        )
        .await;
        found.unwrap_or_else(|_| panic!("{what}: timed out; log:\n{}", self.op.log_tail(60)))
    }

    /// The EMR virtual cluster as EMR describes it.
    async fn emr_vc(&self, id: &str) -> Value {
        let out = self
            .bed
            .aws
            .emr
            .client()
            .describe_virtual_cluster()
            .id(id)
            .send()
            .await
            .expect("describe virtual cluster");
        let vc = out.virtual_cluster().unwrap();
        json!({"securityConfigurationId": vc.security_configuration_id()})
    }

    async fn emr_has(&self, id: &str) -> bool {
        match self.bed.aws.emr.describe_security_configuration(id).await {
            Ok(found) => {
                assert!(found.tags.contains_key(TAG_UID), "{found:?}");
                true
            }
            Err(e) if e.is_not_found() => false,
            Err(e) => panic!("describe security configuration {id}: {e}"),
        }
    }
}

fn config_id(c: &SecurityConfiguration) -> Option<String> {
    c.status
        .as_ref()
        .and_then(|s| s.security_configuration_id.clone())
}

fn ready(c: &SecurityConfiguration) -> bool {
    c.status.as_ref().is_some_and(|s| {
        condition::is_true(&s.conditions, "Ready") && s.observed_generation == c.metadata.generation
    })
}

fn vc_condition(vc: &VirtualCluster, type_: &str) -> Option<(bool, String)> {
    let status = vc.status.as_ref()?;
    condition::find(&status.conditions, type_).map(|c| (c.is_true(), c.reason.clone()))
}

#[tokio::test]
async fn a_new_virtual_cluster_gets_exactly_the_referenced_security_configuration_and_an_edit_is_reported()
 {
    let t = Test::start("emrsc-vc").await;
    let name = t.bed.unique("tls");
    t.apply_config(&name, PUBLIC).await;
    let config = t
        .wait_config(&name, "a security configuration", ready)
        .await;
    let first = config_id(&config).unwrap();
    assert!(t.emr_has(&first).await);

    let vc_name = t.bed.unique("secure");
    let namespace = t.bed.unique("secure");
    t.apply_vc(&vc_name, &namespace, &name).await;
    let vc = t.bed.virtual_cluster_ready(&vc_name).await;
    let status = vc.status.clone().unwrap();
    assert_eq!(status.security_configuration_id, Some(first.clone()));
    let emr_id = status.virtual_cluster_id.clone().unwrap();
    assert_eq!(
        t.emr_vc(&emr_id).await,
        json!({"securityConfigurationId": first}),
        "CreateVirtualCluster carried exactly the SecurityConfiguration's EMR id"
    );

    // An edit: a new EMR security configuration; the old one stays (the virtual cluster uses
    // it) and the VirtualCluster says it cannot follow.
    let rotated = "arn:aws:secretsmanager:us-east-1:123456789012:secret:emr-tls-public-2026";
    t.apply_config(&name, rotated).await;
    let replaced = t
        .wait_config(&name, "a replacement", |c| {
            ready(c) && config_id(c).is_some_and(|id| id != first)
        })
        .await;
    let second = config_id(&replaced).unwrap();
    let previous: Vec<String> = replaced
        .status
        .as_ref()
        .unwrap()
        .previous
        .iter()
        .map(|p| p.id.clone())
        .collect();
    assert_eq!(previous, vec![first.clone()]);
    let reported = wait_for(
        &t.vcs(),
        &vc_name,
        Duration::from_secs(90),
        "the change reported",
        |vc| {
            vc_condition(vc, "VirtualClusterReady")
                .is_some_and(|(_, reason)| reason == "SecurityConfigurationChangeRequiresRecreate")
        },
    )
    .await;
    let message = condition::find(
        &reported.status.as_ref().unwrap().conditions,
        "VirtualClusterReady",
    )
    .unwrap()
    .message
    .clone();
    assert!(
        message.contains(&first) && message.contains(&second),
        "{message}"
    );
    assert_eq!(
        t.emr_vc(&emr_id).await,
        json!({"securityConfigurationId": first}),
        "EMR's virtual cluster was not changed"
    );
    assert!(
        t.emr_has(&first).await,
        "deleted while a virtual cluster uses it"
    );

    // The VirtualCluster goes: nothing uses the old one any more, so it goes too.
    t.vcs().delete(&vc_name, &Default::default()).await.unwrap();
    wait_gone(
        &t.vcs(),
        &vc_name,
        Duration::from_secs(90),
        "VirtualCluster",
    )
    .await;
    t.wait_config(&name, "previous retired", |c| {
        c.status.as_ref().is_some_and(|s| s.previous.is_empty())
    })
    .await;
    assert!(!t.emr_has(&first).await);
    assert!(t.emr_has(&second).await);

    t.configs()
        .delete(&name, &Default::default())
        .await
        .unwrap();
    wait_gone(
        &t.configs(),
        &name,
        Duration::from_secs(60),
        "SecurityConfiguration",
    )
    .await;
    assert!(!t.emr_has(&second).await);
}

#[tokio::test]
async fn a_virtual_cluster_waits_for_a_security_configuration_that_does_not_exist_yet() {
    let t = Test::start("emrsc-wait").await;
    let name = t.bed.unique("later");
    let vc_name = t.bed.unique("waits");
    let namespace = t.bed.unique("waits");
    t.apply_vc(&vc_name, &namespace, &name).await;
    let waiting = wait_for(
        &t.vcs(),
        &vc_name,
        Duration::from_secs(60),
        "waiting for its security configuration",
        |vc| {
            vc_condition(vc, "VirtualClusterReady")
                .is_some_and(|(ok, reason)| !ok && reason == "SecurityConfigurationNotFound")
        },
    )
    .await;
    assert_eq!(
        waiting.status.as_ref().unwrap().virtual_cluster_id,
        None,
        "created without the security configuration"
    );

    let config = t.apply_config(&name, PUBLIC).await;
    let config = t.wait_config(&config.name_any(), "created", ready).await;
    let id = config_id(&config).unwrap();
    let vc = t.bed.virtual_cluster_ready(&vc_name).await;
    let emr_id = vc.status.unwrap().virtual_cluster_id.unwrap();
    assert_eq!(
        t.emr_vc(&emr_id).await,
        json!({"securityConfigurationId": id})
    );
    t.vcs().delete(&vc_name, &Default::default()).await.unwrap();
    wait_gone(
        &t.vcs(),
        &vc_name,
        Duration::from_secs(90),
        "VirtualCluster",
    )
    .await;
    t.configs()
        .delete(&name, &Default::default())
        .await
        .unwrap();
    wait_gone(
        &t.configs(),
        &name,
        Duration::from_secs(60),
        "SecurityConfiguration",
    )
    .await;
    assert!(!t.emr_has(&id).await);
}
