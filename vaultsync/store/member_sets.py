"""``column IN (<a large set>)`` with the whole set bound as ONE value.

An expanding IN renders a placeholder per value on every execution, and SQLite caps the
number of placeholders; for sets of thousands to hundreds of thousands of keys (a merge's
keys, the SKUs a price import confirmed) SQLAlchemy spent more time rendering the list
than the database spent answering. SQLite gets the set as a JSON array read by
``json_each`` (a non-correlated ``IN (SELECT ...)``, which it materialises once per
statement into an index), PostgreSQL as an array compared with ``= ANY``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson
from sqlalchemy import ARRAY, String, any_, bindparam, func, select


def is_sqlite(bind: Any) -> bool:
    return bool(bind.dialect.name == "sqlite")


def member_of(column: Any, name: str, *, sqlite: bool) -> Any:
    """The clause ``column IN :name``; bind :func:`member_values` under ``name``."""
    if sqlite:
        listed = func.json_each(bindparam(name, type_=String)).table_valued("value")
        return column.in_(select(listed.c.value))
    return column == any_(bindparam(name, type_=ARRAY(column.type)))


def member_values(values: Iterable[Any], *, sqlite: bool) -> Any:
    """The bound value for a :func:`member_of` clause."""
    return orjson.dumps(list(values)).decode() if sqlite else list(values)
