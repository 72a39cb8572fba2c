//! What the kinds standing for an immutable EMR object (SparkJobTemplate, SecurityConfiguration)
//! share: EMR cannot update such an object, so a spec change creates a new one and the previous
//! ones are listed in `status.previous` until they are deleted (once nothing uses them).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::condition::Condition;
use crate::time::Timestamp;

/// An EMR object that served an earlier spec and waits to be deleted.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PreviousObject {
    /// Its EMR id.
    #[schemars(length(min = 1, max = 64))]
    pub id: String,
    /// When a newer one replaced it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaced_at: Option<Timestamp>,
}

/// Read and write access to the fields every such status has, whatever its id is called.
pub trait ReplacedObjectStatus: Default + Clone {
    fn current_id(&self) -> Option<&str>;
    fn set_current_id(&mut self, id: Option<String>);
    fn arn(&self) -> Option<&str>;
    fn set_arn(&mut self, arn: Option<String>);
    fn recreations(&self) -> i32;
    fn set_recreations(&mut self, n: i32);
    fn previous(&self) -> &[PreviousObject];
    fn set_previous(&mut self, previous: Vec<PreviousObject>);
    fn conditions(&self) -> &[Condition];
    fn conditions_mut(&mut self) -> &mut Vec<Condition>;
    fn set_observed_generation(&mut self, generation: Option<i64>);
    fn set_message(&mut self, message: Option<String>);
}

/// Defines a status struct with the shared fields, its id field named `$id` (e.g.
/// `job_template_id`, shown as `jobTemplateId`), and implements [`ReplacedObjectStatus`].
#[macro_export]
macro_rules! emr_object_status {
    ($(#[$doc:meta])* $name:ident, $(#[$id_doc:meta])* $id:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
        #[serde(rename_all = "camelCase")]
        pub struct $name {
            /// The `.metadata.generation` this status describes.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub observed_generation: Option<i64>,
            $(#[$id_doc])*
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub $id: Option<String>,
            /// Its ARN.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub arn: Option<String>,
            /// How many times the EMR object was recreated after it was deleted outside the
            /// operator; part of the next create's client token.
            #[serde(default)]
            #[schemars(range(min = 0, max = 2147483647))]
            pub recreations: i32,
            /// EMR objects of earlier specs, deleted once nothing uses them any more.
            #[serde(default, skip_serializing_if = "Vec::is_empty")]
            #[schemars(length(max = 100))]
            pub previous: Vec<$crate::emr_object::PreviousObject>,
            /// Conditions: Ready (with the reason why not).
            #[serde(default)]
            pub conditions: Vec<$crate::condition::Condition>,
            /// One line saying what the object is doing or waiting for.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub message: Option<String>,
        }

        impl $crate::emr_object::ReplacedObjectStatus for $name {
            fn current_id(&self) -> Option<&str> {
                self.$id.as_deref()
            }
            fn set_current_id(&mut self, id: Option<String>) {
                self.$id = id;
            }
            fn arn(&self) -> Option<&str> {
                self.arn.as_deref()
            }
            fn set_arn(&mut self, arn: Option<String>) {
                self.arn = arn;
            }
            fn recreations(&self) -> i32 {
                self.recreations
            }
            fn set_recreations(&mut self, n: i32) {
                self.recreations = n;
            }
            fn previous(&self) -> &[$crate::emr_object::PreviousObject] {
                &self.previous
            }
            fn set_previous(&mut self, previous: Vec<$crate::emr_object::PreviousObject>) {
                self.previous = previous;
            }
            fn conditions(&self) -> &[$crate::condition::Condition] {
                &self.conditions
            }
            fn conditions_mut(&mut self) -> &mut Vec<$crate::condition::Condition> {
                &mut self.conditions
            }
            fn set_observed_generation(&mut self, generation: Option<i64>) {
                self.observed_generation = generation;
            }
            fn set_message(&mut self, message: Option<String>) {
                self.message = message;
            }
        }
    };
}
pub use emr_object_status;

/// Tag naming the object generation an EMR object was created for: with [`crate::labels::TAG_UID`]
/// it proves which object and spec an EMR object belongs to (status alone proves nothing).
pub const TAG_GENERATION: &str = "emr-on-eks.dev/generation";

/// Condition reasons shared by both kinds.
pub mod reasons {
    /// The EMR object exists and matches the spec.
    pub const READY: &str = "Ready";
    /// A new EMR object was just created for the current spec.
    pub const CREATED: &str = "Created";
    /// The spec changed: a new EMR object serves it, older ones wait in status.previous.
    pub const REPLACED: &str = "Replaced";
    /// The EMR object was deleted outside the operator and has been recreated.
    pub const RECREATED: &str = "Recreated";
    /// Status named an EMR object that is not this object's; it was dropped, never deleted.
    pub const FORGED_STATUS: &str = "ForgedStatus";
    /// Deletion waits until nothing uses the EMR objects any more.
    pub const IN_USE: &str = "InUse";
    /// The spec breaks a rule the schema could not check.
    pub const INVALID_SPEC: &str = "InvalidSpec";
    /// EMR refused the object (ValidationException).
    pub const EMR_VALIDATION_ERROR: &str = "EmrValidationError";
    /// The operator lacks a permission.
    pub const ACCESS_DENIED: &str = "AccessDenied";
}
