"""The WSGI application: the control API under /_emulator/, then faults and the call
log around moto's own dispatcher, which does the AWS work."""

import io
import json
import socket
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs, urlsplit

from moto.moto_api._internal import moto_api_backend
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

from . import MOTO_VERSION, denials, faults, operations, strict
from .calllog import CallLog
from .settings import Timings

CONTROL_PREFIX = "/_emulator/"
StartResponse = Callable[..., Any]


def _json(start_response: StartResponse, status: str, payload: Any) -> list[bytes]:
    body = json.dumps(payload, indent=1).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def _read_body(environ: dict[str, Any]) -> bytes:
    """Reads the whole request body and puts it back, so moto still sees it."""
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    length = environ.get("CONTENT_LENGTH") or ""
    if length.isdigit():
        body = stream.read(int(length))
    elif environ.get("wsgi.input_terminated"):
        body = stream.read()
    else:
        body = b""
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    return body


def _drop_connection(environ: dict[str, Any]) -> None:
    """Closes the client's connection with no response, like a crashed endpoint.
    Werkzeug treats the write that follows as a dropped connection and moves on."""
    sock = environ.get("werkzeug.socket")
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class EmulatorApp:
    def __init__(self, timings: Timings, strict_default: bool = True) -> None:
        self.timings = timings
        self.strict_default = strict_default
        self.strict = strict.Strict(strict_default)
        self.moto = DomainDispatcherApplication(create_backend_app)
        self.faults = faults.Faults()
        self.denials = denials.Denials()
        self.log = CallLog()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        if path.startswith(CONTROL_PREFIX):
            return self._control(environ, start_response, path[len(CONTROL_PREFIX) :].strip("/"))
        return self._aws(environ, start_response)

    # --- AWS traffic ------------------------------------------------------------------

    def _aws(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        started = time.time()
        body = _read_body(environ)
        ident = operations.identify(environ, body)
        access_key = operations.access_key_id(environ)
        method = environ.get("REQUEST_METHOD", "GET")
        raw_path = urlsplit(environ.get("RAW_URI") or environ.get("PATH_INFO", "/")).path
        vc_id = ident.labels.get("virtualClusterId")
        job_id = ident.labels.get("jobRunId")
        is_start = ident.service == "emr-containers" and ident.operation == "StartJobRun"
        start_body = _parse_json(body) if is_start else None

        decision = self.faults.decide(ident.service, ident.operation)
        if decision.latency_seconds > 0:
            time.sleep(decision.latency_seconds)
        if decision.fault is not None:
            dropped = decision.fault == "down" and decision.down_mode == "close"
            status_line, headers, payload = faults.error_response(ident.service, ident.protocol, decision.fault, method)
            self.log.record(
                started=started,
                service=ident.service,
                operation=ident.operation,
                method=method,
                path=raw_path,
                status=0 if dropped else int(status_line[:3]),
                fault=decision.fault,
                virtual_cluster_id=vc_id,
                job_run_id=job_id,
                start_job_run_body=start_body,
                access_key_id=access_key,
            )
            if dropped:
                _drop_connection(environ)
                start_response("503 Service Unavailable", [("Content-Length", "0")])
                return [b""]
            start_response(status_line, headers)
            return [payload]

        role = denials.role_name(ident.protocol, body, environ.get("QUERY_STRING", ""))
        if self.denials.denies(ident.service, ident.operation, role):
            status_line, headers, payload = denials.error_response(
                ident.service, ident.protocol, ident.operation, role, method
            )
            self.log.record(
                started=started,
                service=ident.service,
                operation=ident.operation,
                method=method,
                path=raw_path,
                status=403,
                fault="denied",
                virtual_cluster_id=vc_id,
                job_run_id=job_id,
                start_job_run_body=start_body,
            )
            start_response(status_line, headers)
            return [payload]

        rejection = self.strict.judge(ident, environ, body)
        if rejection is not None:
            status_line, headers, payload = strict.error_response(ident.service, ident.protocol, rejection)
            self.log.record(
                started=started,
                service=ident.service,
                operation=ident.operation,
                method=method,
                path=raw_path,
                status=rejection.status,
                fault=rejection.kind,
                virtual_cluster_id=vc_id,
                job_run_id=job_id,
                start_job_run_body=start_body,
                access_key_id=access_key,
                error=f"{rejection.code}: {rejection.message}",
            )
            start_response(status_line, headers)
            return [payload]

        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured["status"] = status
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        result = self.moto(environ, capture)
        try:
            payload = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        status = int(str(captured.get("status", "500"))[:3])

        creates = ("CreateVirtualCluster", "StartJobRun")
        if ident.service == "emr-containers" and status == 200 and ident.operation in creates:
            # The new resource's id is only in the response.
            response = _parse_json(payload)
            if isinstance(response, dict):
                if ident.operation == "CreateVirtualCluster":
                    vc_id = response.get("id")
                else:
                    job_id = response.get("id")
        self.log.record(
            started=started,
            service=ident.service,
            operation=ident.operation,
            method=method,
            path=raw_path,
            status=status,
            fault=None,
            virtual_cluster_id=vc_id,
            job_run_id=job_id,
            start_job_run_body=start_body,
            access_key_id=access_key,
        )
        return [payload]

    # --- control API ------------------------------------------------------------------

    def _control(self, environ: dict[str, Any], start_response: StartResponse, route: str) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        query = {k: v[-1] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        if route == "health" and method == "GET":
            return _json(
                start_response,
                "200 OK",
                {
                    "status": "ok",
                    "moto": MOTO_VERSION,
                    "timings": self.timings.as_dict(),
                    "faults": self.faults.snapshot(),
                    "strict": self.strict.enabled,
                },
            )
        if route == "calls" and method == "GET":
            return _json(start_response, "200 OK", {"calls": self.log.calls(query)})
        if route == "violations" and method == "GET":
            # Requests strict validation refused: model violations and quotas.
            calls = self.log.calls({k: v for k, v in query.items() if k != "fault"})
            found = [c for c in calls if c["fault"] in ("invalid", "quota")]
            return _json(start_response, "200 OK", {"strict": self.strict.enabled, "violations": found})
        if route == "strict" and method == "GET":
            return _json(start_response, "200 OK", {"enabled": self.strict.enabled})
        if route == "strict" and method == "POST":
            try:
                self.strict.set_enabled(strict.parse_config(_parse_json(_read_body(environ) or b"{}")))
            except strict.StrictConfigError as err:
                return _json(start_response, "400 Bad Request", {"error": str(err)})
            return _json(start_response, "200 OK", {"enabled": self.strict.enabled})
        if route == "start-job-run-requests" and method == "GET":
            return _json(start_response, "200 OK", {"requests": self.log.start_job_runs(query)})
        if route == "faults" and method == "GET":
            return _json(start_response, "200 OK", self.faults.snapshot())
        if route == "faults" and method == "DELETE":
            self.faults.clear()
            return _json(start_response, "200 OK", self.faults.snapshot())
        if route == "faults" and method == "POST":
            payload = _parse_json(_read_body(environ) or b"{}")
            try:
                self.faults.set(faults.parse(payload))
            except faults.FaultConfigError as err:
                return _json(start_response, "400 Bad Request", {"error": str(err)})
            return _json(start_response, "200 OK", self.faults.snapshot())
        if route == "denials" and method == "GET":
            return _json(start_response, "200 OK", {"denials": self.denials.snapshot()})
        if route == "denials" and method in ("POST", "DELETE"):
            raw = _read_body(environ)
            if method == "DELETE" and not raw:
                self.denials.clear()
                return _json(start_response, "200 OK", {"denials": self.denials.snapshot()})
            try:
                denial = denials.parse(_parse_json(raw or b"{}"))
            except denials.DenialError as err:
                return _json(start_response, "400 Bad Request", {"error": str(err)})
            if method == "POST":
                self.denials.add(denial)
            else:
                self.denials.remove(denial)
            return _json(start_response, "200 OK", {"denials": self.denials.snapshot()})
        if route == "reset" and method == "POST":
            self.denials.clear()
            self.faults.clear()
            self.log.clear()
            self.strict.set_enabled(self.strict_default)
            moto_api_backend.reset()
            return _json(start_response, "200 OK", {"status": "reset"})
        return _json(
            start_response,
            "404 Not Found",
            {
                "error": f"no control route {method} /_emulator/{route}",
                "routes": [
                    "GET /_emulator/health",
                    "GET /_emulator/calls?service=&operation=&virtualClusterId=&jobRunId=&status=&fault=&accessKeyId=&sinceSeq=",
                    "GET /_emulator/start-job-run-requests?virtualClusterId=",
                    "GET /_emulator/violations?service=&operation=&accessKeyId=&sinceSeq=",
                    "GET|POST /_emulator/strict",
                    "GET|POST|DELETE /_emulator/faults",
                    "GET|POST|DELETE /_emulator/denials",
                    "POST /_emulator/reset",
                ],
            },
        )


def _parse_json(raw: bytes) -> Any:
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return raw.decode("utf-8", "replace")
