"""Names the AWS service and operation of a raw WSGI request, for the call log and for
scoping faults. Uses botocore's service models, so every operation of every service is
named the way the SDKs name it, without a hand-written route table."""

import re
import threading
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote, urlsplit

import botocore.session
from botocore.exceptions import UnknownServiceError

# SigV4 credential scope: Credential=AKID/20250101/us-east-1/emr-containers/aws4_request
_SCOPE = re.compile(r"Credential=[^/,\s]+/\d{8}/([^/,\s]+)/([^/,\s]+)/aws4_request")

# The access key id of the same credential scope: tells callers (e.g. operator replicas) apart.
_ACCESS_KEY = re.compile(r"Credential=([^/,\s]+)/\d{8}/")

# Signing names that differ from botocore's service names, for the services the project uses.
_SIGNING_TO_SERVICE = {"emr-containers": "emr-containers", "eks": "eks", "iam": "iam", "sts": "sts"}


@dataclass
class Identified:
    service: str | None
    operation: str | None
    region: str | None
    protocol: str | None
    labels: dict[str, str] = field(default_factory=dict)


@dataclass
class _Route:
    method: str
    pattern: re.Pattern[str]
    literal_length: int
    operation: str
    # The query part of the model's requestUri (S3: "?list-type=2", "?session"): required in the request.
    query: dict[str, str] = field(default_factory=dict)
    # Required header members (WSGI names): S3's CopyObject is PutObject's route plus
    # x-amz-copy-source.
    headers: frozenset[str] = frozenset()

    def wants(self, query: dict[str, list[str]], environ: dict | None = None) -> bool:
        if not all(k in query and (not v or v in query[k]) for k, v in self.query.items()):
            return False
        return environ is None or all(h in environ for h in self.headers)


class _Models:
    """Caches botocore service models and their REST routes; loading is slow-ish."""

    def __init__(self) -> None:
        self._session = botocore.session.get_session()
        self._lock = threading.Lock()
        self._models: dict[str, object | None] = {}
        self._routes: dict[str, list[_Route]] = {}

    def model(self, service: str):  # -> botocore.model.ServiceModel | None
        with self._lock:
            if service not in self._models:
                try:
                    self._models[service] = self._session.get_service_model(service)
                except UnknownServiceError:
                    self._models[service] = None
            return self._models[service]

    def routes(self, service: str) -> list[_Route]:
        model = self.model(service)
        if model is None:
            return []
        with self._lock:
            if service not in self._routes:
                routes = []
                for name in model.operation_names:
                    http = model.operation_model(name).http
                    uri, _, query = http.get("requestUri", "/").partition("?")
                    regex, literal = _uri_to_regex(uri)
                    required = {k: v for k, _, v in (p.partition("=") for p in query.split("&") if p)}
                    headers = _required_headers(model.operation_model(name))
                    routes.append(_Route(http.get("method", "POST"), regex, literal, name, required, headers))
                # Most literal characters first: /virtualclusters/{id}/jobruns beats /virtualclusters/{id};
                # then the most required query parameters: GET /{Bucket}?list-type=2 beats GET /{Bucket};
                # then the most required headers: CopyObject beats PutObject.
                routes.sort(key=lambda r: (r.literal_length, len(r.query), len(r.headers)), reverse=True)
                self._routes[service] = routes
            return self._routes[service]


def _required_headers(op_model) -> frozenset[str]:  # op_model: botocore.model.OperationModel
    shape = op_model.input_shape
    if shape is None:
        return frozenset()
    required = set(shape.required_members)
    names = set()
    for member_name, member in shape.members.items():
        if member_name in required and member.serialization.get("location") == "header":
            wire = member.serialization.get("name", member_name)
            names.add("HTTP_" + wire.upper().replace("-", "_"))
    return frozenset(names)


def _uri_to_regex(uri: str) -> tuple[re.Pattern[str], int]:
    parts = re.split(r"(\{[^}]+\})", uri)
    regex = ""
    literal = 0
    for part in parts:
        if part.startswith("{") and part.endswith("}"):
            name = part[1:-1]
            greedy = name.endswith("+")
            name = name.rstrip("+")
            regex += f"(?P<{name}>.+)" if greedy else f"(?P<{name}>[^/]+)"
        else:
            regex += re.escape(part)
            literal += len(part)
    return re.compile(f"^{regex}/?$"), literal


MODELS = _Models()


def identify(environ: dict, body: bytes) -> Identified:
    auth = environ.get("HTTP_AUTHORIZATION", "")
    query = environ.get("QUERY_STRING", "")
    match = _SCOPE.search(auth) or _SCOPE.search(unquote(query))
    if match is None:
        return Identified(None, None, None, None)
    region, signing_name = match.group(1), match.group(2)
    service = _SIGNING_TO_SERVICE.get(signing_name, signing_name)
    model = MODELS.model(service)
    if model is None:
        return Identified(service, None, region, None)
    protocol = model.protocol
    method = environ.get("REQUEST_METHOD", "GET")

    if protocol in ("query", "ec2"):
        params = parse_qs(query)
        if method == "POST" and body:
            params.update(parse_qs(body.decode("utf-8", "replace")))
        action = params.get("Action", [None])[0]
        return Identified(service, action, region, protocol)

    if protocol == "json":
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        return Identified(service, target.rsplit(".", 1)[-1] or None, region, protocol)

    # rest-json / rest-xml: match the undecoded path, so an ARN label keeps its %2F.
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI") or environ.get("PATH_INFO", "/")
    path = urlsplit(raw).path
    params = parse_qs(query, keep_blank_values=True)
    for route in MODELS.routes(service):
        if route.method != method or not route.wants(params, environ):
            continue
        found = route.pattern.match(path)
        if found:
            labels = {k: unquote(v) for k, v in found.groupdict().items()}
            return Identified(service, route.operation, region, protocol, labels)
    return Identified(service, None, region, protocol)


def access_key_id(environ: dict) -> str | None:
    """The access key id a SigV4 request was signed with (header or presigned query), if any."""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    match = _ACCESS_KEY.search(auth) or _ACCESS_KEY.search(unquote(environ.get("QUERY_STRING", "")))
    return match.group(1) if match else None
