"""Strict request validation: every AWS request is held to its operation's input shape in
botocore's model (``wire`` reads it, ``shapes`` checks it) and to the quotas in ``quotas``
before moto sees it, and a violation is answered the way that service answers one:

- emr-containers: HTTP 400 ``ValidationException`` (its model's error for bad input);
- EKS: HTTP 400 ``InvalidParameterException`` (EKS's error for a parameter it refuses);
- IAM and STS: HTTP 400 XML ``ValidationError`` (Type ``Sender``);
- any other JSON service: HTTP 400 ``ValidationException``;
- a quota: the service's quota error (IAM: HTTP 409 ``LimitExceeded``).

On by default; ``EMULATOR_STRICT=0`` at start-up or ``POST /_emulator/strict {"enabled": false}``
turns it off, for a test that wants moto's raw behaviour.
"""

import json
import os
import threading
import uuid
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from botocore.model import OperationNotFoundError

from . import quotas, shapes, wire
from .operations import MODELS, Identified

# The error code a model violation gets, per service (JSON protocols; query services use XML
# ValidationError).
_JSON_VALIDATION_CODE = {"emr-containers": "ValidationException", "eks": "InvalidParameterException"}

_XML_NAMESPACES = {
    "iam": "https://iam.amazonaws.com/doc/2010-05-08/",
    "sts": "https://sts.amazonaws.com/doc/2011-06-15/",
}


class StrictConfigError(ValueError):
    pass


@dataclass(frozen=True)
class Rejection:
    # "invalid" (the model) or "quota" (quotas.py), as the call log's `fault`.
    kind: str
    code: str
    status: int
    message: str


def enabled_from_env() -> bool:
    raw = os.environ.get("EMULATOR_STRICT", "1").strip().lower()
    if raw in ("1", "true", "yes", "on", ""):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise SystemExit(f"emulator: EMULATOR_STRICT={raw!r} must be 1 or 0")


def parse_config(payload: Any) -> bool:
    if not isinstance(payload, dict) or set(payload) != {"enabled"} or not isinstance(payload["enabled"], bool):
        raise StrictConfigError('the body must be {"enabled": true|false}')
    return payload["enabled"]


class Strict:
    def __init__(self, enabled: bool) -> None:
        self._lock = threading.Lock()
        self._enabled = enabled

    @property
    def enabled(self) -> bool:
        with self._lock:
            return self._enabled

    def set_enabled(self, enabled: bool) -> None:
        with self._lock:
            self._enabled = enabled

    def judge(self, ident: Identified, environ: dict, body: bytes) -> Rejection | None:
        """Why AWS would refuse this request, or None when it would not (or strict is off)."""
        if not self.enabled or ident.service is None or ident.operation is None:
            return None
        model = MODELS.model(ident.service)
        if model is None or model.protocol not in wire.READABLE:
            return None
        try:
            op_model = model.operation_model(ident.operation)
        except OperationNotFoundError:  # moto answers operations the model does not know
            return None
        try:
            params = wire.read_params(op_model, model.protocol, environ, body, ident.labels)
        except wire.WireError as err:
            return Rejection("invalid", "SerializationException", 400, str(err))
        violations = shapes.check(op_model.input_shape, params, text_wire=model.protocol == "query")
        if violations:
            code = "ValidationError" if model.protocol == "query" else _JSON_VALIDATION_CODE.get(
                ident.service, "ValidationException"
            )
            return Rejection("invalid", code, 400, shapes.summary(violations))
        breach = quotas.check(ident.service, ident.operation, params)
        if breach is not None:
            return Rejection("quota", breach.code, breach.status, breach.message)
        return None


def error_response(service: str | None, protocol: str | None, rejection: Rejection):
    """The rejection in the service's wire format, so the SDK parses its code and message."""
    request_id = str(uuid.uuid4())
    if protocol in ("query", "ec2", "rest-xml"):
        namespace = _XML_NAMESPACES.get(service or "", "")
        xmlns = f' xmlns="{namespace}"' if namespace else ""
        body = (
            f"<ErrorResponse{xmlns}><Error><Type>Sender</Type><Code>{rejection.code}</Code>"
            f"<Message>{escape(rejection.message)}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        ).encode()
        headers = [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)]
    else:
        body = json.dumps({"__type": rejection.code, "message": rejection.message}).encode()
        headers = [
            ("Content-Type", "application/json"),
            ("x-amzn-ErrorType", rejection.code),
            ("x-amzn-RequestId", request_id),
        ]
    headers.append(("Content-Length", str(len(body))))
    reason = {400: "Bad Request", 409: "Conflict"}.get(rejection.status, "Bad Request")
    return f"{rejection.status} {reason}", headers, body
