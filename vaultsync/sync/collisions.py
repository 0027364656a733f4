"""Unique-value collisions between replicas: a deterministic, convergent policy.

Two terminals that are offline can both create a SKU with code ``MTG-DMU-107-NM``, a
station with receipt prefix ``T2``, a user ``sam`` or a slab with certificate ``55555555``.
Each insert is valid where it was made; merged, they violate a UNIQUE constraint. Failing
the batch would wedge replication forever (the same batch is offered again and again), so
the merge settles the clash instead, the same way on every node, whatever the order:

* The row whose clashing value was written first — the smaller ``(hlc, node)`` of the
  writes that set the unique columns, then the smaller primary key — **keeps the value**.
* The other row's value gets a **deterministic suffix** derived from its own primary key
  (``MTG-DMU-107-NM~3f9a``, cut to the column's length), so every node picks the same
  new value without talking to the others.
* For mutable (``lww``) tables the rename is written as a normal change by the node that
  detects it. Several nodes may detect the same clash; their renames carry the same value,
  so last-writer-wins agrees whichever rename wins. The rename is an ordinary edit: a
  manager can change the value afterwards like any other.
* Ledger rows (``transactions.number`` when two stations shared a prefix) are insert-only,
  so there the rename is materialised on apply — a pure function of the set of rows, hence
  identical everywhere — and the change log keeps the original.
* Every collision raises an alert (:mod:`vaultsync.sync.alerts`); a certificate number on
  two different slabs is flagged **critical, possible fraud** (a graded card exists once).
"""

from __future__ import annotations

import hashlib
from functools import cache

from sqlalchemy import String, Table, UniqueConstraint

from vaultsync.sync import alerts as alerts_mod

#: suffix lengths tried in turn (hex digits of the loser's key hash) until the value is free
SUFFIX_LENGTHS = (4, 6, 8, 12, 16, 24)


@cache
def unique_sets(table: Table) -> tuple[tuple[tuple[str, ...], str], ...]:
    """Each UNIQUE column set of ``table`` with the column a collision renames.

    The renamed column is the set's last string column that is not a foreign key (for
    ``card_sets (game_id, code)`` it is ``code``). Sets without one (numbers only) are left
    out: their values come from per-node counters and cannot collide between nodes.
    """
    sets: list[tuple[str, ...]] = []
    for cons in table.constraints:
        if isinstance(cons, UniqueConstraint):
            sets.append(tuple(c.name for c in cons.columns))
    for index in table.indexes:
        if index.unique:
            sets.append(tuple(c.name for c in index.columns))
    out = []
    for cols in sets:
        rename = [c for c in cols if isinstance(table.c[c].type, String) and not table.c[c].foreign_keys]
        if rename and rename[-1] != "node_id":
            out.append((cols, rename[-1]))
    return tuple(out)


def candidates(value: str, pk: str, max_len: int | None) -> list[str]:
    """The new values a losing row may take, in order (all derived from its primary key)."""
    digest = hashlib.sha256(pk.encode()).hexdigest()
    out = []
    for n in SUFFIX_LENGTHS:
        suffix = "~" + digest[:n]
        head = value if max_len is None else value[: max(0, max_len - len(suffix))]
        out.append(head + suffix)
    return out


def max_length(table: Table, column: str) -> int | None:
    length = getattr(table.c[column].type, "length", None)
    return int(length) if length else None


def alert_for(
    table: str, column: str, value: str, winner_pk: str, loser_pk: str, renamed: str
) -> alerts_mod.NewAlert:
    """The alert a collision raises: critical for a certificate number (possible fraud)."""
    details = {
        "table": table,
        "column": column,
        "value": value,
        "kept_by": winner_pk,
        "renamed": loser_pk,
        "renamed_to": renamed,
    }
    if table == "skus" and column == "cert_number":
        return alerts_mod.NewAlert(
            alerts_mod.DUPLICATE_CERT,
            alerts_mod.CRITICAL,
            table,
            loser_pk,
            f"Certificate number {value} was entered on two different slabs on two terminals. A graded "
            f"card exists only once: possible fraud or a typing error. Check both SKUs; the second one "
            f"now reads {renamed}.",
            details,
            key=f"{column}={value}",
        )
    return alerts_mod.NewAlert(
        alerts_mod.UNIQUE_COLLISION,
        alerts_mod.WARNING,
        table,
        loser_pk,
        f"Two terminals created {table}.{column} = {value!r} while apart. The first one keeps it; the "
        f"other is now {renamed!r}. Rename or merge them.",
        details,
        key=f"{column}={value}",
    )
