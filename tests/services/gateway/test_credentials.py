"""Who may call what: access tokens, ingest keys, and another user's ids."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.auth.tokens import TokenIssuer
from services.gateway.app import create_app
from stackline_contract import keyformat
from tests.conftest import Stack, gateway_settings
from tests.support.api import Account, create_project, node_event, sign_in


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _json64(data: dict[str, Any]) -> str:
    return _b64(json.dumps(data).encode())


def _claims(issuer: TokenIssuer, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": issuer.issuer,
        "aud": issuer.audience,
        "sub": str(uuid.uuid4()),
        "iat": now,
        "exp": now + 600,
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _sign(
    issuer: TokenIssuer,
    claims: dict[str, Any],
    key: Ed25519PrivateKey | None = None,
    kid: str | None = None,
) -> str:
    return jwt.encode(
        claims,
        key or issuer.key.private_key,
        algorithm="EdDSA",
        headers={"kid": kid or issuer.key.kid},
    )


def _hs256_with_public_key(issuer: TokenIssuer, claims: dict[str, Any]) -> str:
    # The classic confusion attack: HMAC keyed with the server's public key.
    public_pem = issuer.key.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signing_input = (
        f"{_json64({'alg': 'HS256', 'typ': 'JWT', 'kid': issuer.key.kid})}.{_json64(claims)}"
    )
    signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def bad_tokens(issuer: TokenIssuer, valid: str) -> dict[str, str]:
    header, _, signature = valid.split(".")
    real_claims = jwt.decode(valid, options={"verify_signature": False})
    now = int(time.time())
    forged = Ed25519PrivateKey.generate()
    return {
        "malformed": "not-a-jwt",
        "expired": _sign(
            issuer, _claims(issuer, sub=real_claims["sub"], iat=now - 7200, exp=now - 3600)
        ),
        "tampered": f"{header}.{_json64({**real_claims, 'sub': str(uuid.uuid4())})}.{signature}",
        "alg none": f"{_json64({'alg': 'none', 'kid': issuer.key.kid})}.{_json64(real_claims)}.",
        "HS256 signed with the public key": _hs256_with_public_key(issuer, real_claims),
        "another audience": _sign(
            issuer, _claims(issuer, sub=real_claims["sub"], aud="someone-else")
        ),
        "another issuer": _sign(issuer, _claims(issuer, sub=real_claims["sub"], iss="evil")),
        "unknown key id": _sign(
            issuer, _claims(issuer, sub=real_claims["sub"]), key=forged, kid="forged"
        ),
        "known key id, forged signature": _sign(
            issuer, _claims(issuer, sub=real_claims["sub"]), key=forged
        ),
        "no expiry": _sign(issuer, _claims(issuer, sub=real_claims["sub"], exp=None)),
    }


@pytest.fixture
async def account(gateway: httpx.AsyncClient) -> Account:
    return await sign_in(gateway)


async def test_bad_access_tokens_get_401(
    gateway: httpx.AsyncClient, token_issuer: TokenIssuer, account: Account
) -> None:
    for case, token in bad_tokens(token_issuer, account.token).items():
        response = await gateway.get("/api/projects", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, case
        assert response.json()["error"]["code"] == "unauthenticated", case
        assert response.headers["www-authenticate"] == "Bearer"
    assert (await gateway.get("/api/projects", headers=account.headers)).status_code == 200


async def test_missing_credentials_and_the_wrong_kind(
    gateway: httpx.AsyncClient, account: Account
) -> None:
    project = await create_project(gateway, account)
    assert (await gateway.get("/api/projects")).status_code == 401
    assert (
        await gateway.get("/api/projects", headers={"Authorization": "Basic b2N0bzpjYXQ="})
    ).status_code == 401
    key_on_user_route = await gateway.get("/api/projects", headers=project.headers)
    assert key_on_user_route.status_code == 401
    assert "ingest key" in key_on_user_route.json()["error"]["message"]
    token_on_ingest = await gateway.post("/api/ingest", json=node_event(), headers=account.headers)
    assert token_on_ingest.status_code == 401


async def test_unknown_bad_and_revoked_ingest_keys(
    gateway: httpx.AsyncClient, account: Account
) -> None:
    project = await create_project(gateway, account)
    for key in (
        keyformat.generate(),
        project.key[:-1] + ("A" if project.key[-1] != "A" else "B"),
        "slk_short",
    ):
        response = await gateway.post(
            "/api/ingest", json=node_event(), headers={"Authorization": f"Bearer {key}"}
        )
        assert response.status_code == 401, key
        assert key not in response.text

    created = await gateway.post(f"/api/projects/{project.id}/keys", headers=account.headers)
    assert created.status_code == 201
    second_key, key_id = created.json()["ingest_key"], created.json()["key"]["id"]
    revoked = await gateway.delete(
        f"/api/projects/{project.id}/keys/{key_id}", headers=account.headers
    )
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    refused = await gateway.post(
        "/api/ingest", json=node_event(), headers={"Authorization": f"Bearer {second_key}"}
    )
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "forbidden"
    # The project's other key keeps working.
    assert (
        await gateway.post("/api/ingest", json=node_event(), headers=project.headers)
    ).status_code == 200


async def test_another_users_resources_do_not_exist(
    gateway: httpx.AsyncClient, account: Account
) -> None:
    project = await create_project(gateway, account)
    assert (
        await gateway.post("/api/ingest", json=node_event(), headers=project.headers)
    ).status_code == 200
    listed = await gateway.get(
        "/api/incidents", params={"repo": project.repo}, headers=account.headers
    )
    incident_id = listed.json()["incidents"][0]["id"]
    key_id = (await gateway.get(f"/api/projects/{project.id}", headers=account.headers)).json()[
        "project"
    ]["ingest_keys"][0]["id"]

    stranger = await sign_in(gateway)
    attempts = [
        ("GET", f"/api/projects/{project.id}", None),
        ("PATCH", f"/api/projects/{project.id}", {"name": "mine now"}),
        ("DELETE", f"/api/projects/{project.id}", None),
        ("POST", f"/api/projects/{project.id}/keys", None),
        ("DELETE", f"/api/projects/{project.id}/keys/{key_id}", None),
        ("GET", f"/api/incidents/{incident_id}", None),
        ("PATCH", f"/api/incidents/{incident_id}", {"status": "resolved"}),
        ("GET", f"/api/incidents?repo={project.repo}", None),
    ]
    for method, path, body in attempts:
        response = await gateway.request(method, path, json=body, headers=stranger.headers)
        assert response.status_code == 404, (method, path, response.text)
        assert project.id not in response.text and incident_id not in response.text
    # Nothing changed for the owner.
    detail = await gateway.get(f"/api/incidents/{incident_id}", headers=account.headers)
    assert detail.json()["status"] == "open"
    assert (await gateway.get(f"/api/projects/{project.id}", headers=account.headers)).json()[
        "project"
    ]["name"] == "Test project"


async def test_write_models_refuse_fields_the_client_does_not_own(
    gateway: httpx.AsyncClient, account: Account
) -> None:
    project = await create_project(gateway, account)
    for body in ({"owner_id": str(uuid.uuid4())}, {"repo": "evil/repo"}, {"id": str(uuid.uuid4())}):
        response = await gateway.patch(
            f"/api/projects/{project.id}", json=body, headers=account.headers
        )
        assert response.status_code == 400
        assert response.json()["error"]["field"] == next(iter(body))
    listed = await gateway.post("/api/ingest", json=node_event(), headers=project.headers)
    assert listed.status_code == 200
    incidents = await gateway.get(
        "/api/incidents", params={"repo": project.repo}, headers=account.headers
    )
    incident_id = incidents.json()["incidents"][0]["id"]
    status_bodies: list[dict[str, object]] = [{"status": "open", "count": 0}, {"status": "deleted"}]
    for status_body in status_bodies:
        response = await gateway.patch(
            f"/api/incidents/{incident_id}", json=status_body, headers=account.headers
        )
        assert response.status_code == 400


async def test_dev_login_exists_only_when_switched_on_and_only_for_loopback(stack: Stack) -> None:
    for settings, client_host in (
        (gateway_settings(stack.targets, dev_login_enabled=False), "127.0.0.1"),
        (gateway_settings(stack.targets), "203.0.113.9"),
    ):
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app, client=(client_host, 5000))
            async with httpx.AsyncClient(transport=transport, base_url="http://x") as client:
                response = await client.post("/api/auth/dev-login", json={"login": "octocat"})
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
