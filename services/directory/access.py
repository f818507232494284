"""Who may see private accounts: the bearer of the admin token. Pure, tested with plain strings."""

from __future__ import annotations

import hmac
from typing import Literal

from pydantic import SecretStr

Access = Literal["public", "admin"]


class Unauthorized(Exception):
    """A credential was offered and is not good; `reason` is one line, never the token."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def access_level(authorization: str | None, admin_token: SecretStr | None) -> Access:
    """`public` without an Authorization header; `admin` with `Bearer <admin token>`; otherwise
    `Unauthorized` (a wrong token is refused, not quietly downgraded to public, so the caller
    learns their token is wrong). The comparison is constant-time."""
    if authorization is None or not authorization.strip():
        return "public"
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("malformed Authorization header: expected 'Bearer <token>'")
    if admin_token is None or not admin_token.get_secret_value():
        raise Unauthorized("no admin token is configured on this server (HERALD_ADMIN_TOKEN)")
    if not hmac.compare_digest(token.encode(), admin_token.get_secret_value().encode()):
        raise Unauthorized("invalid admin token")
    return "admin"
