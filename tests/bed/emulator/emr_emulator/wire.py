"""Reads a raw AWS request back into the operation's input parameters, keyed by the model's
member names, so ``shapes`` can check them against botocore's input shape.

The reverse of botocore's serializers for the protocols of the services the operator calls:
``rest-json`` (emr-containers, EKS: URI labels, query string, headers, JSON body), ``json``
(X-Amz-Target services) and ``query`` (IAM, STS: ``Name.member.N`` form fields). Values keep
their wire types (query strings and form fields are text); ``shapes`` converts and checks them.
"""

import json
from typing import Any
from urllib.parse import parse_qs

# Protocols this module can read; requests of any other protocol are not checked (none of the
# services the operator calls uses one).
READABLE = ("rest-json", "json", "query")


class WireError(ValueError):
    """The request body could not be read at all (not JSON, not UTF-8)."""


def read_params(op_model: Any, protocol: str, environ: dict, body: bytes, labels: dict[str, str]) -> dict[str, Any]:
    shape = op_model.input_shape
    if shape is None:
        return {}
    if protocol == "query":
        form = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        if body:
            form.update(parse_qs(_text(body), keep_blank_values=True))
        flat = {k: v[-1] for k, v in form.items()}
        return _query_structure(shape, "", flat)
    if protocol == "json":
        return _json_body(body)
    return _rest_json(shape, environ, body, labels)


def _text(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as err:
        raise WireError(f"the request body is not UTF-8: {err}") from err


def _json_body(body: bytes) -> dict[str, Any]:
    if not body.strip():
        return {}
    try:
        value = json.loads(_text(body))
    except json.JSONDecodeError as err:
        raise WireError(f"the request body is not JSON: {err}") from err
    if not isinstance(value, dict):
        raise WireError("the request body is not a JSON object")
    return value


def _rest_json(shape: Any, environ: dict, body: bytes, labels: dict[str, str]) -> dict[str, Any]:
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    params: dict[str, Any] = {}
    body_members = {}
    payload_member = shape.serialization.get("payload")
    for name, member in shape.members.items():
        location = member.serialization.get("location")
        wire_name = member.serialization.get("name", name)
        if location == "uri":
            if wire_name in labels:
                params[name] = labels[wire_name]
        elif location == "querystring":
            if member.type_name == "map":
                params[name] = {k: v[-1] for k, v in query.items()}
            elif wire_name in query:
                values = query[wire_name]
                params[name] = values if member.type_name == "list" else values[-1]
        elif location == "header":
            key = "HTTP_" + wire_name.upper().replace("-", "_")
            if key in environ:
                params[name] = environ[key]
        elif location == "headers":
            continue
        elif name == payload_member:
            if member.type_name == "structure":
                params[name] = _json_body(body)
            elif body:
                params[name] = _text(body)
        else:
            body_members[wire_name] = name
    if body_members and payload_member is None:
        document = _json_body(body)
        for wire_name, name in body_members.items():
            if wire_name in document:
                params[name] = document[wire_name]
    return params


def _query_structure(shape: Any, prefix: str, form: dict[str, str]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for name, member in shape.members.items():
        key = prefix + member.serialization.get("name", name)
        value = _query_value(member, key, form)
        if value is not None:
            params[name] = value
    return params


def _query_value(shape: Any, key: str, form: dict[str, str]) -> Any:
    kind = shape.type_name
    if kind == "structure":
        if not any(k.startswith(key + ".") for k in form):
            return None
        return _query_structure(shape, key + ".", form)
    if kind == "list":
        if key in form and form[key] == "":
            return []  # botocore's spelling of an empty list
        flattened = shape.serialization.get("flattened", False)
        item = key if flattened else f"{key}.{shape.member.serialization.get('name', 'member')}"
        items = []
        index = 1
        while True:
            value = _query_value(shape.member, f"{item}.{index}", form)
            if value is None:
                break
            items.append(value)
            index += 1
        return items if items else None
    if kind == "map":
        flattened = shape.serialization.get("flattened", False)
        entry = key if flattened else f"{key}.entry"
        key_name = shape.key.serialization.get("name", "key")
        value_name = shape.value.serialization.get("name", "value")
        entries: dict[str, Any] = {}
        index = 1
        while f"{entry}.{index}.{key_name}" in form:
            entries[form[f"{entry}.{index}.{key_name}"]] = _query_value(
                shape.value, f"{entry}.{index}.{value_name}", form
            )
            index += 1
        return entries if entries else None
    return form.get(key)
