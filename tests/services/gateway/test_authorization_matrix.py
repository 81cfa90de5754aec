"""Every route in the OpenAPI document, called with every wrong credential.

The route list comes from the gateway's own /openapi.json, so a route added
later is covered without touching this file. Anyone but the owner gets 401 or
404 (403 for a revoked key), never another user's data, never a 500.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
import orjson

from services.auth.tokens import TokenIssuer
from tests.support.api import Account, create_project, node_event, sign_in

# A body each write route accepts from its owner.
_BODIES: dict[tuple[str, str], Any] = {
    ("post", "/api/ingest"): node_event(),
    ("post", "/api/projects"): {"name": "Matrix", "repo": "octo/matrix-new"},
    ("patch", "/api/projects/{project_id}"): {"name": "Renamed"},
    ("put", "/api/projects/{project_id}/path-mappings"): {"mappings": []},
    ("patch", "/api/incidents/{incident_id}"): {"status": "resolved"},
    ("post", "/api/projects/{project_id}/releases"): {
        "version": "shop@1.0.0",
        "commit_sha": "abc1234",
    },
    ("post", "/api/projects/{project_id}/keys/{key_id}/rotate"): {"grace_seconds": 60},
    ("post", "/api/projects/{project_id}/sourcemaps"): {
        "version": 3,
        "sources": ["src/a.js"],
        "names": [],
        "mappings": "AAAA",
    },
}
_SENTRY_EVENT = orjson.dumps({"platform": "python", "message": "matrix"})
_SENTRY_BODIES = {
    "/api/{project_id}/envelope/": b'{}\n{"type": "event"}\n' + _SENTRY_EVENT,
    "/api/{project_id}/store/": _SENTRY_EVENT,
}
# Query parameters a route needs from its owner.
_QUERIES: dict[tuple[str, str], dict[str, str]] = {
    ("post", "/api/projects/{project_id}/sourcemaps"): {"bundle": "assets/a.js", "release": "r1"},
}


@dataclass(frozen=True)
class Owned:
    account: Account
    ids: dict[str, str]
    ingest_key: str
    repo: str


async def _owned(gateway: httpx.AsyncClient) -> Owned:
    account = await sign_in(gateway)
    project = await create_project(gateway, account)
    assert (
        await gateway.post("/api/ingest", json=node_event(), headers=project.headers)
    ).status_code == 200
    incidents = await gateway.get(
        "/api/incidents", params={"repo": project.repo}, headers=account.headers
    )
    detail = await gateway.get(f"/api/projects/{project.id}", headers=account.headers)
    source_map = await gateway.post(
        f"/api/projects/{project.id}/sourcemaps",
        params={"bundle": "assets/app.js", "release": "r0"},
        json=_BODIES[("post", "/api/projects/{project_id}/sourcemaps")],
        headers=account.headers,
    )
    assert source_map.status_code == 201, source_map.text
    return Owned(
        account,
        {
            "project_id": project.id,
            "incident_id": incidents.json()["incidents"][0]["id"],
            "key_id": detail.json()["project"]["ingest_keys"][0]["id"],
            "source_map_id": source_map.json()["id"],
        },
        project.key,
        project.repo,
    )


def _wrong_tokens(issuer: TokenIssuer, owner: Account) -> dict[str, str]:
    now = int(time.time())
    claims = {"iss": issuer.issuer, "aud": issuer.audience, "sub": owner.user_id, "iat": now}

    def sign(payload: dict[str, Any]) -> str:
        return jwt.encode(
            payload, issuer.key.private_key, algorithm="EdDSA", headers={"kid": issuer.key.kid}
        )

    header, payload, signature = owner.token.split(".")
    return {
        "malformed": "Bearer abc.def",
        "expired": "Bearer " + sign({**claims, "iat": now - 7200, "exp": now - 3600}),
        "tampered": f"Bearer {header}.{payload[:-4]}AAAA.{signature}",
    }


async def test_every_route_refuses_everyone_but_its_owner(
    gateway: httpx.AsyncClient, token_issuer: TokenIssuer
) -> None:
    spec = (await gateway.get("/openapi.json")).json()
    owner = await _owned(gateway)
    stranger = await _owned(gateway)
    routes = [
        (method, path, operation)
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
        if "security" in operation
    ]
    assert len(routes) >= 15, "the OpenAPI document lost its routes"
    owner_ids = set(owner.ids.values()) | {owner.repo}

    def url(path: str) -> str:
        concrete = re.sub(r"\{(\w+)\}", lambda m: owner.ids[m.group(1)], path)
        return concrete + (f"?repo={owner.repo}" if path == "/api/incidents" else "")

    wrong = {
        "no credential": {},
        **{
            name: {"Authorization": value}
            for name, value in _wrong_tokens(token_issuer, owner.account).items()
        },
        "another user's token": stranger.account.headers,
        "another user's ingest key": {"Authorization": f"Bearer {stranger.ingest_key}"},
        "the owner's ingest key": {"Authorization": f"Bearer {owner.ingest_key}"},
    }
    for method, path, operation in routes:
        takes_key = operation["security"] == [{"IngestKey": []}]
        for case, headers in wrong.items():
            if takes_key and case in ("another user's ingest key", "the owner's ingest key"):
                continue  # right kind of credential for the ingest route
            response = await gateway.request(
                method,
                url(path),
                json=_BODIES.get((method, path)),
                params=_QUERIES.get((method, path)),
                headers=headers,
            )
            where = f"{method.upper()} {path} with {case}"
            assert response.status_code != 500, where
            if 200 <= response.status_code < 300:
                # Allowed only where the route answers with the caller's own things.
                assert case == "another user's token" and not (
                    owner_ids & set(re.findall(r"[\w./-]+", response.text))
                ), where
            else:
                assert response.status_code in (401, 404), (
                    where,
                    response.status_code,
                    response.text,
                )

    # And the owner, last, because some of these change or delete things: deletes come
    # last, the deepest first, and deleting the account last of all.
    def order(route: tuple[str, str, Any]) -> tuple[bool, bool, int]:
        method, path, _ = route
        return method == "delete", path == "/api/me", -path.count("/")

    for method, path, operation in sorted(routes, key=order):
        takes_key = operation["security"] == [{"IngestKey": []}]
        headers = (
            {"Authorization": f"Bearer {owner.ingest_key}"} if takes_key else owner.account.headers
        )
        body = node_event() if takes_key else _BODIES.get((method, path))
        if {"SentryKey": []} in operation["security"]:
            # Sentry's routes take the key in their own header, and an envelope or an event.
            headers = {"X-Sentry-Auth": f"Sentry sentry_key={owner.ingest_key}"}
            body = None
        response = await gateway.request(
            method,
            url(path),
            json=body,
            content=_SENTRY_BODIES.get(path),
            params=_QUERIES.get((method, path)),
            headers=headers,
        )
        assert 200 <= response.status_code < 300, (
            f"{method.upper()} {path} as owner: {response.text}"
        )
