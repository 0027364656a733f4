"""Column values <-> JSON-safe values for the change log.

The change log must decode identically on SQLite, PostgreSQL and on a peer running on
another machine, so values are normalised by column type, not by Python type guessing:
datetimes as ISO-8601 UTC strings, dates as ISO dates, binary as base64, JSON columns
as their JSON value. Everything else (int, str, bool, None) passes through.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, date, datetime
from typing import Any

import orjson
from sqlalchemy import Column, Date, DateTime, LargeBinary
from sqlalchemy.types import JSON, TypeDecorator, TypeEngine


def _base_type(type_: TypeEngine[Any]) -> TypeEngine[Any]:
    if isinstance(type_, TypeDecorator):
        return type_.impl_instance
    return type_


def needs_encoding(column: Column[Any]) -> bool:
    """Whether values of this column differ between Python and the change log's JSON."""
    return isinstance(_base_type(column.type), DateTime | Date | LargeBinary)


def encode_value(column: Column[Any], value: Any) -> Any:
    if value is None:
        return None
    t = _base_type(column.type)
    if isinstance(t, DateTime):
        if not isinstance(value, datetime):
            raise TypeError(f"{column.name}: expected datetime, got {type(value).__name__}")
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC).isoformat()
    if isinstance(t, Date):
        return value.isoformat()
    if isinstance(t, LargeBinary):
        return base64.b64encode(value).decode("ascii")
    return value


def decode_value(column: Column[Any], value: Any) -> Any:
    if value is None:
        return None
    t = _base_type(column.type)
    if isinstance(t, DateTime):
        return datetime.fromisoformat(value).astimezone(UTC)
    if isinstance(t, Date):
        return date.fromisoformat(value)
    if isinstance(t, LargeBinary):
        return base64.b64decode(value)
    if isinstance(t, JSON):
        return value
    return value


def dumps(data: dict[str, Any]) -> str:
    """Compact, key-sorted JSON: identical rows produce identical bytes on every node."""
    return json.dumps(data, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def loads(text: str) -> dict[str, Any]:
    """Parse change data. orjson is several times faster than :mod:`json` (decoding is most of
    a merge's Python work); it rejects a few inputs :mod:`json` takes (NaN, integers beyond
    64 bits, lone surrogates), which fall back to :mod:`json` so every node reads the same.
    Writing stays :func:`dumps`: its bytes must be identical on every node."""
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        value = json.loads(text)
    if not isinstance(value, dict):
        raise ValueError("change data must be a JSON object")
    return value
