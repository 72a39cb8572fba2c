//! What a watch event asks to reconcile, for watches whose reflector also fills a store that the
//! reconcile reads. A reflector holds the objects of a (re-)list apart and puts them in its store
//! only at `InitDone`, so they are asked for then: asked for earlier, a reconcile would read the
//! store as it was before the list (an object created or changed while the watch was down would
//! be missing or stale, and nothing would ask again).

use kube::runtime::watcher::Event;

/// A change a watch event reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Created or modified (also each object of a list, at `InitDone`).
    Applied,
    /// Deleted.
    Deleted,
}

/// What `event` asks to reconcile: `wake` turns each changed object into what to ask for (or
/// nothing); a list's objects are kept in `listed` until its `InitDone`.
pub fn triggered<K, T>(
    listed: &mut Vec<T>,
    event: Event<K>,
    wake: impl Fn(K, Change) -> Option<T>,
) -> Vec<T> {
    match event {
        Event::Apply(object) => wake(object, Change::Applied).into_iter().collect(),
        Event::Delete(object) => wake(object, Change::Deleted).into_iter().collect(),
        Event::Init => {
            listed.clear();
            Vec::new()
        }
        Event::InitApply(object) => {
            listed.extend(wake(object, Change::Applied));
            Vec::new()
        }
        Event::InitDone => std::mem::take(listed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(n: u32, change: Change) -> Option<(u32, Change)> {
        Some((n, change))
    }

    #[test]
    fn a_listed_object_is_asked_for_once_the_list_is_done() {
        let mut listed = Vec::new();
        assert!(triggered(&mut listed, Event::Init, all).is_empty());
        assert!(triggered(&mut listed, Event::InitApply(1), all).is_empty());
        assert!(triggered(&mut listed, Event::InitApply(2), all).is_empty());
        assert_eq!(
            triggered(&mut listed, Event::InitDone, all),
            [(1, Change::Applied), (2, Change::Applied)]
        );
        assert_eq!(
            triggered(&mut listed, Event::Apply(3), all),
            [(3, Change::Applied)]
        );
        assert_eq!(
            triggered(&mut listed, Event::Delete(3), all),
            [(3, Change::Deleted)]
        );
        // A list redone after an error starts afresh.
        assert!(triggered(&mut listed, Event::InitApply(4), all).is_empty());
        assert!(triggered(&mut listed, Event::Init, all).is_empty());
        assert!(triggered(&mut listed, Event::InitDone, all).is_empty());
    }

    #[test]
    fn what_wake_refuses_is_never_asked_for() {
        let mut listed = Vec::new();
        let odd = |n: u32, _| (n % 2 == 1).then_some(n);
        assert!(triggered(&mut listed, Event::InitApply(1), odd).is_empty());
        assert!(triggered(&mut listed, Event::InitApply(2), odd).is_empty());
        assert_eq!(triggered(&mut listed, Event::InitDone, odd), [1]);
        assert!(triggered(&mut listed, Event::Apply(4), odd).is_empty());
    }
}
