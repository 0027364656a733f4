"""argon2id hashing for passwords and PINs.

Parameters come from argon2-cffi's RFC 9106 "low memory" profile: strong, yet fast
enough (tens of ms) that a cashier's PIN login on a modest terminal feels instant.
``VAULTSYNC_HASH_PROFILE=test`` selects a cheap profile so test suites stay fast; it
is ignored (with a warning) unless pytest is running in this process, so a stray
environment variable cannot weaken a shop's real hashes.
"""

from __future__ import annotations

import logging
import os
import sys

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError


def _hasher() -> PasswordHasher:
    if os.environ.get("VAULTSYNC_HASH_PROFILE") == "test":
        if "pytest" in sys.modules:
            return PasswordHasher.from_parameters(profiles.CHEAPEST)
        logging.getLogger(__name__).warning("VAULTSYNC_HASH_PROFILE=test ignored outside a test run")
    return PasswordHasher.from_parameters(profiles.RFC_9106_LOW_MEMORY)


_HASHER = _hasher()


def hash_secret(secret: str) -> str:
    return _HASHER.hash(secret)


def verify_secret(stored_hash: str | None, secret: str) -> bool:
    """Constant-time verify; False (never an exception) for a wrong secret or a bad hash."""
    if not stored_hash:
        return False
    try:
        return _HASHER.verify(stored_hash, secret)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    try:
        return _HASHER.check_needs_rehash(stored_hash)
    except InvalidHashError:
        return True
