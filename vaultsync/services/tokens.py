"""Short-lived JWTs for the REST API.

Tokens are signed with the terminal's own secret (``Config.secret()``) and last 15
minutes: a stolen token is worth little, and the user record is re-read on every
request so a disabled user or a changed role takes effect at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import jwt

from vaultsync.domain.errors import AuthenticationError
from vaultsync.services.auth import UserView
from vaultsync.store.types import utcnow

ALGORITHM = "HS256"
DEFAULT_TTL = timedelta(minutes=15)
ISSUER = "vaultsync"


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_in: int


def issue(user: UserView, secret: str, *, ttl: timedelta = DEFAULT_TTL) -> IssuedToken:
    now = utcnow()
    claims = {
        "sub": user.id,
        "role": user.role.value,
        "iss": ISSUER,
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
    }
    return IssuedToken(jwt.encode(claims, secret, algorithm=ALGORITHM), int(ttl.total_seconds()))


def subject(token: str, secret: str) -> str:
    """The user id a valid token was issued to; AuthenticationError otherwise."""
    try:
        claims = jwt.decode(
            token, secret, algorithms=[ALGORITHM], issuer=ISSUER, options={"require": ["exp", "sub", "iss"]}
        )
    except jwt.ExpiredSignatureError as exc:
        raise AuthenticationError("token expired: log in again") from exc
    except jwt.InvalidTokenError as exc:
        raise AuthenticationError("invalid token") from exc
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise AuthenticationError("invalid token")
    return sub
