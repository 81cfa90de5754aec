"""The gateway's public HTTP API, as the dashboard calls it: one client, errors as exceptions.

The dashboard holds no data: every page is one or a few calls here. A gateway that
cannot be reached, times out, or answers 5xx is GatewayUnavailable (the "not answering"
page); a 401 is SignedOut (sign in again); any other error answer is GatewayError with
the API's own code and message, which are written for people and safe to show.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import httpx2

from dashboard.metrics import MeasuredTransport


class GatewayUnavailable(Exception):
    pass


class SignedOut(Exception):
    pass


class GatewayError(Exception):
    def __init__(
        self, status: int, code: str, message: str, field: str | None, retry_after: str = ""
    ) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after
        self.code = code
        self.message = message
        self.field = field


def _error(response: httpx2.Response) -> Exception:
    if response.status_code == 401:
        return SignedOut()
    if response.status_code >= 500:
        return GatewayUnavailable()
    try:
        body = response.json()["error"]
        return GatewayError(
            response.status_code,
            str(body["code"]),
            str(body["message"]),
            body.get("field"),
            retry_after=response.headers.get("retry-after", ""),
        )
    except (ValueError, KeyError, TypeError):
        return GatewayError(response.status_code, "unknown", "the API refused the request", None)


class Gateway:
    def __init__(
        self,
        base_url: str,
        *,
        timeout: float,
        transport: httpx2.AsyncBaseTransport | None = None,
    ) -> None:
        self._client = httpx2.AsyncClient(
            base_url=base_url.rstrip("/"),
            timeout=timeout,
            transport=MeasuredTransport(transport or httpx2.AsyncHTTPTransport()),
            follow_redirects=False,
            headers={"User-Agent": "stackline-dashboard"},
        )

    async def close(self) -> None:
        await self._client.aclose()

    async def send(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        json: Any = None,
        params: Mapping[str, str | int] | None = None,
        cookies: Mapping[str, str] | None = None,
    ) -> httpx2.Response:
        """The answer to one call; any non-2xx/3xx answer is raised as described above."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if cookies:
            headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in cookies.items())
        try:
            response = await self._client.request(
                method, path, headers=headers, json=json, params=params
            )
        except httpx2.HTTPError:
            raise GatewayUnavailable() from None
        if response.status_code >= 400:
            raise _error(response)
        return response

    async def json(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        json: Any = None,
        params: Mapping[str, str | int] | None = None,
    ) -> dict[str, Any]:
        response = await self.send(method, path, token=token, json=json, params=params)
        if response.status_code == 204:
            return {}
        try:
            body: dict[str, Any] = response.json()
        except ValueError:
            raise GatewayUnavailable() from None
        return body

    @asynccontextmanager
    async def stream(
        self,
        path: str,
        *,
        token: str,
        timeout: float,  # noqa: ASYNC109 - the client's own per-request timeout, not a wrapper
    ) -> AsyncIterator[httpx2.Response]:
        """A long download (the account export), streamed through without holding it."""
        request = self._client.build_request(
            "GET", path, headers={"Authorization": f"Bearer {token}"}, timeout=timeout
        )
        try:
            response = await self._client.send(request, stream=True)
        except httpx2.HTTPError:
            raise GatewayUnavailable() from None
        try:
            if response.status_code >= 400:
                await response.aread()
                raise _error(response)
            yield response
        finally:
            await response.aclose()
