"""Run-time fault injection: throttling, added latency and outages.

Set through ``POST /_emulator/faults``; a POST replaces the whole configuration, so a
test never inherits half of an earlier test's faults.
"""

import json
import math
import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

DEFAULT_SERVICES = ("emr-containers",)
DOWN_MODES = ("503", "close")


class FaultConfigError(ValueError):
    pass


@dataclass
class FaultConfig:
    throttle_rate: float = 0.0
    throttle_next: int = 0
    latency_ms: int = 0
    down_until: float = 0.0
    down_mode: str = "503"
    # None means every service; otherwise signing names such as "emr-containers", "iam".
    services: set[str] | None = field(default_factory=lambda: set(DEFAULT_SERVICES))
    operations: set[str] | None = None
    seed: int | None = None

    def applies_to(self, service: str | None, operation: str | None) -> bool:
        if self.services is not None and service not in self.services:
            return False
        return self.operations is None or operation in self.operations

    def as_dict(self) -> dict[str, Any]:
        return {
            "throttleRate": self.throttle_rate,
            "throttleNext": self.throttle_next,
            "latencyMs": self.latency_ms,
            "downRemainingSeconds": max(0.0, round(self.down_until - time.time(), 3)),
            "downMode": self.down_mode,
            "services": ["*"] if self.services is None else sorted(self.services),
            "operations": None if self.operations is None else sorted(self.operations),
            "seed": self.seed,
        }


def _number(payload: dict[str, Any], key: str, default: float, low: float, high: float) -> float:
    value = payload.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise FaultConfigError(f"{key} must be a number")
    if not low <= value <= high:
        raise FaultConfigError(f"{key} must be between {low} and {high}")
    return float(value)


def _names(payload: dict[str, Any], key: str, default: set[str] | None) -> set[str] | None:
    if key not in payload or payload[key] is None:
        return default
    value = payload[key]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise FaultConfigError(f"{key} must be a list of strings")
    return None if "*" in value else set(value)


def parse(payload: Any) -> FaultConfig:
    if not isinstance(payload, dict):
        raise FaultConfigError("the body must be a JSON object")
    known = {
        "throttleRate",
        "throttleNext",
        "latencyMs",
        "downForSeconds",
        "downMode",
        "services",
        "operations",
        "seed",
    }
    unknown = sorted(set(payload) - known)
    if unknown:
        raise FaultConfigError(f"unknown field(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    down_mode = payload.get("downMode", "503")
    if down_mode not in DOWN_MODES:
        raise FaultConfigError(f"downMode must be one of {', '.join(DOWN_MODES)}")
    seed = payload.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise FaultConfigError("seed must be an integer")
    down_for = _number(payload, "downForSeconds", 0, 0, 86400)
    return FaultConfig(
        throttle_rate=_number(payload, "throttleRate", 0, 0, 1),
        throttle_next=int(_number(payload, "throttleNext", 0, 0, 1_000_000)),
        latency_ms=int(_number(payload, "latencyMs", 0, 0, 600_000)),
        down_until=time.time() + down_for if down_for > 0 else 0.0,
        down_mode=down_mode,
        services=_names(payload, "services", set(DEFAULT_SERVICES)),
        operations=_names(payload, "operations", None),
        seed=seed,
    )


@dataclass(frozen=True)
class Decision:
    latency_seconds: float
    fault: str | None  # None, "throttle" or "down"
    down_mode: str


class Faults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._config = FaultConfig()
        self._random = random.Random()

    def set(self, config: FaultConfig) -> None:
        with self._lock:
            self._config = config
            self._random = random.Random(config.seed)

    def clear(self) -> None:
        self.set(FaultConfig())

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return self._config.as_dict()

    def decide(self, service: str | None, operation: str | None) -> Decision:
        with self._lock:
            cfg = self._config
            if not cfg.applies_to(service, operation):
                return Decision(0.0, None, cfg.down_mode)
            latency = cfg.latency_ms / 1000.0
            if time.time() < cfg.down_until:
                return Decision(latency, "down", cfg.down_mode)
            if cfg.throttle_next > 0:
                cfg.throttle_next -= 1
                return Decision(latency, "throttle", cfg.down_mode)
            if cfg.throttle_rate > 0 and self._random.random() < cfg.throttle_rate:
                return Decision(latency, "throttle", cfg.down_mode)
            return Decision(latency, None, cfg.down_mode)


def error_response(
    service: str | None, protocol: str | None, fault: str, method: str = "POST"
) -> tuple[str, list[tuple[str, str]], bytes]:
    """An error in the service's own wire format, so the SDK parses its code.

    emr-containers documents RequestThrottledException (HTTP 429); other JSON services
    get the generic ThrottlingException (429); query-protocol services (IAM, STS) answer
    throttling as XML ``Throttling`` with HTTP 400, as AWS does. S3 throttles with HTTP 503
    ``SlowDown`` (an ``<Error>`` document; none for HEAD, whose answers have no body).
    """
    request_id = str(uuid.uuid4())
    if service == "s3":
        return s3_error(
            503,
            "SlowDown" if fault == "throttle" else "ServiceUnavailable",
            "Please reduce your request rate." if fault == "throttle" else "Service unavailable (emulated outage)",
            method,
        )
    if fault == "throttle":
        status, json_code, xml_code, message = 429, "ThrottlingException", "Throttling", "Rate exceeded"
        if service == "emr-containers":
            json_code = "RequestThrottledException"
    else:
        status, json_code, xml_code, message = (
            503,
            "ServiceUnavailableException",
            "ServiceUnavailable",
            ("Service unavailable (emulated outage)"),
        )
    if protocol in ("query", "ec2", "rest-xml"):
        if fault == "throttle":
            status = 400
        body = (
            "<ErrorResponse><Error><Type>Sender</Type>"
            f"<Code>{xml_code}</Code><Message>{message}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        ).encode()
        headers = [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)]
    else:
        body = json.dumps({"__type": json_code, "message": message}).encode()
        headers = [
            ("Content-Type", "application/json"),
            ("x-amzn-ErrorType", json_code),
            ("x-amzn-RequestId", request_id),
        ]
    headers.append(("Content-Length", str(len(body))))
    reason = {429: "Too Many Requests", 400: "Bad Request", 503: "Service Unavailable"}[status]
    return f"{status} {reason}", headers, body


def s3_error(status: int, code: str, message: str, method: str) -> tuple[str, list[tuple[str, str]], bytes]:
    """An S3 REST error: an ``<Error>`` document, and the request id in ``x-amz-request-id``."""
    request_id = uuid.uuid4().hex[:16].upper()
    body = b"" if method == "HEAD" else (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message><RequestId>{request_id}</RequestId></Error>"
    ).encode()
    headers = [("Content-Type", "application/xml"), ("x-amz-request-id", request_id)]
    headers.append(("Content-Length", str(len(body))))
    reason = {403: "Forbidden", 503: "Service Unavailable"}.get(status, "Error")
    return f"{status} {reason}", headers, body
