"""The browser's session: one sealed cookie holding the CSRF token and, once signed in, the
access and refresh tokens, refreshed through the gateway before the access token expires.

The cookie is encrypted and authenticated (Fernet), HttpOnly, SameSite=Lax, and Secure
unless the dashboard is served on loopback. It is the only state the dashboard keeps about
a browser: any replica can serve any request, and there is no session table to leak.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from cryptography.fernet import Fernet, InvalidToken

from dashboard.gateway import Gateway, GatewayError, SignedOut

COOKIE = "stackline_session"
# An access token this close to expiry is refreshed before use, so that no gateway call
# made with it expires on the way.
_REFRESH_MARGIN_SECONDS = 60
# A refresh token is single-use and a reused one revokes the whole family (it looks
# copied). Two pages loaded at once by one browser both carry the old token: the second
# is given the first one's result for this long instead of spending the token again.
_REFRESH_REMEMBER_SECONDS = 120
_REFRESH_REMEMBER_MAX = 10_000


@dataclass
class Session:
    csrf: str
    access_token: str = ""
    access_expires: float = 0.0
    refresh_token: str = ""
    refresh_expires: float = 0.0
    login: str = ""
    name: str = ""
    provider: str = ""
    # The gateway's sign-in state while this browser is at GitHub.
    oauth_state: str = ""
    # A new ingest key on its way to the one page that shows it, then dropped.
    new_key: dict[str, str] | None = None
    # The create form whose key was shown: sending that form again does not show it again.
    key_shown_for: str = ""
    # One line for the next page ("Project deleted.").
    notice: str = ""

    @property
    def signed_in(self) -> bool:
        return bool(self.refresh_token) and self.refresh_expires > time.time()

    @classmethod
    def fresh(cls) -> Session:
        return cls(csrf=secrets.token_urlsafe(32))

    def sign_in(self, tokens: dict[str, Any]) -> None:
        """Start a signed-in session from the gateway's answer; a new CSRF token with it."""
        user = tokens["user"]
        self.csrf = secrets.token_urlsafe(32)
        self.oauth_state = ""
        self.login = str(user["login"])
        self.name = str(user.get("name") or "")
        self.provider = str(user.get("provider") or "")
        self.take_tokens(tokens)

    def take_tokens(self, tokens: dict[str, Any]) -> None:
        self.access_token = str(tokens["access_token"])
        self.access_expires = _epoch(tokens["expires_at"])
        self.refresh_token = str(tokens["refresh_token"])
        self.refresh_expires = _epoch(tokens["refresh_expires_at"])

    def sign_out(self) -> None:
        """Forget the user; a new CSRF token so that no form from before stays valid."""
        notice = self.notice
        self.__dict__.update(Session.fresh().__dict__)
        self.notice = notice


def _epoch(value: str) -> float:
    return datetime.fromisoformat(value).timestamp()


class SessionCodec:
    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)

    def load(self, cookie: str | None) -> Session | None:
        """The session the cookie holds, or None for no cookie or one that is not ours."""
        if not cookie:
            return None
        try:
            data = orjson.loads(self._fernet.decrypt(cookie.encode()))
            return Session(**data)
        except (InvalidToken, ValueError, TypeError):
            # Sealed with another key, tampered with, or from an older shape: start over.
            return None

    def dump(self, session: Session) -> str:
        return self._fernet.encrypt(orjson.dumps(session.__dict__)).decode()


class Refresher:
    """Spends refresh tokens, once each, sharing the result between concurrent requests."""

    def __init__(self, gateway: Gateway) -> None:
        self._gateway = gateway
        self._results: OrderedDict[bytes, tuple[float, dict[str, Any]]] = OrderedDict()
        self._in_flight: dict[bytes, asyncio.Future[dict[str, Any]]] = {}

    async def ensure_fresh(self, session: Session) -> bool:
        """Refresh the session's access token if it is about to expire; True if it changed.

        Raises SignedOut when the refresh token is refused (expired, revoked, reused).
        """
        if session.access_expires - time.time() > _REFRESH_MARGIN_SECONDS:
            return False
        digest = hashlib.sha256(session.refresh_token.encode()).digest()
        remembered = self._results.get(digest)
        if remembered is not None and remembered[0] > time.monotonic():
            session.take_tokens(remembered[1])
            return True
        pending = self._in_flight.get(digest)
        if pending is not None:
            session.take_tokens(await asyncio.shield(pending))
            return True
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._in_flight[digest] = future
        try:
            try:
                tokens = await self._gateway.json(
                    "POST", "/api/auth/refresh", json={"refresh_token": session.refresh_token}
                )
            except GatewayError:
                # Any refusal of a refresh token (malformed, unknown) ends the session.
                raise SignedOut() from None
            future.set_result(tokens)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # nobody else may be waiting; do not let the loop warn
            raise
        finally:
            del self._in_flight[digest]
        self._results[digest] = (time.monotonic() + _REFRESH_REMEMBER_SECONDS, tokens)
        while len(self._results) > _REFRESH_REMEMBER_MAX:
            self._results.popitem(last=False)
        session.take_tokens(tokens)
        return True


__all__ = ["COOKIE", "Refresher", "Session", "SessionCodec", "SignedOut"]
