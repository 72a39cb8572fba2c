//! The objects the operator makes in a VirtualCluster's namespace (RoleBinding, service accounts,
//! guard rails): what they all carry ([`plan`]: owner, labels, "already says it") and how any of
//! them is applied, deleted, listed or let go of ([`apply`]). The steps say which ones they want.

pub mod apply;
pub mod plan;

pub use apply::{
    Applied, contains_object, converge_child, delete_children, orphan_children, report,
};
pub use plan::{Owner, annotations, child_meta, labels};
