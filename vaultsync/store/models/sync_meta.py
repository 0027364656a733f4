"""Replication bookkeeping: node identity, the change log, the vector clock, known nodes and peers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from vaultsync.store.base import Base, TimestampMixin
from vaultsync.store.types import NODE_LEN, UTCDateTime, utcnow


class NodeState(Base):
    """This database's identity and write counters: exactly one row (id = 1).

    ``last_seq`` and ``last_hlc`` are advanced by one atomic UPDATE … RETURNING per
    flush. The row lock that UPDATE takes is held to commit, so on every backend the
    order of sequence numbers is the order of commits: a peer that has seen seq N of
    this node has seen everything before it.
    """

    __tablename__ = "node_state"
    __replication__ = "local"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    node_id: Mapped[str] = mapped_column(String(NODE_LEN), unique=True)
    #: identifies the shop's mesh; peers from another shop are refused
    shop_id: Mapped[str] = mapped_column(String(32))
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    last_hlc: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Change(Base):
    """One captured write: ``(origin_node, seq)`` is unique mesh-wide.

    ``data`` is compact JSON of column name → value (every column on insert, only the
    changed ones on update; NULL for a tombstone). Values are encoded by
    :mod:`vaultsync.store.codec` so every backend and every peer decodes them the same.
    """

    __tablename__ = "changes"
    __replication__ = "local"
    __table_args__ = (
        # the HLC too: a row's newest entries are read from the index (migration 0010)
        Index("ix_changes_table_pk_hlc", "table_name", "pk", "hlc"),
        Index("ix_changes_hlc", "hlc"),
    )

    origin_node: Mapped[str] = mapped_column(String(NODE_LEN), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hlc: Mapped[int] = mapped_column(BigInteger)
    table_name: Mapped[str] = mapped_column(String(48))
    pk: Mapped[str] = mapped_column(String(64))
    op: Mapped[str] = mapped_column(String(8))  # "upsert" | "delete"
    data: Mapped[str | None] = mapped_column(Text, default=None)


class VectorClockEntry(Base):
    """This node's vector clock: the highest contiguous seq applied from each origin."""

    __tablename__ = "vector_clock"
    __replication__ = "local"

    origin_node: Mapped[str] = mapped_column(String(NODE_LEN), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)


class Node(TimestampMixin, Base):
    """A terminal trusted by the shop mesh. Replicated, so a revocation reaches every peer."""

    __tablename__ = "nodes"
    __replication__ = "lww"

    node_id: Mapped[str] = mapped_column(String(NODE_LEN), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    station_id: Mapped[str | None] = mapped_column(String(32), default=None)
    cert_fingerprint: Mapped[str | None] = mapped_column(String(128), default=None)
    paired_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)


class PeerLink(Base):
    """What this node knows about reaching a peer right now (local: addresses differ per LAN view)."""

    __tablename__ = "peer_links"
    __replication__ = "local"

    node_id: Mapped[str] = mapped_column(String(NODE_LEN), primary_key=True)
    address: Mapped[str] = mapped_column(String(128))
    port: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(16), default="static")  # "zeroconf" | "static"
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    last_clock: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True), default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)


class CompactionFloor(Base):
    """Per origin, the highest seq whose change-log entries this node has compacted away.

    Changes at or below the floor are no longer in the log: a peer whose clock is below
    it cannot be served by the diff and is told to reconcile (or bootstrap) instead. The
    versions and values of compacted ``lww`` columns live on in ``column_versions``.
    """

    __tablename__ = "compaction_floor"
    __replication__ = "local"

    origin_node: Mapped[str] = mapped_column(String(NODE_LEN), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
