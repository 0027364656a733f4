"""Per-column write versions for last-writer-wins merging of mutable (``lww``) tables.

Why a table of its own: the change log will be compacted once every peer has
acknowledged it, but the merge must still know which ``(hlc, node)`` wrote each column
of each row, or a late, older change would overwrite a newer value. ``column_versions``
is that durable memory. A row's tombstone is stored under the reserved column name
:data:`TOMBSTONE` so a late older upsert cannot resurrect a deleted row.

Neither local writes nor applied remote ones are recorded here while their change-log
entries exist (the log already holds version and value, and writing ~25 version rows per
replicated row would halve merge speed). Compaction (:mod:`vaultsync.sync.compaction`)
folds the entries it drops into this table — version *and* value, so a row deleted after
its history was compacted can still be rebuilt by a newer concurrent update — and the
merge takes the maximum of this table and the change log, see :mod:`vaultsync.sync.apply`.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from vaultsync.store.base import Base
from vaultsync.store.types import NODE_LEN

#: column_name used for a row's delete version (no real column can be named like this)
TOMBSTONE = "~deleted"


class ColumnVersion(Base):
    """The ``(hlc, node)`` of the write that currently owns one column of one replicated row."""

    __tablename__ = "column_versions"
    __replication__ = "local"

    table_name: Mapped[str] = mapped_column(String(48), primary_key=True)
    pk: Mapped[str] = mapped_column(String(64), primary_key=True)
    column_name: Mapped[str] = mapped_column(String(64), primary_key=True)
    hlc: Mapped[int] = mapped_column(BigInteger)
    node: Mapped[str] = mapped_column(String(NODE_LEN))
    #: the column's value as the change log encodes it (JSON text); NULL for TOMBSTONE rows and
    #: for versions recorded before values were kept (value then only in the row itself)
    value: Mapped[str | None] = mapped_column(Text, default=None)
