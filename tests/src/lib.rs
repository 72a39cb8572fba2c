//! The integration-test harness: the local test bed (a real kube-apiserver + etcd +
//! kube-controller-manager, and the AWS emulator), reached from tests.
//!
//! `bed()` starts the bed once if needed (`tests/bed/up.sh`), installs the CRDs and the operator's
//! least-privilege RBAC from the chart's rule files (bound to the bed's unprivileged test user),
//! and hands out clients.
//! Tests run the real operator binary as a subprocess with that role, each with its own label
//! selector so tests running in parallel never see each other's objects.

#![allow(clippy::expect_used, clippy::unwrap_used)]

pub mod apiserver_proxy;

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::ResourceExt;
use kube::api::{Api, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::discovery::Scope;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::sync::OnceCell;

/// Label every test object carries; each test's operator selects only its own value.
pub const TEST_LABEL: &str = "emr-on-eks.dev/test";
/// Field manager the harness applies with (the operator uses its own).
pub const TEST_MANAGER: &str = "emr-operator-tests";
/// The bed's unprivileged user the operator runs as.
pub const OPERATOR_USER: &str = "emr-on-eks-operator-test";

/// The emr-containers ClusterRole the operator binds: the chart's name for it in a release named
/// `emr-on-eks-operator`, and the operator binary's default.
pub const EMR_CONTAINERS_CLUSTER_ROLE: &str = "emr-on-eks-operator-emr-containers";
const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

/// The rules of one of the chart's rule files (deploy/helm/emr-on-eks-operator/files/).
pub fn chart_rules(file: &str) -> Vec<PolicyRule> {
    let path = repo_root()
        .join("deploy/helm/emr-on-eks-operator/files")
        .join(file);
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("parse {}: {e}", path.display()))
}

/// The repository's root folder.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The running test bed.
pub struct Bed {
    /// Admin client (system:masters).
    pub client: kube::Client,
    /// The AWS layer pointed at the emulator.
    pub aws: emr_aws::Aws,
    /// The emulator's control API.
    pub emulator: Emulator,
    /// `.testbed/env`, parsed.
    pub env: BTreeMap<String, String>,
    sdk: aws_config::SdkConfig,
}

static PREPARED: OnceCell<BTreeMap<String, String>> = OnceCell::const_new();

/// A VirtualCluster the operator has made Ready ([`Bed::ready_virtual_cluster`]).
pub struct ReadyVirtualCluster {
    pub name: String,
    pub namespace: String,
    /// Its execution role.
    pub role_arn: String,
    /// Its id in EMR.
    pub virtual_cluster_id: String,
}

impl ReadyVirtualCluster {
    /// A SparkJobRun `name` of this virtual cluster, labelled for `test_id`, running
    /// `local:///pi.py` with `tags`: flow-style map entries such as `"emulator/run-seconds": "0"`.
    pub fn job_yaml(&self, test_id: &str, name: &str, tags: &str) -> String {
        format!(
            r#"
apiVersion: emr-on-eks.dev/v1alpha1
kind: SparkJobRun
metadata: {{name: {name}, namespace: {ns}, labels: {{{TEST_LABEL}: {test_id}}}}}
spec:
  virtualCluster: {{name: {vc}}}
  executionRoleArn: "{role}"
  releaseLabel: emr-6.15.0-latest
  jobDriver: {{sparkSubmitJobDriver: {{entryPoint: "local:///pi.py"}}}}
  tags: {{{tags}}}
"#,
            ns = self.namespace,
            vc = self.name,
            role = self.role_arn,
        )
    }
}

/// The bed, started (if needed) and prepared once per test process; the clients are new for
/// each call. Every `#[tokio::test]` has its own runtime, and a client made on one runtime stops
/// working when that runtime ends, so clients are never shared between tests.
pub async fn bed() -> &'static Bed {
    let env = PREPARED.get_or_init(prepare).await;
    // One small leak per test: lets tests keep the `&'static Bed` they pass around.
    Box::leak(Box::new(Bed::connect(env.clone()).await))
}

async fn prepare() -> BTreeMap<String, String> {
    let root = repo_root();
    // up.sh is idempotent and fast when the bed is already up; run it so a dead bed restarts.
    let status = Command::new(root.join("tests/bed/up.sh"))
        .stdout(Stdio::null())
        .status()
        .expect("run tests/bed/up.sh");
    assert!(status.success(), "tests/bed/up.sh failed");
    let env = parse_env_file(&testbed_dir().join("env"));
    let bed = Bed::connect(env.clone()).await;
    bed.install_crds().await;
    bed.install_operator_role().await;
    env
}

fn parse_env_file(path: &Path) -> BTreeMap<String, String> {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    text.lines()
        .filter_map(|line| line.trim().strip_prefix("export "))
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| {
            (
                k.to_string(),
                v.trim_matches(|c| c == '"' || c == '\'').to_string(),
            )
        })
        .collect()
}

async fn kube_client(kubeconfig: &str) -> kube::Client {
    let kc = Kubeconfig::read_from(kubeconfig).expect("read kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .expect("kubeconfig");
    kube::Client::try_from(config).expect("kube client")
}

impl Bed {
    async fn connect(env: BTreeMap<String, String>) -> Bed {
        let client = kube_client(&env["KUBECONFIG"]).await;

        let creds = emr_aws::aws_sdk_sts::config::Credentials::new(
            env["AWS_ACCESS_KEY_ID"].clone(),
            env["AWS_SECRET_ACCESS_KEY"].clone(),
            None,
            None,
            "testbed",
        );
        let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(env["AWS_REGION"].clone()))
            .endpoint_url(env["AWS_ENDPOINT_URL"].clone())
            .credentials_provider(creds)
            .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(1))
            .load()
            .await;
        let aws = emr_aws::Aws::new(
            &emr_aws::AwsClients::from_sdk_config(&sdk),
            std::sync::Arc::new(emr_aws::NoopObserver),
        );
        let emulator = Emulator {
            base: env["EMULATOR_URL"].clone(),
            http: reqwest::Client::new(),
        };
        Bed {
            client,
            aws,
            emulator,
            env,
            sdk,
        }
    }

    async fn install_crds(&self) {
        let api: Api<CustomResourceDefinition> = Api::all(self.client.clone());
        let dir = repo_root().join("deploy/crds");
        let mut names = Vec::new();
        for entry in std::fs::read_dir(&dir).expect("deploy/crds") {
            let path = entry.expect("dir entry").path();
            let crd: CustomResourceDefinition =
                serde_saphyr::from_str(&std::fs::read_to_string(&path).expect("read crd"))
                    .expect("parse crd");
            let name = crd.name_any();
            let applied = api
                .patch(
                    &name,
                    &PatchParams::apply(TEST_MANAGER).force(),
                    &Patch::Apply(&crd),
                )
                .await;
            match applied {
                Ok(_) => {}
                // Apiservers before 1.25 (the bed's is 1.20) know no `x-kubernetes-validations`
                // and refuse it in a server-side apply; a plain create/replace drops it instead.
                Err(e) if e.to_string().contains("field not declared in schema") => {
                    create_or_replace_crd(&api, crd).await
                }
                Err(e) => panic!("apply {}: {e}", path.display()),
            }
            names.push(name);
        }
        for name in names {
            wait_for(
                &api,
                &name,
                Duration::from_secs(30),
                "CRD established",
                |crd| {
                    crd.status
                        .as_ref()
                        .and_then(|s| s.conditions.as_ref())
                        .is_some_and(|cs| {
                            cs.iter()
                                .any(|c| c.type_ == "Established" && c.status == "True")
                        })
                },
            )
            .await;
        }
    }

    /// Gives the test user exactly what the chart grants the operator's ServiceAccount, from the
    /// chart's own rule files (the single source of truth): the ClusterRole of
    /// files/clusterrole-rules.yaml plus the `bind` rule templates/clusterrole.yaml adds, the
    /// emr-containers ClusterRole it binds, and the Role on kube-system/aws-auth. Leases are
    /// granted per namespace by [`Bed::operator_namespace`]. Also makes `kube-system/aws-auth`
    /// as EKS does for node groups: the operator no longer creates it.
    async fn install_operator_role(&self) {
        let pp = PatchParams::apply(TEST_MANAGER).force();
        let name = "emr-on-eks-operator-test";
        let mut rules = chart_rules("clusterrole-rules.yaml");
        rules.push(PolicyRule {
            api_groups: Some(vec![RBAC_GROUP.into()]),
            resources: Some(vec!["clusterroles".into()]),
            resource_names: Some(vec![EMR_CONTAINERS_CLUSTER_ROLE.into()]),
            verbs: vec!["bind".into(), "get".into()],
            ..PolicyRule::default()
        });
        let cluster_roles = Api::<ClusterRole>::all(self.client.clone());
        for (role, rules) in [
            (name, rules),
            (
                EMR_CONTAINERS_CLUSTER_ROLE,
                chart_rules("emr-containers-rules.yaml"),
            ),
        ] {
            let body = json!({
                "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                "metadata": {"name": role}, "rules": rules
            });
            cluster_roles
                .patch(role, &pp, &Patch::Apply(&body))
                .await
                .unwrap_or_else(|e| panic!("apply ClusterRole {role}: {e}"));
        }
        let binding = json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": name},
            "roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": name},
            "subjects": [{"apiGroup": RBAC_GROUP, "kind": "User", "name": OPERATOR_USER}]
        });
        Api::<ClusterRoleBinding>::all(self.client.clone())
            .patch(name, &pp, &Patch::Apply(&binding))
            .await
            .expect("apply test ClusterRoleBinding");
        self.grant_role(
            "kube-system",
            "aws-auth-rules.yaml",
            &format!("{name}-aws-auth"),
        )
        .await;
        let node_role = concat!(
            "- rolearn: arn:aws:iam::123456789012:role/eks-node-role\n",
            "  username: system:node:{{EC2PrivateDNSName}}\n",
            "  groups: [system:bootstrappers, system:nodes]\n",
        );
        let aws_auth: ConfigMap = serde_json::from_value(json!({
            "metadata": {"name": "aws-auth", "namespace": "kube-system"},
            "data": {"mapRoles": node_role}
        }))
        .expect("aws-auth");
        match Api::<ConfigMap>::namespaced(self.client.clone(), "kube-system")
            .create(&PostParams::default(), &aws_auth)
            .await
        {
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.code == 409 => {}
            Err(e) => panic!("create kube-system/aws-auth: {e}"),
        }
    }

    /// A Role with the rules of the chart file `rules_file`, in `namespace`, bound to the test
    /// user, as the chart's templates bind theirs to the operator's ServiceAccount.
    async fn grant_role(&self, namespace: &str, rules_file: &str, name: &str) {
        let pp = PatchParams::apply(TEST_MANAGER).force();
        let role = json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": {"name": name, "namespace": namespace},
            "rules": chart_rules(rules_file)
        });
        Api::<Role>::namespaced(self.client.clone(), namespace)
            .patch(name, &pp, &Patch::Apply(&role))
            .await
            .unwrap_or_else(|e| panic!("apply Role {namespace}/{name}: {e}"));
        let binding = json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"name": name, "namespace": namespace},
            "roleRef": {"apiGroup": RBAC_GROUP, "kind": "Role", "name": name},
            "subjects": [{"apiGroup": RBAC_GROUP, "kind": "User", "name": OPERATOR_USER}]
        });
        Api::<RoleBinding>::namespaced(self.client.clone(), namespace)
            .patch(name, &pp, &Patch::Apply(&binding))
            .await
            .unwrap_or_else(|e| panic!("apply RoleBinding {namespace}/{name}: {e}"));
    }

    /// A fresh namespace for the operator itself, as the chart's release namespace: the test user
    /// gets the chart's leader-election Role there (Leases and Events), and nowhere else.
    pub async fn operator_namespace(&self, prefix: &str) -> String {
        let ns = self.namespace(prefix).await;
        self.grant_role(
            &ns,
            "leader-election-rules.yaml",
            "emr-on-eks-operator-leader-election",
        )
        .await;
        ns
    }

    /// A name no other test in this run (or an earlier run) uses: `<prefix>-<random>`.
    pub fn unique(&self, prefix: &str) -> String {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let r: u32 = rand::random();
        format!("{prefix}-{:06x}{n}", r & 0xff_ffff)
    }

    /// Creates a fresh namespace and returns its name.
    pub async fn namespace(&self, prefix: &str) -> String {
        let name = self.unique(prefix);
        let ns: Namespace = serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}
        }))
        .expect("namespace");
        Api::<Namespace>::all(self.client.clone())
            .create(&PostParams::default(), &ns)
            .await
            .unwrap_or_else(|e| panic!("create namespace {name}: {e}"));
        name
    }

    /// Server-side applies every document of a YAML (or JSON) manifest as admin, of any kind,
    /// and returns the stored objects.
    pub async fn apply_yaml(&self, manifest: &str) -> Vec<DynamicObject> {
        let mut stored = Vec::new();
        // Empty documents are skipped by the parser.
        let docs: Vec<Value> = serde_saphyr::from_multiple(manifest)
            .unwrap_or_else(|e| panic!("parse manifest: {e}\n{manifest}"));
        for value in docs {
            let obj: DynamicObject =
                serde_json::from_value(value).unwrap_or_else(|e| panic!("not an object: {e}"));
            let types = obj
                .types
                .clone()
                .unwrap_or_else(|| panic!("no apiVersion/kind in\n{manifest}"));
            let gvk = GroupVersionKind::try_from(&types)
                .unwrap_or_else(|e| panic!("bad apiVersion: {e}"));
            let (resource, caps) = kube::discovery::pinned_kind(&self.client, &gvk)
                .await
                .unwrap_or_else(|e| panic!("discover {gvk:?}: {e}"));
            let api: Api<DynamicObject> = match (caps.scope, obj.namespace()) {
                (Scope::Namespaced, Some(ns)) => {
                    Api::namespaced_with(self.client.clone(), &ns, &resource)
                }
                (Scope::Namespaced, None) => {
                    Api::default_namespaced_with(self.client.clone(), &resource)
                }
                (Scope::Cluster, _) => Api::all_with(self.client.clone(), &resource),
            };
            let name = obj.name_any();
            let applied = api
                .patch(
                    &name,
                    &PatchParams::apply(TEST_MANAGER).force(),
                    &Patch::Apply(&obj),
                )
                .await
                .unwrap_or_else(|e| panic!("apply {} {name}: {e}", gvk.kind));
            stored.push(applied);
        }
        stored
    }

    /// Server-side applies a one-document manifest and returns it as `K`.
    pub async fn apply<K: DeserializeOwned>(&self, manifest: &str) -> K {
        let stored = self.apply_yaml(manifest).await;
        let first = stored
            .into_iter()
            .next()
            .expect("an object in the manifest");
        serde_json::from_value(serde_json::to_value(first).expect("json")).expect("typed object")
    }

    /// An EKS cluster in the emulator (created if missing), as the operator will see it.
    pub async fn eks_cluster(&self, name: &str) -> emr_aws::EksClusterInfo {
        let eks = emr_aws::aws_sdk_eks::Client::new(&self.sdk);
        let vpc = emr_aws::aws_sdk_eks::types::VpcConfigRequest::builder()
            .subnet_ids("subnet-0001")
            .build();
        let created = eks
            .create_cluster()
            .name(name)
            .role_arn("arn:aws:iam::123456789012:role/eks-cluster-role")
            .resources_vpc_config(vpc)
            .send()
            .await;
        if let Err(e) = created {
            let text = format!("{e:?}");
            assert!(
                text.contains("ResourceInUse"),
                "create EKS cluster {name}: {text}"
            );
        }
        self.aws
            .eks
            .describe_cluster(name)
            .await
            .expect("describe EKS cluster")
    }

    /// An IAM role in the emulator with this trust policy (replaced if the role exists); its ARN.
    pub async fn iam_role(&self, name: &str, trust: &Value) -> String {
        let iam = emr_aws::aws_sdk_iam::Client::new(&self.sdk);
        let doc = trust.to_string();
        match iam
            .create_role()
            .role_name(name)
            .assume_role_policy_document(&doc)
            .send()
            .await
        {
            Ok(out) => out.role().map(|r| r.arn().to_string()).expect("role arn"),
            Err(_) => {
                iam.update_assume_role_policy()
                    .role_name(name)
                    .policy_document(&doc)
                    .send()
                    .await
                    .expect("update trust policy");
                self.aws.iam.get_role(name).await.expect("get role").arn
            }
        }
    }

    /// A VirtualCluster of the test `test_id` on the emulator's EKS cluster `eks_cluster`, named
    /// and bound to a namespace after `prefix`, with an execution role of its own named after
    /// `role_prefix`, once the operator has made it Ready.
    pub async fn ready_virtual_cluster(
        &self,
        test_id: &str,
        eks_cluster: &str,
        prefix: &str,
        role_prefix: &str,
    ) -> ReadyVirtualCluster {
        self.eks_cluster(eks_cluster).await;
        let trust = serde_json::json!({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"
        }]});
        let role_arn = self.iam_role(&self.unique(role_prefix), &trust).await;
        let name = self.unique(prefix);
        let namespace = self.unique(prefix);
        self.apply_yaml(&format!(
            r#"
apiVersion: emr-on-eks.dev/v1alpha1
kind: VirtualCluster
metadata:
  name: {name}
  labels: {{{TEST_LABEL}: {test_id}}}
spec:
  eksClusterName: {eks_cluster}
  namespace: {{name: {namespace}}}
  executionRoles: [{{arn: "{role_arn}"}}]
"#
        ))
        .await;
        let vc = self.virtual_cluster_ready(&name).await;
        let virtual_cluster_id = vc
            .status
            .and_then(|s| s.virtual_cluster_id)
            .expect("a Ready VirtualCluster has its EMR id");
        ReadyVirtualCluster {
            name,
            namespace,
            role_arn,
            virtual_cluster_id,
        }
    }

    /// Waits (up to 90 s) until the operator has made the VirtualCluster `name` Ready.
    pub async fn virtual_cluster_ready(&self, name: &str) -> emr_api::VirtualCluster {
        wait_for(
            &Api::<emr_api::VirtualCluster>::all(self.client.clone()),
            name,
            Duration::from_secs(90),
            "VirtualCluster Ready",
            |vc| {
                vc.status
                    .as_ref()
                    .is_some_and(|s| emr_api::condition::is_true(&s.conditions, "Ready"))
            },
        )
        .await
    }

    /// The raw trust policy document of a role, exactly as IAM returns it (decoded).
    pub async fn trust_policy(&self, role_name: &str) -> Value {
        self.aws
            .iam
            .get_role(role_name)
            .await
            .expect("get role")
            .trust_policy
    }

    /// The SDK configuration pointed at the emulator, for direct SDK calls in tests.
    pub fn sdk_config(&self) -> &aws_config::SdkConfig {
        &self.sdk
    }

    /// Starts the operator binary for one test: it acts only on objects labelled
    /// `TEST_LABEL=<test_id>`, runs as the unprivileged test user with the chart's RBAC, and
    /// without leader election unless `extra_args` turn it on (with `--lease-namespace` set to
    /// an [`Bed::operator_namespace`]: the user may write Leases nowhere else).
    pub async fn start_operator(&self, test_id: &str, extra_args: &[&str]) -> Operator {
        self.start_operator_with_env(test_id, extra_args, &[]).await
    }

    /// Like [`Bed::start_operator`], with environment variables set over the bed's (e.g. its
    /// own `KUBECONFIG`, or an `AWS_ACCESS_KEY_ID` that tells its calls apart in the emulator's
    /// call log).
    pub async fn start_operator_with_env(
        &self,
        test_id: &str,
        extra_args: &[&str],
        env: &[(&str, &str)],
    ) -> Operator {
        let mut op = Operator {
            test_id: test_id.to_string(),
            args: Vec::new(),
            env: self.env.clone(),
            env_overrides: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            child: None,
            metrics_url: String::new(),
            log: testbed_dir().join(format!("logs/operator-{test_id}.log")),
        };
        let port = free_port();
        op.metrics_url = format!("http://127.0.0.1:{port}");
        op.args = vec![
            "run".into(),
            format!("--selector={TEST_LABEL}={test_id}"),
            "--leader-election=false".into(),
            format!("--metrics-address=127.0.0.1:{port}"),
            "--poll-interval=2s".into(),
            "--young-poll-interval=1s".into(),
            "--resync-interval=30s".into(),
            "--aws-max-attempts=2".into(),
        ];
        // An extra `--flag=value` replaces the default of the same flag (clap refuses repeats).
        let flag = |arg: &str| arg.split('=').next().unwrap_or(arg).to_string();
        let overridden: Vec<String> = extra_args.iter().map(|a| flag(a)).collect();
        op.args.retain(|a| !overridden.contains(&flag(a)));
        op.args.extend(extra_args.iter().map(|s| s.to_string()));
        op.start().await;
        op
    }
}

/// The bed's PKI (CA, apiserver serving certificate and key), made by `tests/bed/up.sh`.
pub fn testbed_pki() -> PathBuf {
    testbed_dir().join("pki")
}

/// The bed's state folder: `TESTBED_DIR` (as `tests/bed/up.sh` reads it; `make bench` runs its
/// own bed there), else `<repo>/.testbed`.
pub fn testbed_dir() -> PathBuf {
    std::env::var_os("TESTBED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".testbed"))
}

/// Creates a CRD, or replaces the one there (retrying when another test process got there first).
async fn create_or_replace_crd(
    api: &Api<CustomResourceDefinition>,
    mut crd: CustomResourceDefinition,
) {
    let name = crd.name_any();
    for _ in 0..10 {
        let result = match api.get_opt(&name).await.expect("get CRD") {
            Some(current) => {
                crd.metadata.resource_version = current.metadata.resource_version;
                api.replace(&name, &PostParams::default(), &crd).await
            }
            None => {
                crd.metadata.resource_version = None;
                api.create(&PostParams::default(), &crd).await
            }
        };
        match result {
            Ok(_) => return,
            Err(kube::Error::Api(status)) if status.code == 409 => continue,
            Err(e) => panic!("create/replace CRD {name}: {e}"),
        }
    }
    panic!("create/replace CRD {name}: conflicts kept coming");
}

/// Path of the operator binary `make test` builds before the tests; `EMR_OPERATOR_BINARY`
/// overrides it (`make bench` runs the release build).
pub fn operator_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("EMR_OPERATOR_BINARY") {
        return PathBuf::from(path);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"));
    target.join("debug/emr-on-eks-operator")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A running operator process.
pub struct Operator {
    pub test_id: String,
    pub args: Vec<String>,
    env: BTreeMap<String, String>,
    env_overrides: Vec<(String, String)>,
    child: Option<Child>,
    /// Base URL of its `/metrics`, `/healthz`, `/readyz`.
    pub metrics_url: String,
    /// Its combined stdout and stderr.
    pub log: PathBuf,
}

impl Operator {
    /// Starts (or restarts) the process and waits until it answers `/healthz`.
    pub async fn start(&mut self) {
        let binary = operator_binary();
        assert!(
            binary.exists(),
            "{} is missing: run `cargo build -p emr-on-eks-operator` (make test does)",
            binary.display()
        );
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("operator log");
        let child = Command::new(&binary)
            .args(&self.args)
            .env("KUBECONFIG", &self.env["TESTBED_OPERATOR_KUBECONFIG"])
            .env("AWS_ENDPOINT_URL", &self.env["AWS_ENDPOINT_URL"])
            .env("AWS_REGION", &self.env["AWS_REGION"])
            .env("AWS_ACCESS_KEY_ID", &self.env["AWS_ACCESS_KEY_ID"])
            .env("AWS_SECRET_ACCESS_KEY", &self.env["AWS_SECRET_ACCESS_KEY"])
            .env("EMR_OPERATOR_LOG_LEVEL", "info,emr_operator=debug")
            .env("POD_NAME", format!("operator-{}", self.test_id))
            .envs(self.env_overrides.iter().map(|(k, v)| (k, v)))
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("spawn operator");
        self.child = Some(child);
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = http
                .get(format!("{}/healthz", self.metrics_url))
                .send()
                .await
                && r.status().is_success()
            {
                return;
            }
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                panic!("operator exited with {status}; log:\n{}", self.log_tail(40));
            }
            assert!(
                Instant::now() < deadline,
                "operator did not answer /healthz; log:\n{}",
                self.log_tail(40)
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// SIGKILL, as a node failure or OOM kill would: no graceful shutdown.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM and wait for the process to exit on its own.
    pub fn terminate(&mut self) -> Option<std::process::ExitStatus> {
        let mut child = self.child.take()?;
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        child.wait().ok()
    }

    /// Whether the process is running.
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// Its exit status, once it has exited on its own.
    pub fn exit_status(&mut self) -> Option<std::process::ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    /// The text of its `/metrics`.
    pub async fn metrics(&self) -> String {
        reqwest::get(format!("{}/metrics", self.metrics_url))
            .await
            .expect("GET /metrics")
            .text()
            .await
            .expect("metrics body")
    }

    /// The last `lines` lines of its log.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Polls `api.get(name)` until `pred` holds; panics after `timeout` showing the last object seen.
pub async fn wait_for<K>(
    api: &Api<K>,
    name: &str,
    timeout: Duration,
    what: &str,
    pred: impl Fn(&K) -> bool,
) -> K
where
    K: Clone + DeserializeOwned + Debug + serde::Serialize,
{
    let deadline = Instant::now() + timeout;
    let mut last: Option<K> = None;
    loop {
        match api.get_opt(name).await {
            Ok(Some(obj)) => {
                if pred(&obj) {
                    return obj;
                }
                last = Some(obj);
            }
            Ok(None) => {}
            Err(e) => eprintln!("wait_for {what}: get {name}: {e}"),
        }
        if Instant::now() >= deadline {
            let shown = last
                .map(|o| serde_saphyr::to_string(&o).unwrap_or_default())
                .unwrap_or_else(|| "<never seen>".into());
            panic!("timed out after {timeout:?} waiting for {what} ({name}); last seen:\n{shown}");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Polls until `name` no longer exists.
pub async fn wait_gone<K>(api: &Api<K>, name: &str, timeout: Duration, what: &str)
where
    K: Clone + DeserializeOwned + Debug,
{
    let deadline = Instant::now() + timeout;
    loop {
        match api.get_opt(name).await {
            Ok(None) => return,
            Ok(Some(obj)) if Instant::now() >= deadline => {
                panic!(
                    "timed out after {timeout:?} waiting for {what} ({name}) to go; still:\n{obj:?}"
                )
            }
            _ => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
}

/// The AWS emulator's control API.
pub struct Emulator {
    pub base: String,
    http: reqwest::Client,
}

impl Emulator {
    async fn get(&self, path: &str, query: &[(&str, &str)]) -> Value {
        self.http
            .get(format!("{}{path}", self.base))
            .query(query)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
            .json()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    /// Logged AWS calls matching the filters (`service`, `operation`, `virtualClusterId`, ...).
    pub async fn calls(&self, filters: &[(&str, &str)]) -> Vec<Value> {
        let body = self.get("/_emulator/calls", filters).await;
        body["calls"].as_array().cloned().unwrap_or_default()
    }

    /// Requests strict validation refused (model violations and quotas) matching the filters
    /// (`accessKeyId`, `service`, `operation`, `sinceSeq`), each with the `error` it answered.
    pub async fn violations(&self, filters: &[(&str, &str)]) -> Vec<Value> {
        let body = self.get("/_emulator/violations", filters).await;
        body["violations"].as_array().cloned().unwrap_or_default()
    }

    /// Every StartJobRun body the emulator received (with `virtualClusterId`, `jobRunId`, `body`).
    pub async fn start_job_run_requests(&self, virtual_cluster_id: Option<&str>) -> Vec<Value> {
        let query: Vec<(&str, &str)> = virtual_cluster_id
            .map(|v| ("virtualClusterId", v))
            .into_iter()
            .collect();
        let body = self.get("/_emulator/start-job-run-requests", &query).await;
        body["requests"].as_array().cloned().unwrap_or_default()
    }

    /// Replaces the fault configuration (global to the emulator: tests that set faults should
    /// scope them with `operations`/`services` and clear them).
    pub async fn set_faults(&self, faults: Value) {
        let r = self
            .http
            .post(format!("{}/_emulator/faults", self.base))
            .json(&faults)
            .send()
            .await
            .expect("POST faults");
        assert!(r.status().is_success(), "POST faults: {}", r.status());
    }

    /// Clears every fault.
    pub async fn clear_faults(&self) {
        let _ = self
            .http
            .delete(format!("{}/_emulator/faults", self.base))
            .send()
            .await;
    }
}

/// Labels a manifest's metadata with the test label (for manifests built as JSON).
pub fn with_test_label(mut manifest: Value, test_id: &str) -> Value {
    manifest["metadata"]["labels"][TEST_LABEL] = json!(test_id);
    manifest
}
