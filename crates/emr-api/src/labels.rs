//! Labels, annotations and finalizers the operator puts on objects, in one place so the
//! controllers, the Helm chart's Argo CD settings and the tests agree on their spelling.

/// Finalizer on a VirtualCluster: the EMR virtual cluster and trust statements still exist.
pub const VIRTUAL_CLUSTER_FINALIZER: &str = "emr-on-eks.dev/virtual-cluster";
/// Finalizer on a SparkJobRun: its EMR job run may still be running.
pub const SPARK_JOB_RUN_FINALIZER: &str = "emr-on-eks.dev/job-run";
/// Finalizer on a SparkJobTemplate: its EMR job templates still exist.
pub const SPARK_JOB_TEMPLATE_FINALIZER: &str = "emr-on-eks.dev/job-template";
/// Finalizer on a SecurityConfiguration: its EMR security configurations still exist.
pub const SECURITY_CONFIGURATION_FINALIZER: &str = "emr-on-eks.dev/security-configuration";

/// Names the VirtualCluster that manages an object (namespace, Role, ConfigMap entry owner, ...).
/// Cluster-scoped and cross-namespace children cannot carry an owner reference to a
/// cluster-scoped owner in every case, so the label is the durable link.
pub const VIRTUAL_CLUSTER_LABEL: &str = "emr-on-eks.dev/virtual-cluster";
/// Set on a namespace the operator created (as opposed to adopted), so deletion removes only that.
pub const CREATED_BY_OPERATOR_ANNOTATION: &str = "emr-on-eks.dev/created-by-operator";
/// The usual label for objects a controller manages.
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
/// Value of [`MANAGED_BY_LABEL`].
pub const MANAGED_BY_VALUE: &str = "emr-on-eks-operator";
/// Argo CD: never prune or compare an object the operator creates on a user's behalf.
pub const ARGOCD_COMPARE_OPTIONS_ANNOTATION: &str = "argocd.argoproj.io/compare-options";
/// Argo CD: value for [`ARGOCD_COMPARE_OPTIONS_ANNOTATION`].
pub const ARGOCD_IGNORE_EXTRANEOUS: &str = "IgnoreExtraneous";
/// Tag put on every EMR virtual cluster and job run the operator starts, naming its object.
pub const TAG_OBJECT: &str = "emr-on-eks.dev/object";
/// Tag naming the Kubernetes UID of the object that started an EMR resource.
pub const TAG_UID: &str = "emr-on-eks.dev/uid";

/// Prefix of every label and annotation key the operator owns. A VirtualCluster may not set
/// such keys on its namespace (`spec.namespace.labels/annotations`): they are the operator's
/// ownership markers, and a tenant who could set them could make one object look like another's.
pub const RESERVED_KEY_PREFIX: &str = "emr-on-eks.dev/";

/// Keys outside [`RESERVED_KEY_PREFIX`] that the operator itself sets on a namespace.
pub const OPERATOR_OWN_KEYS: [&str; 2] = [MANAGED_BY_LABEL, ARGOCD_COMPARE_OPTIONS_ANNOTATION];

/// Whether a label or annotation key is one the operator reserves for itself.
pub fn is_reserved_key(key: &str) -> bool {
    key.starts_with(RESERVED_KEY_PREFIX) || OPERATOR_OWN_KEYS.contains(&key)
}
