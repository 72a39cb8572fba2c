"""Default timings, read once from the environment at start-up.

Per-job tags (see ``scenario.py``) override these for a single job run.
"""

import math
import os
from dataclasses import asdict, dataclass


def _seconds(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError as err:
        raise SystemExit(f"emulator: {name}={raw!r} is not a number of seconds") from err
    if not math.isfinite(value) or value < 0:
        raise SystemExit(f"emulator: {name}={raw!r} must be a finite number >= 0")
    return value


@dataclass(frozen=True)
class Timings:
    pending_seconds: float
    submitted_seconds: float
    run_seconds: float
    cancel_pending_seconds: float
    vc_terminating_seconds: float
    fargate_creating_seconds: float = 1.0
    fargate_deleting_seconds: float = 1.0

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def load_timings() -> Timings:
    return Timings(
        pending_seconds=_seconds("EMULATOR_PENDING_SECONDS", 1.0),
        submitted_seconds=_seconds("EMULATOR_SUBMITTED_SECONDS", 1.0),
        run_seconds=_seconds("EMULATOR_RUN_SECONDS", 3.0),
        cancel_pending_seconds=_seconds("EMULATOR_CANCEL_PENDING_SECONDS", 1.0),
        vc_terminating_seconds=_seconds("EMULATOR_VC_TERMINATING_SECONDS", 1.0),
        fargate_creating_seconds=_seconds("EMULATOR_FARGATE_CREATING_SECONDS", 1.0),
        fargate_deleting_seconds=_seconds("EMULATOR_FARGATE_DELETING_SECONDS", 1.0),
    )
