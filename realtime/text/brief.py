"""A client's value as an error message may quote it: short, and never the repr of a deep or huge structure.

One helper for every door: the socket's message validation and dispatch (msgpack type
names) and the HTTP body validation (JSON type names).
"""

from __future__ import annotations

from typing import Any, Final

MSGPACK_TYPE_NAMES: Final[dict[type, str]] = {
    bool: "bool", int: "integer", float: "float", str: "string", bytes: "bin", list: "array", dict: "map",
}
JSON_TYPE_NAMES: Final[dict[type, str]] = {
    bool: "boolean", int: "integer", float: "number", str: "string", list: "array", dict: "object",
}


def type_name(value: Any, names: dict[type, str] = MSGPACK_TYPE_NAMES) -> str:
    """What the client sent, in its format's words (a Python name for anything else)."""
    return names.get(type(value), type(value).__name__)


def brief(value: Any, limit: int = 64, names: dict[type, str] = MSGPACK_TYPE_NAMES) -> str:
    """A string or bytes quoted and cut at `limit`, a number as written, anything else by its type."""
    if isinstance(value, (str, bytes)):
        text = repr(value[:limit])
        return text + "..." if len(value) > limit else text
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return repr(value)
    return f"a value of type {type_name(value, names)}"
