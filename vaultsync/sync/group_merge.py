"""Group commit for merges: peers' batches that arrive together share one transaction.

A terminal merges what its peers send from several threads at once: the transport's
server workers apply live pushes, the maintainer's rounds apply anti-entropy pulls. Each
was its own write transaction, so on a busy mesh they queued for SQLite's write lock:
a waiting writer sleeps in SQLite's busy handler (in steps of up to 100 ms) even after
the lock is free, and a push that waited past the busy timeout was refused and had to
wait for the next anti-entropy round. Each transaction also pays a fixed cost (vector
clock, invariant checks, an fsync at commit) that dwarfs the work of a 5-change push.

Here the first caller to find no merge running becomes the *leader*: it takes every
batch queued by then (up to :data:`MAX_GROUP_CHANGES` changes), merges them in one
:func:`~vaultsync.sync.apply.apply_batch`, and hands each caller its share of the result.
Callers that arrive while it runs queue up and are merged by the next leader, together.
An idle terminal therefore merges a lone push at once, exactly as before; a loaded one
merges bigger batches, fewer times, and never waits on itself for the write lock.

Merging several peers' batches together is the same merge: apply_batch is idempotent and
order-independent, and a batch that fills another's gap (a pull and a push of the same
origin) now applies where it used to be deferred. If the group fails (one peer's batch
has a clock far in the future, a missing parent, bad data), nothing of it was written and
each batch is merged again on its own, so only the bad one fails, with its own error.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from vaultsync.store.database import Store
from vaultsync.sync.apply import ApplyResult, RemoteChange, apply_batch

#: a group never grows past this many changes (a batch bigger than this on its own is
#: merged alone): the merge holds the write lock, and the register on this terminal waits
MAX_GROUP_CHANGES = 2000


@dataclass
class _Request:
    changes: Sequence[RemoteChange]
    done: bool = False
    result: ApplyResult | None = None
    error: BaseException | None = None


@dataclass
class _Queue:
    cond: threading.Condition = field(default_factory=threading.Condition)
    pending: list[_Request] = field(default_factory=list)
    busy: bool = False
    #: how many apply_batch transactions merged more than one caller's batch (for tests, status)
    grouped: int = 0


#: per database (its engine: a Store is a value, not hashable)
_queues: weakref.WeakKeyDictionary[Any, _Queue] = weakref.WeakKeyDictionary()
_registry_lock = threading.Lock()


def _queue(store: Store) -> _Queue:
    with _registry_lock:
        q = _queues.get(store.engine)
        if q is None:
            q = _queues[store.engine] = _Queue()
        return q


def merge(store: Store, changes: Sequence[RemoteChange]) -> ApplyResult:
    """Merge ``changes`` into ``store``, possibly in one transaction with other callers'.

    Same contract as :func:`~vaultsync.sync.apply.apply_batch` for this caller's changes:
    on return they are applied (or deferred, or already held); on an exception none of
    them was written.
    """
    q = _queue(store)
    me = _Request(changes)
    with q.cond:
        q.pending.append(me)
    while True:
        with q.cond:
            while not me.done and q.busy:
                q.cond.wait()
            if me.done:
                return _outcome(me)
            # lead: our batch is in this group unless the ones queued before it fill it, and
            # then we lead again (or are served) after it
            q.busy = True
            group = _take(q)
        try:
            _run(store, group)
        except BaseException as exc:  # a bug here must not leave the other callers waiting
            for req in group:
                if not req.done:
                    req.error, req.done = exc, True
            raise
        finally:
            with q.cond:
                if len(group) > 1:
                    q.grouped += 1
                q.busy = False
                q.cond.notify_all()


def grouped_merges(store: Store) -> int:
    """How many merges on this database served more than one caller so far."""
    return _queue(store).grouped


def _take(q: _Queue) -> list[_Request]:
    """The leader's group: queued batches in arrival order, up to the size cap."""
    group: list[_Request] = []
    size = 0
    while q.pending:
        nxt = q.pending[0]
        if group and size + len(nxt.changes) > MAX_GROUP_CHANGES:
            break
        group.append(q.pending.pop(0))
        size += len(nxt.changes)
    return group


def _outcome(req: _Request) -> ApplyResult:
    if req.error is not None:
        raise req.error
    assert req.result is not None
    return req.result


def _run(store: Store, group: list[_Request]) -> None:
    if len(group) > 1:
        try:
            combined = apply_batch(store, [c for req in group for c in req.changes])
        except Exception:
            pass
        else:
            _share(combined, group)
            return
    for req in group:
        try:
            req.result = apply_batch(store, req.changes)
        except BaseException as exc:  # handed to the caller that owns the batch
            req.error = exc
        req.done = True


def _share(combined: ApplyResult, group: list[_Request]) -> None:
    """Each caller's part of one merge: its own applied, duplicate and deferred changes.

    A change two callers both sent (a push and a pull of the same sale) counts as applied
    for both; alerts raised by the merge go to the first caller only, so totals over the
    callers count each alert once.
    """
    applied = {(c.origin_node, c.seq) for c in combined.applied_changes}
    deferred = {(c.origin_node, c.seq) for c in combined.deferred}
    for i, req in enumerate(group):
        own_applied = [c for c in req.changes if (c.origin_node, c.seq) in applied]
        own_deferred = [c for c in req.changes if (c.origin_node, c.seq) in deferred]
        first = i == 0
        req.result = replace(
            combined,
            applied=len(own_applied),
            skipped_duplicates=len(req.changes) - len(own_applied) - len(own_deferred),
            deferred=own_deferred,
            applied_changes=own_applied,
            oversell_alerts=combined.oversell_alerts if first else [],
            credit_alerts=combined.credit_alerts if first else [],
            collisions=combined.collisions if first else [],
            clock=dict(combined.clock),
        )
        req.done = True
