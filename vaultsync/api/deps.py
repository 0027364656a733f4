"""Request dependencies: the authenticated user from a bearer token."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from vaultsync.domain.errors import AuthenticationError, NotFoundError, PermissionDenied
from vaultsync.services import tokens
from vaultsync.services.auth import UserView
from vaultsync.services.container import Services

_bearer = HTTPBearer(auto_error=False)


def current_user_dependency(services: Services) -> Callable[..., UserView]:
    secret = services.config.secret()

    def current_user(creds: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> UserView:
        if creds is None or creds.scheme.lower() != "bearer":
            raise AuthenticationError("missing bearer token: POST /api/v1/auth/token first")
        user_id = tokens.subject(creds.credentials, secret)
        try:
            user = services.auth.get(user_id)
        except NotFoundError as exc:
            raise AuthenticationError("the token's user no longer exists") from exc
        if not user.is_active:
            raise PermissionDenied("this account is disabled")
        return user

    return current_user
