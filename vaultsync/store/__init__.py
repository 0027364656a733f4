"""Persistence: SQLAlchemy models, the engine, units of work, migrations and change capture.

Every write to a replicated table made through a :class:`~vaultsync.store.session.VaultSession`
records a ``Change`` row in the same database transaction, so the sync engine sees
exactly what the services did, no more and no less.
"""

from vaultsync.store.database import Store, open_store

__all__ = ["Store", "open_store"]
