//! The pure half of replace-then-retire: whose an EMR object is (from its tags, never from
//! status), whether the current one still serves the spec, the create's client token, and what
//! to do with each previous one.

use std::collections::BTreeMap;

use emr_api::emr_object::TAG_GENERATION;
use emr_api::labels::TAG_UID;

/// What DescribeX said about an id status names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Found {
    /// Tagged with this object's uid; `generation` is the spec generation it was made for.
    Ours { generation: Option<i64> },
    /// Exists but is not this object's: status was forged or copied. Never deleted.
    NotOurs,
    /// EMR has no such object.
    Gone,
}

/// Reads ownership from an existing EMR object's tags.
pub fn ownership(tags: &BTreeMap<String, String>, uid: &str) -> Found {
    if tags.get(TAG_UID).map(String::as_str) != Some(uid) {
        return Found::NotOurs;
    }
    let generation = tags.get(TAG_GENERATION).and_then(|g| g.parse().ok());
    Found::Ours { generation }
}

/// Why a new EMR object is created.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Why {
    /// None recorded yet.
    First,
    /// The spec changed: the current one moves to `previous`.
    SpecChanged,
    /// The recorded one was deleted outside the operator.
    DeletedOutside,
    /// Status named an object that is not ours: dropped, never deleted.
    NotOurs,
}

/// What to do about the current EMR object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Current {
    Keep,
    Create {
        why: Why,
        /// The client token: the same across retries and crashes for the same spec.
        client_token: String,
        /// `status.recreations` once created.
        recreations: i32,
    },
}

/// EMR's limit on a client token.
const MAX_CLIENT_TOKEN: usize = 64;

/// `<uid>-<generation>`, plus `-r<n>` after the n-th recreation (the old token would hand back
/// the deleted object, or nothing, depending on EMR's memory of it). At most 64 characters.
pub fn client_token(uid: &str, generation: i64, recreations: i32) -> String {
    let suffix = if recreations > 0 {
        format!("-{generation}-r{recreations}")
    } else {
        format!("-{generation}")
    };
    let keep = MAX_CLIENT_TOKEN.saturating_sub(suffix.len());
    let uid: String = uid.chars().take(keep).collect();
    format!("{uid}{suffix}")
}

/// Decides about the current EMR object: `found` is what EMR said of the id status records
/// (`None` when status records none).
pub fn current(uid: &str, generation: i64, recreations: i32, found: Option<&Found>) -> Current {
    let create = |why, recreations: i32| Current::Create {
        why,
        client_token: client_token(uid, generation, recreations),
        recreations,
    };
    match found {
        None => create(Why::First, recreations),
        Some(Found::Ours { generation: made }) if *made == Some(generation) => Current::Keep,
        Some(Found::Ours { .. }) => create(Why::SpecChanged, recreations),
        Some(Found::Gone) => create(Why::DeletedOutside, recreations.saturating_add(1)),
        Some(Found::NotOurs) => create(Why::NotOurs, recreations),
    }
}

/// What to do with a previous EMR object (or, on deletion, with any).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Retire {
    /// Still used: kept until its users finish.
    Wait { users: Vec<String> },
    /// Ours and unused: delete it in EMR.
    Delete,
    /// Already gone: forget it.
    Forget,
    /// Not ours: forget it without deleting (status can be forged).
    ForgetForged,
}

/// Decides about one previous object from its users and (when it has none) what EMR said.
pub fn retire(users: Vec<String>, found: Option<&Found>) -> Retire {
    if !users.is_empty() {
        return Retire::Wait { users };
    }
    match found {
        Some(Found::Ours { .. }) => Retire::Delete,
        Some(Found::NotOurs) => Retire::ForgetForged,
        Some(Found::Gone) | None => Retire::Forget,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const UID: &str = "6f1c1d8e-7a1b-4b0e-9c55-0f7a2a1d9e11";

    fn tags(uid: &str, generation: &str) -> BTreeMap<String, String> {
        [
            (TAG_UID.to_owned(), uid.to_owned()),
            (TAG_GENERATION.to_owned(), generation.to_owned()),
        ]
        .into_iter()
        .collect()
    }

    #[test]
    fn ownership_comes_from_the_uid_tag_only() {
        assert_eq!(
            ownership(&tags(UID, "3"), UID),
            Found::Ours {
                generation: Some(3)
            }
        );
        assert_eq!(ownership(&tags("someone-else", "3"), UID), Found::NotOurs);
        assert_eq!(ownership(&BTreeMap::new(), UID), Found::NotOurs);
        assert_eq!(
            ownership(&tags(UID, "x"), UID),
            Found::Ours { generation: None }
        );
    }

    #[test]
    fn tokens_are_deterministic_bounded_and_move_on_after_a_recreation() {
        assert_eq!(client_token(UID, 2, 0), format!("{UID}-2"));
        assert_eq!(client_token(UID, 2, 0), client_token(UID, 2, 0));
        assert_eq!(client_token(UID, 2, 1), format!("{UID}-2-r1"));
        assert_ne!(client_token(UID, 3, 0), client_token(UID, 2, 0));
        let long = "u".repeat(100);
        let token = client_token(&long, i64::MAX, i32::MAX);
        assert_eq!(token.chars().count(), 64);
        assert!(token.ends_with(&format!("-{}-r{}", i64::MAX, i32::MAX)));
    }

    #[test]
    fn the_current_object_is_kept_only_when_ours_and_of_this_generation() {
        let ours = |g| Found::Ours {
            generation: Some(g),
        };
        assert_eq!(current(UID, 2, 0, Some(&ours(2))), Current::Keep);
        assert_eq!(
            current(UID, 3, 0, Some(&ours(2))),
            Current::Create {
                why: Why::SpecChanged,
                client_token: client_token(UID, 3, 0),
                recreations: 0
            }
        );
        assert_eq!(
            current(UID, 2, 0, None),
            Current::Create {
                why: Why::First,
                client_token: client_token(UID, 2, 0),
                recreations: 0
            }
        );
        assert_eq!(
            current(UID, 2, 1, Some(&Found::Gone)),
            Current::Create {
                why: Why::DeletedOutside,
                client_token: client_token(UID, 2, 2),
                recreations: 2
            }
        );
        assert!(matches!(
            current(UID, 2, 0, Some(&Found::NotOurs)),
            Current::Create {
                why: Why::NotOurs,
                ..
            }
        ));
        assert!(matches!(
            current(UID, 2, 0, Some(&Found::Ours { generation: None })),
            Current::Create {
                why: Why::SpecChanged,
                ..
            }
        ));
    }

    #[test]
    fn a_previous_object_is_deleted_only_when_unused_and_ours() {
        let ours = Found::Ours {
            generation: Some(1),
        };
        assert_eq!(
            retire(vec!["ns/run".into()], Some(&ours)),
            Retire::Wait {
                users: vec!["ns/run".into()]
            }
        );
        assert_eq!(retire(vec![], Some(&ours)), Retire::Delete);
        assert_eq!(retire(vec![], Some(&Found::NotOurs)), Retire::ForgetForged);
        assert_eq!(retire(vec![], Some(&Found::Gone)), Retire::Forget);
        // In use wins even over a forged entry: nothing is looked up or deleted then.
        assert!(matches!(
            retire(vec!["x".into()], Some(&Found::NotOurs)),
            Retire::Wait { .. }
        ));
    }
}
