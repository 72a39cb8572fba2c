//! The tenant guard rails against the bed: configurable names (the multi-tenancy post's
//! `compute-resources`, `cpu-min-max`, `default-np-ns1`), a rename that leaves no orphan, and the
//! NetworkPolicy variants (`egress` Open / SameNamespace / Custom, instance metadata blocked) as
//! the apiserver stores them. The expected policies are written out by hand.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::LazyLock;
use std::time::Duration;

use emr_api::VirtualCluster;
use emr_api::condition;
use emr_operator_tests::{Bed, TEST_LABEL, bed, wait_for, wait_gone};
use k8s_openapi::api::core::v1::{LimitRange, ResourceQuota};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::{Api, DeleteParams};
use serde_json::{Value, json};

const TIMEOUT: Duration = Duration::from_secs(90);

static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("tokio runtime")
});

fn run<F: std::future::Future<Output = ()>>(test: F) {
    RUNTIME.block_on(test);
}

struct Tenant {
    bed: &'static Bed,
    test_id: String,
    eks: String,
    name: String,
    namespace: String,
    vcs: Api<VirtualCluster>,
}

impl Tenant {
    async fn new(prefix: &str) -> Tenant {
        let bed = bed().await;
        let test_id = bed.unique(prefix);
        let eks = bed.unique("eks");
        bed.eks_cluster(&eks).await;
        Tenant {
            bed,
            name: format!(
                "{prefix}-{}",
                test_id.rsplit('-').next().unwrap_or_default()
            ),
            namespace: bed.unique("teama"),
            test_id,
            eks,
            vcs: Api::all(bed.client.clone()),
        }
    }

    async fn apply(&self, guard_rails: Value) {
        let manifest = json!({
            "apiVersion": "emr-on-eks.dev/v1alpha1", "kind": "VirtualCluster",
            "metadata": {"name": self.name, "labels": {TEST_LABEL: self.test_id}},
            "spec": {
                "eksClusterName": self.eks,
                "namespace": {"name": self.namespace},
                "accountId": "123456789012",
                "oidcProvider": "oidc.eks.us-east-1.amazonaws.com/id/RAILS",
                "emrAccess": {"mode": "AccessEntry"},
                "guardRails": guard_rails,
            },
        });
        self.bed
            .apply::<VirtualCluster>(&serde_saphyr::to_string(&manifest).unwrap())
            .await;
    }

    /// Waits until the operator has converged the current generation.
    async fn converged(&self) -> VirtualCluster {
        wait_for(
            &self.vcs,
            &self.name,
            TIMEOUT,
            "Ready on this generation",
            |vc: &VirtualCluster| {
                vc.status.as_ref().is_some_and(|s| {
                    s.observed_generation == vc.metadata.generation
                        && condition::is_true(&s.conditions, "Ready")
                })
            },
        )
        .await
    }

    fn api<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
    {
        Api::namespaced(self.bed.client.clone(), &self.namespace)
    }

    async fn policy_spec(&self, name: &str) -> Value {
        let np = self
            .api::<NetworkPolicy>()
            .get(name)
            .await
            .expect("NetworkPolicy");
        serde_json::to_value(np.spec).unwrap()
    }
}

fn ingress_same_namespace() -> Value {
    json!([{"from": [{"podSelector": {}}]}])
}

#[test]
fn the_seeds_names_and_every_egress_variant_are_what_the_spec_says() {
    run(async {
        let t = Tenant::new("rails").await;
        let _op = t.bed.start_operator(&t.test_id, &[]).await;
        // The multi-tenancy post's objects under its own names; its policy's intent (traffic
        // only within the namespace), with DNS, and no way to the instance metadata endpoint.
        t.apply(json!({
            "resourceQuota": {"name": "compute-resources", "hard": {"requests.cpu": "1000", "limits.memory": "6000Gi"}},
            "limitRange": {"name": "cpu-min-max", "max": {"cpu": "6"}, "min": {"cpu": "100m"}},
            "networkPolicy": {"name": "default-np-ns1", "egress": "SameNamespace", "blockInstanceMetadata": true},
        }))
        .await;
        t.converged().await;
        let quota = t
            .api::<ResourceQuota>()
            .get("compute-resources")
            .await
            .expect("quota");
        assert!(
            quota
                .spec
                .unwrap()
                .hard
                .unwrap()
                .contains_key("requests.cpu")
        );
        t.api::<LimitRange>()
            .get("cpu-min-max")
            .await
            .expect("limit range");
        assert_eq!(
            t.policy_spec("default-np-ns1").await,
            json!({
                "podSelector": {},
                "policyTypes": ["Ingress", "Egress"],
                "ingress": ingress_same_namespace(),
                "egress": [
                    {"to": [{"podSelector": {}}]},
                    {"to": [{"namespaceSelector": {}, "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
                     "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]}
                ]
            })
        );
        assert!(
            t.api::<ResourceQuota>()
                .get_opt("emr-tenant-quota")
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            t.api::<LimitRange>()
                .get_opt("emr-tenant-limits")
                .await
                .unwrap()
                .is_none()
        );

        // Renamed, and Custom egress with the endpoint blocked: the old objects go (no orphan),
        // a rule to everywhere loses the endpoint, a /16 holding it gets it in `except`.
        t.apply(json!({
            "resourceQuota": {"hard": {"requests.cpu": "1000"}},
            "limitRange": {"name": "cpu-min-max", "max": {"cpu": "6"}},
            "networkPolicy": {"name": "tenant-egress", "egress": "Custom", "blockInstanceMetadata": true,
                "egressRules": [
                    {"ports": [{"port": 443, "protocol": "TCP"}]},
                    {"to": [{"ipBlock": {"cidr": "169.254.0.0/16"}}, {"ipBlock": {"cidr": "10.0.0.0/8"}}]}
                ]},
        }))
        .await;
        t.converged().await;
        wait_gone(
            &t.api::<ResourceQuota>(),
            "compute-resources",
            TIMEOUT,
            "old quota",
        )
        .await;
        wait_gone(
            &t.api::<NetworkPolicy>(),
            "default-np-ns1",
            TIMEOUT,
            "old policy",
        )
        .await;
        t.api::<ResourceQuota>()
            .get("emr-tenant-quota")
            .await
            .expect("quota under the default name");
        assert_eq!(
            t.policy_spec("tenant-egress").await,
            json!({
                "podSelector": {},
                "policyTypes": ["Ingress", "Egress"],
                "ingress": ingress_same_namespace(),
                "egress": [
                    {"ports": [{"port": 443, "protocol": "TCP"}], "to": [
                        {"ipBlock": {"cidr": "0.0.0.0/0", "except": ["169.254.169.254/32"]}},
                        {"ipBlock": {"cidr": "::/0", "except": ["fd00:ec2::254/128"]}},
                        {"namespaceSelector": {}}
                    ]},
                    {"to": [
                        {"ipBlock": {"cidr": "169.254.0.0/16", "except": ["169.254.169.254/32"]}},
                        {"ipBlock": {"cidr": "10.0.0.0/8"}}
                    ]}
                ]
            })
        );

        // Open (the default) with the endpoint blocked, under the default name.
        t.apply(json!({"networkPolicy": {"blockInstanceMetadata": true}}))
            .await;
        t.converged().await;
        wait_gone(
            &t.api::<NetworkPolicy>(),
            "tenant-egress",
            TIMEOUT,
            "old policy",
        )
        .await;
        wait_gone(
            &t.api::<ResourceQuota>(),
            "emr-tenant-quota",
            TIMEOUT,
            "dropped quota",
        )
        .await;
        wait_gone(
            &t.api::<LimitRange>(),
            "cpu-min-max",
            TIMEOUT,
            "dropped limit range",
        )
        .await;
        assert_eq!(
            t.policy_spec("emr-tenant-isolation").await,
            json!({
                "podSelector": {},
                "policyTypes": ["Ingress", "Egress"],
                "ingress": ingress_same_namespace(),
                "egress": [{"to": [
                    {"ipBlock": {"cidr": "0.0.0.0/0", "except": ["169.254.169.254/32"]}},
                    {"ipBlock": {"cidr": "::/0", "except": ["fd00:ec2::254/128"]}},
                    {"namespaceSelector": {}}
                ]}]
            })
        );

        // networkIsolation alone: ingress only, egress untouched (Open).
        t.apply(json!({"networkIsolation": true})).await;
        t.converged().await;
        wait_for(
            &t.api::<NetworkPolicy>(),
            "emr-tenant-isolation",
            TIMEOUT,
            "Ingress only",
            |np: &NetworkPolicy| np.spec.as_ref().and_then(|s| s.egress.as_ref()).is_none(),
        )
        .await;
        assert_eq!(
            t.policy_spec("emr-tenant-isolation").await,
            json!({"podSelector": {}, "policyTypes": ["Ingress"], "ingress": ingress_same_namespace()})
        );

        t.vcs
            .delete(&t.name, &DeleteParams::default())
            .await
            .unwrap();
        wait_gone(&t.vcs, &t.name, TIMEOUT, "VirtualCluster").await;
    });
}

#[test]
fn egress_rules_without_custom_are_refused_naming_the_field_and_nothing_is_applied() {
    run(async {
        let t = Tenant::new("railsbad").await;
        let _op = t.bed.start_operator(&t.test_id, &[]).await;
        // A user who thinks rules alone restrict egress: they would be silently ignored.
        t.apply(json!({"networkPolicy": {"egressRules": [{"to": [{"podSelector": {}}]}]}}))
            .await;
        let refused = wait_for(
            &t.vcs,
            &t.name,
            TIMEOUT,
            "InvalidSpec",
            |vc: &VirtualCluster| {
                vc.status
                    .as_ref()
                    .and_then(|s| condition::find(&s.conditions, "Ready"))
                    .is_some_and(|c| c.reason == "InvalidSpec")
            },
        )
        .await;
        let ready = condition::find(&refused.status.as_ref().unwrap().conditions, "Ready").unwrap();
        assert!(
            ready
                .message
                .contains("spec.guardRails.networkPolicy.egressRules"),
            "{}",
            ready.message
        );
        assert!(
            t.api::<NetworkPolicy>()
                .get_opt("emr-tenant-isolation")
                .await
                .unwrap()
                .is_none(),
            "nothing applied"
        );
        t.vcs
            .delete(&t.name, &DeleteParams::default())
            .await
            .unwrap();
        wait_gone(&t.vcs, &t.name, TIMEOUT, "VirtualCluster").await;
    });
}
