//! Names of the things the VirtualCluster controller creates or edits, spelled once.

use emr_api::labels::VIRTUAL_CLUSTER_FINALIZER;

use crate::kit::finalizer::Finalizer;

/// The controller's name in metrics and logs.
pub const CONTROLLER: &str = "VirtualCluster";

/// Added before the operator changes anything outside the object, removed once deletion has
/// undone what the policy says.
pub const FINALIZER: Finalizer = Finalizer(VIRTUAL_CLUSTER_FINALIZER);

/// The RoleBinding EMR's service-linked role acts through (eksctl's spelling), and the Role
/// operators before 0.2 created under the same name.
pub const EMR_ROLE: &str = "emr-containers";
/// The API group of Roles, RoleBindings and their subjects.
pub const RBAC_GROUP: &str = "rbac.authorization.k8s.io";
/// The Kubernetes user the aws-auth entry maps EMR's service-linked role to.
pub const EMR_USER: &str = "emr-containers";
/// EMR on EKS's service-linked role.
pub const EMR_SERVICE_LINKED_ROLE: &str = "AWSServiceRoleForAmazonEMRContainers";

/// The ConfigMap EKS maps IAM identities with, in `kube-system`.
pub const AWS_AUTH_NAMESPACE: &str = "kube-system";
pub const AWS_AUTH_NAME: &str = "aws-auth";
pub const AWS_AUTH_MAP_ROLES: &str = "mapRoles";
/// Set on aws-auth when the operator (rather than a person or eksctl) added EMR's entry, so the
/// entry is removed only if the operator added it.
pub const AWS_AUTH_ENTRY_ADDED_ANNOTATION: &str = "emr-on-eks.dev/emr-containers-entry-added";

/// The annotation IRSA reads on a service account.
pub const IRSA_ROLE_ANNOTATION: &str = "eks.amazonaws.com/role-arn";

/// Guard-rail objects in the tenant namespace.
pub const RESOURCE_QUOTA: &str = "emr-tenant-quota";
pub const LIMIT_RANGE: &str = "emr-tenant-limits";
pub const NETWORK_POLICY: &str = "emr-tenant-isolation";
