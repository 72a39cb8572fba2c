//! An EMR object created in a pass whose status write did not land (an edit or a deletion
//! moved the object's version meanwhile, or a later call of the pass failed) is recorded
//! nowhere: a pass for a newer spec or for the deletion would never retire it. Its id is
//! carried into the fresh version's `status.previous`, where retirement and deletion find it.
//! (The same spec's next pass gets it back anyway: its create repeats the client token.)

use emr_api::emr_object::{PreviousObject, ReplacedObjectStatus};
use emr_api::time::Timestamp;
use kube::ResourceExt;

use super::{Error, Kind};
use crate::kit::{self, Precondition};

/// How often the carry reads afresh when its own write meets a newer version.
const ATTEMPTS: usize = 3;

/// `status` with `id` listed in `previous`, or `None` when status names it already.
pub fn with_previous<S: ReplacedObjectStatus>(status: &S, id: &str) -> Option<S> {
    let known = status.current_id() == Some(id) || status.previous().iter().any(|p| p.id == id);
    if known {
        return None;
    }
    let mut previous = status.previous().to_vec();
    previous.push(PreviousObject {
        id: id.to_owned(),
        replaced_at: Some(Timestamp::now()),
    });
    let mut carried = status.clone();
    carried.set_previous(previous);
    Some(carried)
}

/// Writes `id` into the fresh object's `status.previous`.
pub async fn record_unrecorded<K: Kind>(
    kind: &K,
    object: &K::Object,
    id: &str,
) -> Result<(), Error> {
    let api = kind.api(object);
    let name = object.name_any();
    let kube = |action, source| Error::Kube {
        kind: K::KIND,
        object: name.clone(),
        action,
        source,
    };
    for _ in 0..ATTEMPTS {
        let Some(fresh) = api
            .get_opt(&name)
            .await
            .map_err(|e| kube("read afresh", e))?
        else {
            return Ok(());
        };
        let old = K::status(&fresh).cloned().unwrap_or_default();
        let Some(new) = with_previous(&old, id) else {
            return Ok(());
        };
        match kit::status::replace(&api, &fresh, Precondition::of(&fresh), &old, &new).await {
            Ok(_) => return Ok(()),
            Err(error) if error.is_stale() => continue,
            Err(error) => return Err(kube("record an unrecorded create", error.into_kube())),
        }
    }
    Err(Error::Stale {
        kind: K::KIND,
        object: name,
    })
}

#[cfg(test)]
mod tests {
    use emr_api::spark_job_template::SparkJobTemplateStatus;

    use super::*;

    #[test]
    fn an_unrecorded_id_is_added_to_previous_once() {
        let mut status = SparkJobTemplateStatus::default();
        status.set_current_id(Some("t1".into()));
        let carried = with_previous(&status, "t2").unwrap();
        assert_eq!(carried.current_id(), Some("t1"));
        let ids: Vec<&str> = carried.previous().iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["t2"]);
        assert!(with_previous(&carried, "t2").is_none());
        assert!(with_previous(&carried, "t1").is_none());
    }
}
