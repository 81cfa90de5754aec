"""GitHub, as AuthService talks to it: the OAuth web flow with PKCE, the device flow, `GET /user`,
and "Check a token" (`POST /applications/{client_id}/token`).

The base URLs are settings, so the same code talks to github.com, to GitHub
Enterprise, or to the stand-in in tools/github_standin.py. Every call is
bounded by a timeout; GitHub unreachable, slow, or answering with an error
page is Unavailable (503 to the caller), never a hang.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx2
from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuthError

from stackline_infra.errors import (
    AccessDenied,
    AuthorizationPending,
    ExpiredToken,
    InvalidArgument,
    NotFound,
    SlowDown,
    Unauthenticated,
    Unavailable,
)

# The fewest that work: the public profile, to know who signed in.
SCOPE = "read:user"
# Scopes that include it: `user` grants read:user and more.
_SCOPES_THAT_READ_THE_USER = frozenset({"read:user", "user"})
_DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


@dataclass(frozen=True)
class GitHubUser:
    id: int
    login: str
    name: str | None
    avatar_url: str | None


@dataclass(frozen=True)
class DeviceLogin:
    device_code: str
    user_code: str
    verification_uri: str
    expires_in: int
    interval: int


class GitHub:
    def __init__(
        self,
        *,
        web_url: str,
        api_url: str,
        client_id: str,
        client_secret: str,
        callback_url: str,
        timeout: float,
    ) -> None:
        self._web = web_url.rstrip("/")
        self._api = api_url.rstrip("/")
        self._client_id = client_id
        self._client_secret = client_secret
        self.configured = bool(client_id and client_secret and callback_url)
        # Whether tokens of Stackline's own app can be recognised as such.
        self.can_check_tokens = bool(client_id and client_secret)
        self._oauth = AsyncOAuth2Client(
            client_id=client_id,
            client_secret=client_secret,
            scope=SCOPE,
            redirect_uri=callback_url,
            code_challenge_method="S256",
            token_endpoint_auth_method="client_secret_post",  # noqa: S106 - a method name
            timeout=timeout,
        )

    async def close(self) -> None:
        await self._oauth.aclose()

    def _require_configuration(self) -> None:
        if not self.configured:
            # As for a local sign-in switched off: on this server the sign-in does not exist.
            raise NotFound("GitHub sign-in is not configured on this server")

    def authorize_url(self, state: str, code_verifier: str) -> str:
        self._require_configuration()
        url, _ = self._oauth.create_authorization_url(
            f"{self._web}/login/oauth/authorize", state=state, code_verifier=code_verifier
        )
        return str(url)

    async def exchange_code(self, code: str, code_verifier: str) -> str:
        """The GitHub token for a code the browser brought back."""
        self._require_configuration()
        try:
            token = await self._oauth.fetch_token(
                f"{self._web}/login/oauth/access_token",
                code=code,
                code_verifier=code_verifier,
                headers={"Accept": "application/json"},
            )
        except OAuthError as exc:
            # GitHub's answer to a wrong, used or expired code, or a PKCE mismatch.
            raise InvalidArgument(
                f"GitHub refused the sign-in ({exc.error})", field="code"
            ) from None
        except (httpx2.HTTPError, ValueError) as exc:
            raise Unavailable(
                f"GitHub did not answer the sign-in ({type(exc).__name__})", retry_after=5
            ) from None
        return _access_token(token)

    async def user(self, token: str) -> GitHubUser:
        try:
            response = await self._oauth.request(
                "GET",
                f"{self._api}/user",
                headers={
                    "Authorization": f"Bearer {token}",
                    "Accept": "application/vnd.github+json",
                },
                # Not the OAuth client's own token: the one being checked.
                withhold_token=True,
            )
        except httpx2.HTTPError as exc:
            raise Unavailable(
                f"GitHub did not answer ({type(exc).__name__})", retry_after=5
            ) from None
        if response.status_code == 401:
            raise Unauthenticated("GitHub does not accept this token")
        if response.status_code != 200:
            raise Unavailable(f"GitHub answered {response.status_code} to /user", retry_after=5)
        # A classic OAuth token lists its scopes here; a token with none (or of a kind that
        # lists none, such as a fine-grained one) was not granted what a sign-in asks for.
        _require_scope(_split_scopes(response.headers.get("x-oauth-scopes", "")))
        try:
            return _github_user(response.json())
        except (ValueError, KeyError, TypeError):
            raise Unavailable(
                f"GitHub answered {response.status_code} to /user", retry_after=5
            ) from None

    async def own_app_user(self, token: str) -> GitHubUser | None:
        """The user of a token GitHub issued to Stackline's own OAuth app; None for a token of
        any other app (or none GitHub knows). GitHub's "Check a token", with the app's
        credentials: only the app that holds the secret can ask, and the answer names the
        token's scopes and user."""
        if not self.can_check_tokens:
            return None
        try:
            response = await self._oauth.request(
                "POST",
                f"{self._api}/applications/{self._client_id}/token",
                json={"access_token": token},
                headers={"Accept": "application/vnd.github+json"},
                auth=httpx2.BasicAuth(self._client_id, self._client_secret),
                withhold_token=True,
            )
        except httpx2.HTTPError as exc:
            raise Unavailable(
                f"GitHub did not answer ({type(exc).__name__})", retry_after=5
            ) from None
        if response.status_code in (404, 422):
            return None
        if response.status_code != 200:
            raise Unavailable(
                f"GitHub answered {response.status_code} to a token check", retry_after=5
            )
        try:
            body = response.json()
            scopes = body["scopes"]
            if not isinstance(scopes, list):
                raise TypeError("scopes")
            _require_scope({str(s) for s in scopes})
            return _github_user(body["user"])
        except (ValueError, KeyError, TypeError):
            raise Unavailable(
                "GitHub answered a token check with unexpected JSON", retry_after=5
            ) from None

    async def start_device_login(self) -> DeviceLogin:
        self._require_configuration()
        body = await self._post_form(
            f"{self._web}/login/device/code", {"client_id": self._client_id, "scope": SCOPE}
        )
        try:
            return DeviceLogin(
                device_code=str(body["device_code"]),
                user_code=str(body["user_code"]),
                verification_uri=str(body["verification_uri"]),
                expires_in=int(body["expires_in"]),
                interval=int(body.get("interval", 5)),
            )
        except (KeyError, TypeError, ValueError):
            raise Unavailable("GitHub refused to start a device sign-in", retry_after=5) from None

    async def poll_device_login(self, device_code: str) -> str:
        """The GitHub token once the user has approved; raises while they have not."""
        self._require_configuration()
        body = await self._post_form(
            f"{self._web}/login/oauth/access_token",
            {"client_id": self._client_id, "device_code": device_code, "grant_type": _DEVICE_GRANT},
        )
        error = body.get("error")
        if error == "authorization_pending":
            raise AuthorizationPending("waiting for the user to enter the code on GitHub")
        if error == "slow_down":
            interval = int(body.get("interval", 10))
            raise SlowDown(
                f"polling too fast; wait {interval} s between polls", retry_after=interval
            )
        if error == "expired_token":
            raise ExpiredToken("the device code expired; start again", field="device_code")
        if error == "access_denied":
            raise AccessDenied("the user declined the sign-in on GitHub")
        if error is not None:
            raise InvalidArgument(
                f"GitHub refused the device sign-in ({error})", field="device_code"
            )
        return _access_token(body)

    async def _post_form(self, url: str, data: dict[str, str]) -> dict[str, Any]:
        try:
            response = await self._oauth.request(
                "POST", url, data=data, headers={"Accept": "application/json"}, withhold_token=True
            )
            body = response.json()
        except httpx2.HTTPError as exc:
            raise Unavailable(
                f"GitHub did not answer ({type(exc).__name__})", retry_after=5
            ) from None
        except ValueError:
            raise Unavailable(
                f"GitHub answered {response.status_code} with no JSON", retry_after=5
            ) from None
        if not isinstance(body, dict):
            raise Unavailable("GitHub answered with unexpected JSON", retry_after=5)
        return body


def _split_scopes(header: str) -> set[str]:
    return {s.strip() for s in header.split(",") if s.strip()}


def _require_scope(scopes: set[str]) -> None:
    if not scopes & _SCOPES_THAT_READ_THE_USER:
        raise Unauthenticated(f"this GitHub token lacks the {SCOPE} scope that signing in needs")


def _github_user(body: Any) -> GitHubUser:
    return GitHubUser(
        id=int(body["id"]),
        login=str(body["login"]),
        name=body.get("name") or None,
        avatar_url=body.get("avatar_url") or None,
    )


def _access_token(token: Any) -> str:
    value = token.get("access_token") if isinstance(token, dict) else None
    if not isinstance(value, str) or not value:
        raise Unavailable("GitHub answered without a token", retry_after=5)
    return value
