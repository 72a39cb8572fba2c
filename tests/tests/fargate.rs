//! `VirtualCluster.spec.fargate` against the bed: the real operator binary (chart RBAC) and the
//! emulator's EKS, which runs Fargate profiles as EKS does (CREATING, then ACTIVE; DELETING, then
//! gone; one profile operation at a time per cluster, ResourceInUseException otherwise).
//!
//! Each test has its own EKS cluster, so the emulator's call log filtered by the cluster's path
//! shows exactly what the operator asked of EKS for it.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use emr_api::VirtualCluster;
use emr_api::condition;
use emr_operator_tests::{Bed, Operator, TEST_LABEL, bed, wait_for, wait_gone};
use futures::StreamExt;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::runtime::watcher;
use serde_json::{Value, json};

const TIMEOUT: Duration = Duration::from_secs(90);
const POD_ROLE: &str = "arn:aws:iam::123456789012:role/AmazonEKSFargatePodExecutionRole";

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

struct World {
    bed: &'static Bed,
    test_id: String,
    eks: String,
    vcs: Api<VirtualCluster>,
}

impl World {
    async fn new(prefix: &str) -> World {
        let bed = bed().await;
        let test_id = bed.unique(prefix);
        let eks = bed.unique("eks");
        bed.eks_cluster(&eks).await;
        World {
            bed,
            test_id,
            eks,
            vcs: Api::all(bed.client.clone()),
        }
    }

    fn name(&self, base: &str) -> String {
        format!(
            "{base}-{}",
            self.test_id.rsplit('-').next().unwrap_or_default()
        )
    }

    async fn operator(&self) -> Operator {
        self.bed.start_operator(&self.test_id, &[]).await
    }

    /// A VirtualCluster `name` for namespace `namespace` of this world's EKS cluster, `spec`
    /// merged in.
    async fn apply_vc(&self, name: &str, namespace: &str, spec: Value) -> VirtualCluster {
        let mut full = json!({
            "eksClusterName": self.eks,
            "namespace": {"name": namespace},
            "accountId": "123456789012",
            "oidcProvider": "oidc.eks.us-east-1.amazonaws.com/id/FARGATE",
            "emrAccess": {"mode": "AccessEntry"},
        });
        if let (Value::Object(base), Value::Object(over)) = (&mut full, spec) {
            base.extend(over);
        }
        let manifest = json!({
            "apiVersion": "emr-on-eks.dev/v1alpha1", "kind": "VirtualCluster",
            "metadata": {"name": name, "labels": {TEST_LABEL: self.test_id}},
            "spec": full,
        });
        self.bed
            .apply(&serde_saphyr::to_string(&manifest).unwrap())
            .await
    }

    /// The emulator's logged calls of `operation` on this world's EKS cluster.
    async fn eks_calls(&self, operation: &str) -> Vec<Value> {
        let prefix = format!("/clusters/{}/", self.eks);
        self.bed
            .emulator
            .calls(&[("service", "eks"), ("operation", operation)])
            .await
            .into_iter()
            .filter(|c| c["path"].as_str().is_some_and(|p| p.starts_with(&prefix)))
            .collect()
    }

    async fn profile(&self, name: &str) -> Option<emr_aws::FargateProfileInfo> {
        self.bed
            .aws
            .eks
            .describe_fargate_profile(&self.eks, name)
            .await
            .expect("describe profile")
    }

    /// A profile made by someone else (no operator tag, or `tags`), waited for until ACTIVE.
    async fn foreign_profile(&self, name: &str, namespace: &str, tags: &[(&str, &str)]) {
        let eks = emr_aws::aws_sdk_eks::Client::new(self.bed.sdk_config());
        let selector = emr_aws::aws_sdk_eks::types::FargateProfileSelector::builder()
            .namespace(namespace)
            .build();
        let mut create = eks
            .create_fargate_profile()
            .cluster_name(&self.eks)
            .fargate_profile_name(name)
            .pod_execution_role_arn(POD_ROLE)
            .selectors(selector);
        for (k, v) in tags {
            create = create.tags(*k, *v);
        }
        create.send().await.expect("create a foreign profile");
        self.wait_profile(name, Some("ACTIVE")).await;
    }

    async fn wait_profile(&self, name: &str, state: Option<&str>) {
        let deadline = std::time::Instant::now() + TIMEOUT;
        loop {
            let now = self
                .profile(name)
                .await
                .map(|p| p.state.as_str().to_owned());
            if now.as_deref() == state {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "profile {name} never became {state:?} (is {now:?})"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

fn reason(vc: &VirtualCluster, type_: &str) -> Seen {
    let conditions = vc.status.as_ref().map(|s| s.conditions.as_slice())?;
    condition::find(conditions, type_).map(|c| (c.is_true(), c.reason.clone()))
}

/// A condition's (is true, reason), if the condition is there.
type Seen = Option<(bool, String)>;
/// (FargateProfileReady, Ready) of each stored version, in order.
type Versions = Arc<Mutex<Vec<(Seen, Seen)>>>;

/// Every version of the VirtualCluster `name` the apiserver stores from now on, as
/// (FargateProfileReady, Ready) pairs: a watch sees each write, however quickly it is replaced.
fn record_versions(vcs: &Api<VirtualCluster>, name: &str) -> Versions {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let stream = watcher(
        vcs.clone(),
        watcher::Config::default().fields(&format!("metadata.name={name}")),
    );
    RUNTIME.spawn(async move {
        let mut stream = stream.boxed();
        while let Some(event) = stream.next().await {
            if let Ok(watcher::Event::Apply(vc) | watcher::Event::InitApply(vc)) = event {
                let row = (reason(&vc, "FargateProfileReady"), reason(&vc, "Ready"));
                sink.lock().unwrap().push(row);
            }
        }
    });
    seen
}

#[test]
fn spec_fargate_creates_exactly_one_profile_waits_for_it_and_deletes_it_with_the_object() {
    run(async {
        let w = World::new("fargate-one").await;
        let _op = w.operator().await;
        let name = w.name("serverless");
        let ns = w.bed.unique("emr-serverless");
        let seen = record_versions(&w.vcs, &name);
        // Seed 004's profile: only executors of the namespace run on Fargate.
        let vc = w
            .apply_vc(
                &name,
                &ns,
                json!({"fargate": {
                    "profileName": "emr-serverless",
                    "podExecutionRoleArn": POD_ROLE,
                    "subnets": ["subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002"],
                    "selectors": [{"labels": {"spark-role": "executor"}}],
                }}),
            )
            .await;
        let uid = vc.metadata.uid.clone().unwrap();
        let ready = wait_for(&w.vcs, &name, TIMEOUT, "Ready", |vc: &VirtualCluster| {
            reason(vc, "Ready").is_some_and(|(ok, _)| ok)
        })
        .await;
        assert_eq!(
            reason(&ready, "FargateProfileReady"),
            Some((true, "Active".into()))
        );
        let status = ready.status.as_ref().unwrap();
        let mirrored = status
            .fargate_profile
            .as_ref()
            .expect("status.fargateProfile");
        assert_eq!(
            (mirrored.name.as_str(), mirrored.status.as_deref()),
            ("emr-serverless", Some("ACTIVE"))
        );

        // What EKS holds: the spec's profile, tagged as this object's.
        let profile = w
            .profile("emr-serverless")
            .await
            .expect("the profile exists");
        assert_eq!(profile.pod_execution_role_arn.as_deref(), Some(POD_ROLE));
        let labels = BTreeMap::from([("spark-role".to_owned(), "executor".to_owned())]);
        assert_eq!(
            profile.selectors.into_iter().collect::<Vec<_>>(),
            vec![(ns.clone(), labels)]
        );
        assert_eq!(profile.subnets.len(), 2);
        assert_eq!(profile.tags.get("emr-on-eks.dev/uid"), Some(&uid));
        let creates = w.eks_calls("CreateFargateProfile").await;
        assert_eq!(
            creates.len(),
            1,
            "exactly one CreateFargateProfile: {creates:?}"
        );
        assert_eq!(creates[0]["status"], 200);

        // It waited: a version said CREATING (not Ready) before the one that said ACTIVE, and no
        // version was Ready while the profile was not. (The recording watch may deliver the
        // version `wait_for` saw a moment later.)
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !seen
            .lock()
            .unwrap()
            .iter()
            .any(|(f, _)| f.as_ref().is_some_and(|(ok, _)| *ok))
            && std::time::Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let versions = seen.lock().unwrap().clone();
        let waiting = versions.iter().position(|(f, _)| {
            f.as_ref()
                .is_some_and(|(ok, r)| !ok && r == "WaitingForProfileActive")
        });
        let active = versions
            .iter()
            .position(|(f, _)| f.as_ref().is_some_and(|(ok, _)| *ok));
        assert!(
            matches!((waiting, active), (Some(a), Some(b)) if a < b),
            "{versions:?}"
        );
        assert!(
            versions
                .iter()
                .all(|(f, r)| !r.as_ref().is_some_and(|(ok, _)| *ok)
                    || f.as_ref().is_some_and(|(ok, _)| *ok)),
            "Ready only with the profile ACTIVE: {versions:?}"
        );

        // Deletion deletes it, and the object goes only once EKS has.
        w.vcs.delete(&name, &DeleteParams::default()).await.unwrap();
        wait_gone(&w.vcs, &name, TIMEOUT, "VirtualCluster").await;
        assert!(
            w.profile("emr-serverless").await.is_none(),
            "the profile is gone"
        );
        let deletes = w.eks_calls("DeleteFargateProfile").await;
        assert_eq!(deletes.len(), 1, "{deletes:?}");
        assert!(
            seen.lock().unwrap().iter().any(|(_, r)| r
                .as_ref()
                .is_some_and(|(_, reason)| reason == "DeletingWaitingForProfileDeleted")),
            "deletion waited for EKS"
        );
        assert_eq!(w.eks_calls("CreateFargateProfile").await.len(), 1);
    });
}

#[test]
fn two_virtual_clusters_of_one_eks_cluster_get_their_profiles_one_at_a_time() {
    run(async {
        let w = World::new("fargate-two").await;
        let _op = w.operator().await;
        let (a, b) = (w.name("fa"), w.name("fb"));
        let spec = json!({"fargate": {"podExecutionRoleArn": POD_ROLE}});
        let (ns_a, ns_b) = (w.bed.unique("fa"), w.bed.unique("fb"));
        w.apply_vc(&a, &ns_a, spec.clone()).await;
        w.apply_vc(&b, &ns_b, spec).await;
        for name in [&a, &b] {
            wait_for(&w.vcs, name, TIMEOUT, "Ready", |vc: &VirtualCluster| {
                reason(vc, "Ready").is_some_and(|(ok, _)| ok)
            })
            .await;
        }
        // Default profile names are the namespaces'; one selector each, for the namespace.
        for ns in [&ns_a, &ns_b] {
            let p = w.profile(ns).await.expect("profile");
            assert_eq!(
                p.selectors.into_iter().collect::<Vec<_>>(),
                vec![(ns.clone(), BTreeMap::new())]
            );
        }
        // The emulator refuses a create while the other profile is CREATING (409): the operator
        // never sent one, it waited its turn.
        let creates = w.eks_calls("CreateFargateProfile").await;
        let statuses: Vec<_> = creates.iter().map(|c| c["status"].clone()).collect();
        assert_eq!(statuses, vec![json!(200), json!(200)], "{creates:?}");

        for name in [&a, &b] {
            w.vcs.delete(name, &DeleteParams::default()).await.unwrap();
        }
        for name in [&a, &b] {
            wait_gone(&w.vcs, name, TIMEOUT, "VirtualCluster").await;
        }
        assert!(w.profile(&ns_a).await.is_none() && w.profile(&ns_b).await.is_none());
        let deletes = w.eks_calls("DeleteFargateProfile").await;
        assert!(
            deletes.iter().all(|c| c["status"] == 200) && deletes.len() == 2,
            "{deletes:?}"
        );
    });
}

#[test]
fn a_profile_the_virtual_cluster_did_not_make_is_never_deleted_even_with_a_forged_status() {
    run(async {
        let w = World::new("fargate-hostile").await;
        let name = w.name("grabby");
        let ns = w.bed.unique("grabby");
        // Someone's hand-made profile under the name the VirtualCluster asks for, for another
        // namespace; and another team's profile, tagged as theirs.
        w.foreign_profile("taken", "someone-else", &[]).await;
        w.foreign_profile(
            "victim",
            "team-b",
            &[
                ("emr-on-eks.dev/uid", "another-uid"),
                ("emr-on-eks.dev/object", "team-b"),
            ],
        )
        .await;
        w.apply_vc(
            &name,
            &ns,
            json!({"fargate": {"profileName": "taken", "podExecutionRoleArn": POD_ROLE}}),
        )
        .await;
        // A status naming the victim as this object's profile, written before the operator runs.
        let forged = json!({"status": {"managed": {"fargateProfile": {
            "name": "victim", "eksClusterName": w.eks, "created": true
        }}}});
        w.vcs
            .patch_status(&name, &PatchParams::default(), &Patch::Merge(&forged))
            .await
            .expect("forge the status");
        let _op = w.operator().await;

        let refused = wait_for(
            &w.vcs,
            &name,
            TIMEOUT,
            "FargateProfileNameTaken",
            |vc: &VirtualCluster| {
                reason(vc, "FargateProfileReady")
                    .is_some_and(|(_, r)| r == "FargateProfileNameTaken")
            },
        )
        .await;
        assert_eq!(reason(&refused, "Ready").map(|(ok, _)| ok), Some(false));
        // The forged record was read and checked against EKS's tags (the victim described), and
        // let go of: a status field another field manager wrote stays under server-side apply,
        // so it is checked again on every pass, and never deletes anything.
        let described = w.eks_calls("DescribeFargateProfile").await;
        assert!(
            described.iter().any(|c| c["path"]
                .as_str()
                .is_some_and(|p| p.ends_with("/fargate-profiles/victim"))),
            "{described:?}"
        );

        w.vcs.delete(&name, &DeleteParams::default()).await.unwrap();
        wait_gone(&w.vcs, &name, TIMEOUT, "VirtualCluster").await;
        assert_eq!(
            w.eks_calls("DeleteFargateProfile").await,
            Vec::<Value>::new()
        );
        assert_eq!(
            w.eks_calls("CreateFargateProfile").await.len(),
            2,
            "only the test's own two"
        );
        for survivor in ["taken", "victim"] {
            let p = w.profile(survivor).await;
            assert_eq!(
                p.map(|p| p.state.as_str().to_owned()).as_deref(),
                Some("ACTIVE"),
                "{survivor}"
            );
        }
    });
}

#[test]
fn renaming_the_profile_deletes_the_old_one_before_creating_the_new_one() {
    run(async {
        let w = World::new("fargate-rename").await;
        let _op = w.operator().await;
        let name = w.name("renamed");
        let ns = w.bed.unique("renamed");
        let spec = |profile: &str| json!({"fargate": {"profileName": profile, "podExecutionRoleArn": POD_ROLE}});
        w.apply_vc(&name, &ns, spec("emr-fp")).await;
        w.bed.virtual_cluster_ready(&name).await;
        w.apply_vc(&name, &ns, spec("emr-fp-2")).await;
        wait_for(
            &w.vcs,
            &name,
            TIMEOUT,
            "the new profile ACTIVE",
            |vc: &VirtualCluster| {
                vc.status
                    .as_ref()
                    .and_then(|s| s.fargate_profile.as_ref())
                    .is_some_and(|p| p.name == "emr-fp-2" && p.status.as_deref() == Some("ACTIVE"))
                    && reason(vc, "Ready").is_some_and(|(ok, _)| ok)
            },
        )
        .await;
        assert!(
            w.profile("emr-fp").await.is_none(),
            "the old profile is deleted"
        );
        let creates = w.eks_calls("CreateFargateProfile").await;
        assert_eq!(creates.len(), 2, "{creates:?}");
        assert!(creates.iter().all(|c| c["status"] == 200), "{creates:?}");
        let deletes = w.eks_calls("DeleteFargateProfile").await;
        assert_eq!(deletes.len(), 1, "{deletes:?}");
        assert!(
            deletes[0]["seq"].as_u64() < creates[1]["seq"].as_u64(),
            "deleted before the new one was created: {deletes:?} {creates:?}"
        );
        // Without spec.fargate the profile goes, and so does the condition.
        // The test's field manager owned spec.fargate: applying without it removes it.
        w.apply_vc(&name, &ns, json!({})).await;
        let gone = wait_for(
            &w.vcs,
            &name,
            TIMEOUT,
            "no FargateProfileReady",
            |vc: &VirtualCluster| {
                reason(vc, "FargateProfileReady").is_none()
                    && reason(vc, "Ready").is_some_and(|(ok, _)| ok)
            },
        )
        .await;
        assert_eq!(gone.status.as_ref().unwrap().fargate_profile, None);
        assert!(w.profile("emr-fp-2").await.is_none());
        w.vcs.delete(&name, &DeleteParams::default()).await.unwrap();
        wait_gone(&w.vcs, &name, TIMEOUT, "VirtualCluster").await;
    });
}

#[test]
fn retain_leaves_the_profile_and_a_later_virtual_cluster_uses_it_without_ever_deleting_it() {
    run(async {
        let w = World::new("fargate-retain").await;
        let _op = w.operator().await;
        let ns = w.bed.unique("kept");
        let spec = |policy: &str| json!({"deletionPolicy": policy, "fargate": {"profileName": "emr-fp", "podExecutionRoleArn": POD_ROLE}});
        let first = w.name("first");
        w.apply_vc(&first, &ns, spec("Retain")).await;
        w.bed.virtual_cluster_ready(&first).await;
        w.vcs
            .delete(&first, &DeleteParams::default())
            .await
            .unwrap();
        wait_gone(&w.vcs, &first, TIMEOUT, "VirtualCluster").await;
        let kept = w.profile("emr-fp").await.expect("Retain keeps the profile");
        assert_eq!(kept.state.as_str(), "ACTIVE");

        // The profile carries the first object's uid; that object is gone, so the next one
        // uses the profile as found: Ready, but not its to delete.
        let second = w.name("second");
        w.apply_vc(&second, &ns, spec("Delete")).await;
        let ready = w.bed.virtual_cluster_ready(&second).await;
        assert_eq!(
            reason(&ready, "FargateProfileReady"),
            Some((true, "Adopted".into()))
        );
        w.vcs
            .delete(&second, &DeleteParams::default())
            .await
            .unwrap();
        wait_gone(&w.vcs, &second, TIMEOUT, "VirtualCluster").await;
        assert!(
            w.profile("emr-fp").await.is_some(),
            "a found profile is never deleted"
        );
        assert_eq!(
            w.eks_calls("DeleteFargateProfile").await,
            Vec::<Value>::new()
        );
        assert_eq!(w.eks_calls("CreateFargateProfile").await.len(), 1);
    });
}
