"""Turns marshmallow's nested error messages into the one ``VALIDATION_ERROR`` shape.

``details`` carries ``field`` and ``value`` of the first problem (as the API reference shows) and
``errors``, every failing field by dotted path.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

from app.domain.errors import InvalidRequest

#: marshmallow's stock sentences, rephrased to read after the field name ("number is required").
_PHRASES = {
    "Missing data for required field.": "is required",
    "Field may not be null.": "may not be null",
    "Unknown field.": "is not a known field",
    "Not a valid string.": "must be a string",
    "Not a valid integer.": "must be an integer",
    "Not a valid number.": "must be a number",
    "Not a valid boolean.": "must be a boolean",
    "Not a valid mapping type.": "must be a JSON object",
    "Invalid input type.": "must be a JSON object",
    "Not a valid URL.": "must be a valid URL",
}
_MISSING = object()
#: Echoed values are cut to this many characters: the error should not repeat a huge input.
_MAX_ECHO_CHARS = 100


def invalid_request(messages: Any, data: Any = None, prefix: str = "") -> InvalidRequest:
    """Build the error for marshmallow ``messages`` raised while loading ``data``.

    ``prefix`` is the dotted path at which ``data`` sits in the request body (e.g. ``params``).
    """
    errors: dict[str, list[str]] = {}
    for path, message in _flatten(messages, prefix):
        errors.setdefault(path or "body", []).append(_PHRASES.get(message, message))
    field, first = next(iter(errors.items()))
    details: dict[str, Any] = {"field": field}
    relative = field[len(prefix) :].lstrip(".") if prefix else field
    value = _echo(data) if relative == "" else _value_at(data, relative)
    if value is not _MISSING and field != "body":
        details["value"] = value
    details["errors"] = errors
    separator = " " if first[0][:1].islower() else ": "
    return InvalidRequest(f"{field}{separator}{first[0]}", details)


def _flatten(messages: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(messages, Mapping):
        for key, value in messages.items():
            if key == "_schema":
                child = path
            elif isinstance(key, int):  # an item of a list: jobs[17]
                child = f"{path}[{key}]"
            else:
                child = f"{path}.{key}" if path else str(key)
            yield from _flatten(value, child)
    elif isinstance(messages, (list, tuple)):
        for message in messages:
            yield from _flatten(message, path)
    else:
        yield path, str(messages)


def _value_at(data: Any, dotted: str) -> Any:
    for part in dotted.replace("[", ".").replace("]", "").split("."):
        if isinstance(data, Mapping) and part in data:
            data = data[part]
        elif isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        else:
            return _MISSING
    return _echo(data)


def _echo(value: Any) -> Any:
    if isinstance(value, str):
        return value if len(value) <= _MAX_ECHO_CHARS else value[:_MAX_ECHO_CHARS] + "…"
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 332:
        return _MISSING  # more than 100 digits
    if isinstance(value, float) and not math.isfinite(value):
        return _MISSING  # NaN and Infinity have no JSON spelling
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return _MISSING
