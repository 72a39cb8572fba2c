//! EMR's entry in `kube-system/aws-auth`: the mapRoles YAML edited entry by entry ([`plan`]) and
//! the ConfigMap read and written under optimistic concurrency ([`apply`]).

pub mod apply;
pub mod plan;
pub mod yaml;
