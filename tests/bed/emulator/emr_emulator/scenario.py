"""Per-job scenarios, chosen by StartJobRun tags.

A test states in its manifest how the job should behave, so the scenario travels
with the request through the operator exactly as a real job's tags would.
"""

import math
from dataclasses import dataclass

from moto.emrcontainers.exceptions import EMRContainersException

from .settings import Timings

TAG_PREFIX = "emulator/"
TAG_OUTCOME = "emulator/outcome"
TAG_FAILURE_REASON = "emulator/failure-reason"
TAG_STATE_DETAILS = "emulator/state-details"
TAG_RUN_SECONDS = "emulator/run-seconds"
TAG_PENDING_SECONDS = "emulator/pending-seconds"
TAG_SUBMITTED_SECONDS = "emulator/submitted-seconds"
TAG_FAIL_FIRST = "emulator/fail-first"
TAG_CANCEL_PENDING_SECONDS = "emulator/cancel-pending-seconds"

KNOWN_TAGS = {
    TAG_OUTCOME,
    TAG_FAILURE_REASON,
    TAG_STATE_DETAILS,
    TAG_RUN_SECONDS,
    TAG_PENDING_SECONDS,
    TAG_SUBMITTED_SECONDS,
    TAG_FAIL_FIRST,
    TAG_CANCEL_PENDING_SECONDS,
}

OUTCOMES = ("COMPLETED", "FAILED", "CANCELLED")
FAILURE_REASONS = ("INTERNAL_ERROR", "USER_ERROR", "VALIDATION_ERROR", "CLUSTER_UNAVAILABLE")


class ValidationException(EMRContainersException):
    # The emr-containers model knows this shape, so moto serializes it with HTTP 400.
    code = "ValidationException"


@dataclass(frozen=True)
class Scenario:
    outcome: str
    failure_reason: str | None
    state_details: str | None
    pending_seconds: float
    submitted_seconds: float
    run_seconds: float
    cancel_pending_seconds: float
    fail_first: int


def _float_tag(tags: dict[str, str], key: str, default: float) -> float:
    raw = tags.get(key)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError as err:
        raise ValidationException(f"tag {key}={raw!r} is not a number of seconds") from err
    if not math.isfinite(value) or value < 0:
        raise ValidationException(f"tag {key}={raw!r} must be a finite number >= 0")
    return value


def parse(tags: dict[str, str] | None, timings: Timings) -> Scenario:
    """Reads the emulator/* tags; an unknown or malformed one is a ValidationException,
    so a typo in a test manifest fails loudly instead of silently running the default."""
    tags = tags or {}
    unknown = sorted(k for k in tags if k.startswith(TAG_PREFIX) and k not in KNOWN_TAGS)
    if unknown:
        raise ValidationException(f"unknown emulator tag(s): {', '.join(unknown)}")

    outcome = tags.get(TAG_OUTCOME, "COMPLETED")
    if outcome not in OUTCOMES:
        raise ValidationException(f"tag {TAG_OUTCOME}={outcome!r} is not one of {', '.join(OUTCOMES)}")

    failure_reason = tags.get(TAG_FAILURE_REASON)
    if failure_reason is not None and failure_reason not in FAILURE_REASONS:
        raise ValidationException(
            f"tag {TAG_FAILURE_REASON}={failure_reason!r} is not one of {', '.join(FAILURE_REASONS)}"
        )

    raw_fail_first = tags.get(TAG_FAIL_FIRST, "0")
    try:
        fail_first = int(raw_fail_first)
    except ValueError as err:
        raise ValidationException(f"tag {TAG_FAIL_FIRST}={raw_fail_first!r} is not an integer") from err
    if fail_first < 0:
        raise ValidationException(f"tag {TAG_FAIL_FIRST}={raw_fail_first!r} must be >= 0")

    return Scenario(
        outcome=outcome,
        failure_reason=failure_reason,
        state_details=tags.get(TAG_STATE_DETAILS),
        pending_seconds=_float_tag(tags, TAG_PENDING_SECONDS, timings.pending_seconds),
        submitted_seconds=_float_tag(tags, TAG_SUBMITTED_SECONDS, timings.submitted_seconds),
        run_seconds=_float_tag(tags, TAG_RUN_SECONDS, timings.run_seconds),
        cancel_pending_seconds=_float_tag(tags, TAG_CANCEL_PENDING_SECONDS, timings.cancel_pending_seconds),
        fail_first=fail_first,
    )


def effective_outcome(scenario: Scenario, attempt: int) -> tuple[str, str | None]:
    """The terminal state and failure reason of the attempt-th run (1-based) of the
    same (virtual cluster, job run name). fail-first wins over the outcome tag."""
    if scenario.fail_first > 0:
        if attempt <= scenario.fail_first:
            return "FAILED", scenario.failure_reason or "USER_ERROR"
        return "COMPLETED", None
    if scenario.outcome == "FAILED":
        return "FAILED", scenario.failure_reason or "USER_ERROR"
    return scenario.outcome, None
