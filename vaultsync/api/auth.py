"""Token endpoints: password login for managers, PIN login for cashiers."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from vaultsync.api.errors import ErrorMappingRoute
from vaultsync.services import tokens
from vaultsync.services.auth import UserView
from vaultsync.services.container import Services


class PasswordLogin(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class PinLogin(BaseModel):
    user_id: str = Field(min_length=1, max_length=64)
    pin: str = Field(min_length=1, max_length=16)


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int
    user_id: str
    role: str


def router(services: Services) -> APIRouter:
    r = APIRouter(prefix="/auth", tags=["auth"], route_class=ErrorMappingRoute)
    secret = services.config.secret()

    def token_for(user: UserView) -> TokenOut:
        issued = tokens.issue(user, secret)
        return TokenOut(
            access_token=issued.token, expires_in=issued.expires_in, user_id=user.id, role=user.role
        )

    @r.post("/token", response_model=TokenOut)
    def password_token(body: PasswordLogin) -> TokenOut:
        return token_for(services.auth.login_password(body.username, body.password))

    @r.post("/pin", response_model=TokenOut)
    def pin_token(body: PinLogin) -> TokenOut:
        return token_for(services.auth.login_pin(body.user_id, body.pin))

    return r
