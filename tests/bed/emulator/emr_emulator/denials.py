"""Access-denied rules: AWS answering AccessDenied for one operation, optionally on one IAM role
only, as an IAM policy without that permission would.

Kept apart from ``faults`` (whose one configuration each POST replaces), so a test can deny
one thing on its own role while other tests running at the same time set faults.
"""

import json
import threading
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from . import faults


class DenialError(ValueError):
    pass


@dataclass(frozen=True)
class Denial:
    service: str
    operation: str
    # None: every call of the operation; otherwise only calls naming this IAM role (RoleName).
    role_name: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"service": self.service, "operation": self.operation, "roleName": self.role_name}


def parse(payload: Any) -> Denial:
    if not isinstance(payload, dict):
        raise DenialError("the body must be a JSON object")
    unknown = sorted(set(payload) - {"service", "operation", "roleName"})
    if unknown:
        raise DenialError(f"unknown field(s): {', '.join(unknown)}; known: operation, roleName, service")
    service, operation, role = payload.get("service"), payload.get("operation"), payload.get("roleName")
    if not isinstance(service, str) or not service or not isinstance(operation, str) or not operation:
        raise DenialError("service and operation are required strings")
    if role is not None and (not isinstance(role, str) or not role):
        raise DenialError("roleName must be a non-empty string")
    return Denial(service, operation, role)


def role_name(protocol: str | None, body: bytes, query: str) -> str | None:
    """The RoleName parameter of a query-protocol (IAM) call."""
    if protocol != "query":
        return None
    params = parse_qs(query)
    params.update(parse_qs(body.decode("utf-8", "replace")))
    values = params.get("RoleName")
    return values[0] if values else None


class Denials:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[Denial] = []

    def add(self, denial: Denial) -> None:
        with self._lock:
            if denial not in self._rules:
                self._rules.append(denial)

    def remove(self, denial: Denial) -> None:
        with self._lock:
            self._rules = [d for d in self._rules if d != denial]

    def clear(self) -> None:
        with self._lock:
            self._rules = []

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return [d.as_dict() for d in self._rules]

    def denies(self, service: str | None, operation: str | None, role: str | None) -> bool:
        with self._lock:
            return any(
                d.service == service and d.operation == operation and (d.role_name is None or d.role_name == role)
                for d in self._rules
            )


def error_response(
    service: str | None, protocol: str | None, operation: str | None, role: str | None, method: str = "POST"
):
    """AccessDenied in the service's wire format (HTTP 403), worded as AWS words it."""
    request_id = str(uuid.uuid4())
    resource = f"role {role}" if role else "*"
    message = f"User: arn:aws:iam::123456789012:user/emulated is not authorized to perform: {service}:{operation} on resource: {resource}"
    if service == "s3":
        # S3 authorizes HeadObject as s3:GetObject, and answers with its own <Error> document.
        action = "GetObject" if operation == "HeadObject" else operation
        return faults.s3_error(
            403,
            "AccessDenied",
            f"User: arn:aws:iam::123456789012:user/emulated is not authorized to perform: s3:{action}",
            method,
        )
    if protocol in ("query", "ec2", "rest-xml"):
        body = (
            "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code>"
            f"<Message>{message}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        ).encode()
        headers = [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)]
    else:
        body = json.dumps({"__type": "AccessDeniedException", "message": message}).encode()
        headers = [
            ("Content-Type", "application/json"),
            ("x-amzn-ErrorType", "AccessDeniedException"),
            ("x-amzn-RequestId", request_id),
        ]
    headers.append(("Content-Length", str(len(body))))
    return "403 Forbidden", headers, body
