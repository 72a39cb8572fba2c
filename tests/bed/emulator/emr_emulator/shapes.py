"""Checks an operation's input parameters against its input shape in botocore's service model:
required members, types, ``min``/``max`` (lengths of strings, lists and maps, values of numbers),
``pattern``s and enums, through nested structures, lists and maps.

The messages are worded as AWS's request validation words them ("1 validation error detected:
Value 'x' at 'name' failed to satisfy constraint: Member must have length less than or equal to
64"), and the rules follow how AWS applies them: patterns are Java regular expressions matched
against the whole value (``.`` does not match line terminators, ``\\w``/``\\d``/``\\s`` are ASCII),
lengths count UTF-16 code units as Java's ``String.length()`` does, and sensitive members are
named without their value.
"""

import functools
from dataclasses import dataclass
from typing import Any

import regex

# Shown values are cut here: a 100 KB sparkSubmitParameters would otherwise fill the message.
_SHOWN_VALUE_MAX = 200

# Java's `.` matches anything but these line terminators (java.util.regex.Pattern, no DOTALL).
_JAVA_DOT = r"[^\n\r\u0085\u2028\u2029]"


@dataclass(frozen=True)
class Violation:
    path: str
    # The value as AWS shows it (`'x'`, `null`), or None for a sensitive member.
    shown: str | None
    constraint: str

    def message(self) -> str:
        value = "Value" if self.shown is None else f"Value {self.shown}"
        return f"{value} at '{self.path}' failed to satisfy constraint: {self.constraint}"


def summary(violations: list["Violation"]) -> str:
    """AWS's one-line message for all violations of a request."""
    count = len(violations)
    noun = "error" if count == 1 else "errors"
    return f"{count} validation {noun} detected: " + "; ".join(v.message() for v in violations)


def check(shape: Any, params: dict[str, Any], text_wire: bool = False) -> list[Violation]:
    """Every violation of `params` against the input structure `shape`, in member order.
    `text_wire`: every value arrived as text (query protocol), so numbers and booleans are read
    from text."""
    found: list[Violation] = []
    if shape is not None:
        _structure(shape, params, "", found, text_wire)
    return found


@functools.lru_cache(maxsize=None)
def java_pattern(pattern: str) -> Any:
    """A Java pattern as an equivalent compiled `regex` (which knows \\p{L} like Java)."""
    out = []
    in_class = False
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if ch == "[" and not in_class:
            in_class = True
        elif ch == "]" and in_class:
            in_class = False
        out.append(_JAVA_DOT if ch == "." and not in_class else ch)
        i += 1
    return regex.compile("".join(out), regex.ASCII | regex.VERSION0)


def java_length(text: str) -> int:
    """Java's String.length(): UTF-16 code units (a character outside the BMP counts twice)."""
    return len(text.encode("utf-16-le")) // 2


def _lower_first(name: str) -> str:
    # AWS names members lowerCamel in these messages, whatever the model's spelling (IAM's
    # RoleName is 'roleName').
    return name[:1].lower() + name[1:]


def _show(shape: Any, value: Any) -> str | None:
    if shape.metadata.get("sensitive"):
        return None
    if value is None:
        return "null"
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, dict):
        text = "{" + ", ".join(f"{k}={v}" for k, v in value.items()) + "}"
    elif isinstance(value, list):
        text = "[" + ", ".join(str(v) for v in value) + "]"
    else:
        text = str(value)
    if len(text) > _SHOWN_VALUE_MAX:
        text = text[:_SHOWN_VALUE_MAX] + "..."
    return f"'{text}'"


def _structure(shape: Any, value: Any, path: str, found: list[Violation], text_wire: bool) -> None:
    if not isinstance(value, dict):
        found.append(Violation(path, _show(shape, value), "Member must be a structure"))
        return
    for name in shape.required_members:
        if value.get(name) is None:
            found.append(Violation(_join(path, name), "null", "Member must not be null"))
    for name, member in shape.members.items():
        if name in value and value[name] is not None:
            # Query-string, URI and header members arrive as text, so their types are read from it.
            location = member.serialization.get("location")
            _value(member, value[name], _join(path, name), found, text_wire or location is not None)


def _join(path: str, name: str) -> str:
    return f"{path}.{_lower_first(name)}" if path else _lower_first(name)


def _value(shape: Any, value: Any, path: str, found: list[Violation], text_wire: bool) -> None:
    kind = shape.type_name
    if kind == "structure":
        _structure(shape, value, path, found, text_wire)
    elif kind == "list":
        _list(shape, value, path, found, text_wire)
    elif kind == "map":
        _map(shape, value, path, found, text_wire)
    else:
        for constraint in scalar_problems(shape, value, text_wire):
            found.append(Violation(path, _show(shape, value), constraint))


def _list(shape: Any, value: Any, path: str, found: list[Violation], text_wire: bool) -> None:
    if not isinstance(value, list):
        found.append(Violation(path, _show(shape, value), "Member must be a list"))
        return
    found.extend(Violation(path, _show(shape, value), c) for c in _size_problems(shape, len(value)))
    member = shape.member
    for index, item in enumerate(value, start=1):
        if member.type_name in ("structure", "list", "map"):
            _value(member, item, f"{path}.{index}.member", found, text_wire)
        else:
            problems = scalar_problems(member, item, text_wire)
            if problems:
                inner = ", ".join(problems)
                found.append(
                    Violation(path, _show(member, item), f"Member must satisfy constraint: [{inner}]")
                )


def _map(shape: Any, value: Any, path: str, found: list[Violation], text_wire: bool) -> None:
    if not isinstance(value, dict):
        found.append(Violation(path, _show(shape, value), "Member must be a map"))
        return
    found.extend(Violation(path, _show(shape, value), c) for c in _size_problems(shape, len(value)))
    for key, item in value.items():
        entry = None if shape.metadata.get("sensitive") else f"'{{{key}={item}}}'"
        key_problems = scalar_problems(shape.key, key, text_wire)
        if key_problems:
            found.append(Violation(path, entry, f"Map keys must satisfy constraint: [{', '.join(key_problems)}]"))
        if shape.value.type_name in ("structure", "list", "map"):
            _value(shape.value, item, f"{path}.{key}", found, text_wire)
            continue
        value_problems = scalar_problems(shape.value, item, text_wire)
        if value_problems:
            found.append(
                Violation(path, entry, f"Map value must satisfy constraint: [{', '.join(value_problems)}]")
            )


def _size_problems(shape: Any, size: int) -> list[str]:
    problems = []
    if "max" in shape.metadata and size > shape.metadata["max"]:
        problems.append(f"Member must have length less than or equal to {shape.metadata['max']}")
    if "min" in shape.metadata and size < shape.metadata["min"]:
        problems.append(f"Member must have length greater than or equal to {shape.metadata['min']}")
    return problems


def scalar_problems(shape: Any, value: Any, text_wire: bool) -> list[str]:
    """The constraints a string, number, boolean, timestamp or blob value breaks."""
    kind = shape.type_name
    if kind == "string":
        if not isinstance(value, str):
            return ["Member must be a string"]
        problems = _size_problems(shape, java_length(value))
        pattern = shape.metadata.get("pattern")
        # An empty value a shape allows (min 0) is not held to its pattern: EMR documents empty
        # tag values as valid while its StringEmpty256 pattern (.*\S.*) could never match one.
        allowed_empty = value == "" and shape.metadata.get("min", 1) == 0
        if pattern is not None and not allowed_empty and java_pattern(pattern).fullmatch(value) is None:
            problems.append(f"Member must satisfy regular expression pattern: {pattern}")
        enum = shape.metadata.get("enum")
        if enum and value not in enum:
            problems.append(f"Member must satisfy enum value set: [{', '.join(enum)}]")
        return problems
    if kind in ("integer", "long"):
        number = _integer(value, text_wire)
        if number is None:
            return [f"Member must be of type {kind}"]
        problems = []
        if "max" in shape.metadata and number > shape.metadata["max"]:
            problems.append(f"Member must have value less than or equal to {shape.metadata['max']}")
        if "min" in shape.metadata and number < shape.metadata["min"]:
            problems.append(f"Member must have value greater than or equal to {shape.metadata['min']}")
        return problems
    if kind in ("double", "float"):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if text_wire and isinstance(value, str):
            ok = _is_float(value)
        return [] if ok else [f"Member must be of type {kind}"]
    if kind == "boolean":
        ok = isinstance(value, bool) or (text_wire and value in ("true", "false"))
        return [] if ok else ["Member must be of type boolean"]
    if kind == "timestamp":
        ok = isinstance(value, str) or (isinstance(value, (int, float)) and not isinstance(value, bool))
        return [] if ok else ["Member must be a timestamp"]
    if kind == "blob":
        return [] if isinstance(value, str) else ["Member must be a blob"]
    return []


def _integer(value: Any, text_wire: bool) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if text_wire and isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            return None
    return None


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
