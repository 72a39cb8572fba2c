"""Job runs behave like EMR's: timed states, tagged outcomes, idempotency, cancel, filters."""

import time
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError
from helpers import INSTANT, describe, start, wait_for

FINAL = {"COMPLETED", "FAILED", "CANCELLED"}


def test_default_job_goes_through_every_state_to_completed(emr, vc):
    before = datetime.now(UTC)
    # One-second phases, so a slow poll on a loaded machine still sees every state.
    phases = {"emulator/pending-seconds": "1", "emulator/submitted-seconds": "1", "emulator/run-seconds": "1"}
    job = start(emr, vc, tags=phases)
    seen: list[str] = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        state = describe(emr, vc, job)["state"]
        if not seen or seen[-1] != state:
            seen.append(state)
        if state in FINAL:
            break
        time.sleep(0.03)
    assert seen == ["PENDING", "SUBMITTED", "RUNNING", "COMPLETED"]

    run = describe(emr, vc, job)
    # A real timestamp, not moto's midnight.
    assert abs(run["createdAt"] - before) < timedelta(seconds=5)
    assert run["finishedAt"] > run["createdAt"]
    assert "failureReason" not in run
    assert "stateDetails" not in run


def test_tagged_failure_reports_reason_and_details(emr, vc):
    tags = {
        **INSTANT,
        "emulator/outcome": "FAILED",
        "emulator/failure-reason": "USER_ERROR",
        "emulator/state-details": "Spark driver exited with code 1",
    }
    job = start(emr, vc, tags=tags)
    run = wait_for(emr, vc, job, FINAL)
    assert run["state"] == "FAILED"
    assert run["failureReason"] == "USER_ERROR"
    assert run["stateDetails"] == "Spark driver exited with code 1"
    assert "finishedAt" in run


def test_failed_outcome_defaults_to_user_error(emr, vc):
    job = start(emr, vc, tags={**INSTANT, "emulator/outcome": "FAILED"})
    run = wait_for(emr, vc, job, FINAL)
    assert (run["state"], run["failureReason"]) == ("FAILED", "USER_ERROR")
    assert run["stateDetails"]


def test_tagged_cancelled_outcome(emr, vc):
    job = start(emr, vc, tags={**INSTANT, "emulator/outcome": "CANCELLED"})
    run = wait_for(emr, vc, job, FINAL)
    assert run["state"] == "CANCELLED"
    assert "failureReason" not in run


def test_fail_first_fails_the_first_n_runs_of_a_name_then_completes(emr, vc):
    tags = {**INSTANT, "emulator/fail-first": "2", "emulator/failure-reason": "INTERNAL_ERROR"}
    outcomes = []
    for _ in range(3):
        job = start(emr, vc, name="retried", tags=tags)
        run = wait_for(emr, vc, job, FINAL)
        outcomes.append((run["state"], run.get("failureReason")))
    assert outcomes == [("FAILED", "INTERNAL_ERROR"), ("FAILED", "INTERNAL_ERROR"), ("COMPLETED", None)]
    # Another name has its own count.
    other = start(emr, vc, name="other", tags=tags)
    assert wait_for(emr, vc, other, FINAL)["state"] == "FAILED"


def test_repeated_client_token_returns_the_same_job_run(emulator, emr, vc):
    first = start(emr, vc, clientToken="uid-1234-attempt-1")
    second = start(emr, vc, clientToken="uid-1234-attempt-1")
    assert first == second
    assert [r["id"] for r in emr.list_job_runs(virtualClusterId=vc)["jobRuns"]] == [first]
    # Both requests reached the emulator and were logged, answering the same job run.
    starts = emulator.calls("?service=emr-containers&operation=StartJobRun")
    assert [(c["status"], c["jobRunId"], c["virtualClusterId"]) for c in starts] == [(200, first, vc)] * 2
    bodies = emulator.start_requests()
    assert [b["body"]["clientToken"] for b in bodies] == ["uid-1234-attempt-1"] * 2
    # A new token is a new job run.
    assert start(emr, vc, clientToken="uid-1234-attempt-2") != first


def test_start_job_run_request_is_logged_exactly(emulator, emr, vc):
    overrides = {
        "applicationConfiguration": [
            {"classification": "spark-defaults", "properties": {"spark.executor.instances": "2"}}
        ],
        "monitoringConfiguration": {"persistentAppUI": "ENABLED"},
    }
    job = start(
        emr,
        vc,
        name="logged",
        tags={"team": "a"},
        clientToken="tok",
        configurationOverrides=overrides,
        retryPolicyConfiguration={"maxAttempts": 3},
    )
    (entry,) = emulator.start_requests(f"?virtualClusterId={vc}")
    assert entry["jobRunId"] == job and entry["status"] == 200
    body = entry["body"]
    assert body["name"] == "logged"
    assert body["configurationOverrides"] == overrides
    assert body["retryPolicyConfiguration"] == {"maxAttempts": 3}
    assert body["jobDriver"]["sparkSubmitJobDriver"]["entryPointArguments"] == ["a"]


def test_retry_policy_is_kept_and_reported(emr, vc):
    job = start(emr, vc, retryPolicyConfiguration={"maxAttempts": 3})
    run = describe(emr, vc, job)
    assert run["retryPolicyConfiguration"] == {"maxAttempts": 3}
    assert run["retryPolicyExecution"] == {"currentAttemptCount": 1}
    plain = describe(emr, vc, start(emr, vc, name="plain"))
    assert "retryPolicyConfiguration" not in plain


def test_cancel_goes_through_cancel_pending_to_cancelled(emr, vc):
    job = start(emr, vc, tags={"emulator/run-seconds": "600", "emulator/cancel-pending-seconds": "1.5"})
    wait_for(emr, vc, job, {"RUNNING"})
    emr.cancel_job_run(id=job, virtualClusterId=vc)
    assert describe(emr, vc, job)["state"] == "CANCEL_PENDING"
    run = wait_for(emr, vc, job, FINAL, timeout=5)
    assert run["state"] == "CANCELLED"
    assert run["finishedAt"] >= run["createdAt"]
    with pytest.raises(ClientError) as err:
        emr.cancel_job_run(id=job, virtualClusterId=vc)
    assert err.value.response["Error"]["Code"] == "ValidationException"


def test_cancel_of_a_finished_run_is_a_validation_error(emr, vc):
    job = start(emr, vc, tags=INSTANT)
    wait_for(emr, vc, job, FINAL)
    with pytest.raises(ClientError) as err:
        emr.cancel_job_run(id=job, virtualClusterId=vc)
    assert err.value.response["Error"]["Code"] == "ValidationException"


def test_list_states_filter_agrees_with_describe(emr, vc):
    long_pending = {"emulator/pending-seconds": "600"}
    jobs = {
        start(emr, vc, name="done", tags=INSTANT): None,
        start(emr, vc, name="failed", tags={**INSTANT, "emulator/outcome": "FAILED"}): None,
        start(emr, vc, name="pending", tags=long_pending): None,
        start(emr, vc, name="running", tags={**INSTANT, "emulator/run-seconds": "600"}): None,
    }
    time.sleep(0.1)
    for job in jobs:
        jobs[job] = describe(emr, vc, job)["state"]
    assert sorted(jobs.values()) == ["COMPLETED", "FAILED", "PENDING", "RUNNING"]
    for state in ("PENDING", "SUBMITTED", "RUNNING", "COMPLETED", "FAILED", "CANCELLED"):
        listed = {r["id"]: r["state"] for r in emr.list_job_runs(virtualClusterId=vc, states=[state])["jobRuns"]}
        assert listed == {j: s for j, s in jobs.items() if s == state}, state
    active = emr.list_job_runs(virtualClusterId=vc, states=["PENDING", "SUBMITTED", "RUNNING"])["jobRuns"]
    assert {r["name"] for r in active} == {"pending", "running"}


def test_list_created_after_name_and_pagination(emr, vc):
    early = start(emr, vc, name="early")
    time.sleep(0.2)
    cutoff = datetime.now(UTC)
    time.sleep(0.2)
    late = [start(emr, vc, name=f"late-{i}") for i in range(5)]
    after = emr.list_job_runs(virtualClusterId=vc, createdAfter=cutoff)["jobRuns"]
    assert {r["id"] for r in after} == set(late)
    assert [r["id"] for r in emr.list_job_runs(virtualClusterId=vc, name="early")["jobRuns"]] == [early]

    seen = []
    pages = 0
    for page in emr.get_paginator("list_job_runs").paginate(virtualClusterId=vc, PaginationConfig={"PageSize": 2}):
        pages += 1
        seen.extend(r["id"] for r in page["jobRuns"])
    assert pages == 3
    assert sorted(seen) == sorted([early, *late])


def test_describe_unknown_job_run_is_resource_not_found(emr, vc):
    with pytest.raises(ClientError) as err:
        emr.describe_job_run(id="0123456789abcdefghi", virtualClusterId=vc)
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_unknown_or_malformed_emulator_tags_are_rejected(emr, vc):
    for tags in ({"emulator/outcom": "FAILED"}, {"emulator/outcome": "MAYBE"}, {"emulator/run-seconds": "x"}):
        with pytest.raises(ClientError) as err:
            start(emr, vc, tags=tags)
        assert err.value.response["Error"]["Code"] == "ValidationException"
        assert "emulator" in err.value.response["Error"]["Message"]
