"""Commit notifications: "this database just committed local changes" (for live push).

The live pusher must learn of a sale the moment it commits, not on the next polling
tick (target: visible on a peer within 50 ms). Change capture writes the change rows
during the flush; this module marks a session that flushed local writes and, when that
session's transaction commits, calls the listeners registered for its database.

A listener runs in the committing thread, after the commit, so it must be quick and
must never raise into the service that sold something: it should only wake a worker.
Sessions that apply peers' changes (``session.info["replaying"]``) are not reported —
those changes are not ours to push (anti-entropy relays them).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, UOWTransaction

log = logging.getLogger(__name__)

Listener = Callable[[], None]

_FLAG = "vaultsync_local_writes"
_lock = threading.Lock()
_listeners: dict[int, list[Listener]] = {}  # id(engine) -> listeners
_installed: set[type[Session]] = set()


def subscribe(engine: Engine, listener: Listener) -> Callable[[], None]:
    """Call ``listener()`` after every commit with local writes on ``engine``; returns unsubscribe."""
    with _lock:
        _listeners.setdefault(id(engine), []).append(listener)

    def unsubscribe() -> None:
        with _lock:
            items = _listeners.get(id(engine), [])
            if listener in items:
                items.remove(listener)
            if not items:
                _listeners.pop(id(engine), None)

    return unsubscribe


def _after_flush(session: Session, flush_context: UOWTransaction) -> None:
    if not session.info.get("replaying"):
        session.info[_FLAG] = True


def _after_commit(session: Session) -> None:
    if not session.info.pop(_FLAG, False):
        return
    bind = session.get_bind()
    engine = bind.engine if hasattr(bind, "engine") else bind
    with _lock:
        listeners = list(_listeners.get(id(engine), ()))
    for listener in listeners:
        try:
            listener()
        except Exception:  # a broken listener must never fail the sale that committed
            log.exception("commit listener failed")


def _after_rollback(session: Session) -> None:
    session.info.pop(_FLAG, None)


def install(session_class: type[Session]) -> None:
    """Hook a session class (idempotent)."""
    if session_class in _installed:
        return
    event.listen(session_class, "after_flush", _after_flush)
    event.listen(session_class, "after_commit", _after_commit)
    event.listen(session_class, "after_soft_rollback", lambda s, prev: _after_rollback(s))
    _installed.add(session_class)


def install_default() -> None:
    """Hook the project's session class (called by the sync node when it starts)."""
    from vaultsync.store.session import VaultSession

    install(VaultSession)
