//! A deleted object: cancel its run, wait for EMR to confirm (or give up), let it go.

use super::*;

pub(super) fn deleting(f: &Facts, mut status: SparkJobRunStatus, since: DateTime<Utc>) -> Decision {
    let key = current_run(f.status);
    if !f.has_finalizer {
        return Decision::new(status, Effect::None, None);
    }
    if f.now - since >= DELETION_GIVE_UP {
        let event = key.as_ref().map(|k| {
            Event::warning(
                "CancellationUnconfirmed",
                "Delete",
                format!(
                    "EMR did not confirm the cancellation of job run {} within {}; letting the object \
                     go (the job run may still be running)",
                    k.job_run_id,
                    text::duration(DELETION_GIVE_UP)
                ),
            )
        });
        let forget = key.filter(|_| phase(f.status) == Phase::Active);
        return Decision::new(status, Effect::Release { forget, event }, None);
    }
    if first_attempt_unrecorded(f.status, f.has_finalizer) {
        return unrecorded_for_deletion(f, status);
    }
    match phase(f.status) {
        Phase::Unsubmitted | Phase::WaitingToResubmit | Phase::Finished => Decision::new(
            status,
            Effect::Release {
                forget: key,
                event: None,
            },
            None,
        ),
        Phase::Submitting => match &f.status.virtual_cluster_id {
            Some(vc) => Decision::new(
                status,
                Effect::FindForDeletion {
                    virtual_cluster_id: vc.clone(),
                    attempt: f.status.attempt,
                    since: sent_since(f, submitting_since(f.status)),
                },
                Some(DELETION_RECHECK),
            ),
            None => Decision::new(
                status,
                Effect::Release {
                    forget: None,
                    event: None,
                },
                None,
            ),
        },
        Phase::Active => {
            let Some(key) = key else {
                return Decision::new(
                    status,
                    Effect::Release {
                        forget: None,
                        event: None,
                    },
                    None,
                );
            };
            match f.observed {
                Some(o) if o.is_final() => Decision::new(
                    status,
                    Effect::Release {
                        forget: Some(key),
                        event: None,
                    },
                    None,
                ),
                observed => {
                    let cancelling = match observed {
                        Some(Observation::Seen(info)) => {
                            mirror(&mut status, info);
                            let message = format!(
                                "{} {} while the SparkJobRun is being deleted (attempt {})",
                                run_label(&status),
                                info.state.as_str(),
                                status.attempt
                            );
                            conditions::active(
                                &mut status,
                                f.generation,
                                info.state.as_str(),
                                &message,
                            );
                            info.state == JobRunState::CancelPending
                        }
                        _ => false,
                    };
                    let effect = if cancelling || f.cancel_requested {
                        Effect::Track {
                            key,
                            since: run_since(f, &status),
                        }
                    } else {
                        Effect::CancelForDeletion(key)
                    };
                    Decision::new(status, effect, Some(DELETION_RECHECK))
                }
            }
        }
    }
}

/// Deleted while attempt 1 may have been sent unrecorded: its run, if any, is found by token in
/// the virtual cluster the spec resolves to (and then cancelled like any running job). The
/// status carries the attempt, so that an adopted run is the recorded attempt's.
fn unrecorded_for_deletion(f: &Facts, mut status: SparkJobRunStatus) -> Decision {
    let virtual_cluster_id = match f.target {
        None => return Decision::new(status, Effect::NeedVirtualCluster, None),
        Some(Resolution::Ready { virtual_cluster_id }) => virtual_cluster_id.clone(),
        // Nowhere a run could be looked for: the virtual cluster is gone or not this object's.
        Some(Resolution::Waiting { .. } | Resolution::Refused { .. }) => {
            return Decision::new(
                status,
                Effect::Release {
                    forget: None,
                    event: None,
                },
                None,
            );
        }
    };
    begin_attempt(f, &mut status, 1, &virtual_cluster_id, true);
    Decision::new(
        status,
        Effect::FindForDeletion {
            virtual_cluster_id,
            attempt: 1,
            since: sent_since(f, None),
        },
        Some(DELETION_RECHECK),
    )
}
