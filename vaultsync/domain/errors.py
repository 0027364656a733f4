"""Errors that carry a message fit to show a person.

Services raise these; the UI shows ``str(exc)`` inline and the API maps them to 4xx.
Anything else reaching the edge is a bug and is logged, never shown raw.
"""

from __future__ import annotations


class VaultSyncError(Exception):
    """Base for errors whose message is safe and useful to show to the user."""

    http_status = 400


class ValidationError(VaultSyncError):
    """Input was malformed or out of range; nothing was changed."""

    http_status = 422


class NotFoundError(VaultSyncError):
    http_status = 404


class PermissionDenied(VaultSyncError):
    http_status = 403


class AuthenticationError(VaultSyncError):
    http_status = 401


class ConflictError(VaultSyncError):
    """The request clashes with current state (already sold, shift already open...)."""

    http_status = 409


class StoreError(VaultSyncError):
    """The database cannot be used as asked (unreadable, newer schema, not writable)."""

    http_status = 503


class ReplicationError(VaultSyncError):
    """A write would break replication rules (e.g. updating an insert-only ledger row)."""

    http_status = 500
