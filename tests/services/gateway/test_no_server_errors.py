"""Inputs that once answered 500, each now a 4xx or a success: a GitHub token that is not
ASCII, a source root one slash too long for its column, times that leave the years 1-9999 once
in UTC, and several first sign-ins of one GitHub account at once."""

from __future__ import annotations

import asyncio
import secrets

import httpx
import pytest

from tests.conftest import GITHUB_CLIENT_ID
from tests.support.api import create_project, node_event, sign_in
from tools.github_standin import GitHubStandin, User


@pytest.mark.parametrize("token", ["gho_é" + "x" * 32, "gho_ token", "gho_\u2028x"])
async def test_a_github_token_that_is_no_token_is_400(
    gateway: httpx.AsyncClient, token: str
) -> None:
    answer = await gateway.post("/api/auth/token", json={"github_token": token})
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["field"] == "github_token"


async def test_a_source_root_at_the_limit_that_gains_a_slash_is_400(
    gateway: httpx.AsyncClient,
) -> None:
    account = await sign_in(gateway)
    project = await create_project(gateway, account)
    url = f"/api/projects/{project.id}/path-mappings"
    mappings = {"mappings": [{"stack_root": "/srv/app/", "source_root": "a" * 1024}]}
    answer = await gateway.put(url, json=mappings, headers=account.headers)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["field"] == "mappings[0].source_root"
    fits = {"mappings": [{"stack_root": "/srv/app/", "source_root": "a" * 1023}]}
    assert (await gateway.put(url, json=fits, headers=account.headers)).status_code == 200


@pytest.mark.parametrize("timestamp", ["0001-01-01T00:00:00+00:01", "9999-12-31T23:59:59-14:00"])
async def test_a_time_outside_the_years_1_to_9999_in_utc_is_400(
    gateway: httpx.AsyncClient, timestamp: str
) -> None:
    project = await create_project(gateway, await sign_in(gateway))
    answer = await gateway.post(
        "/api/ingest", json=node_event(timestamp=timestamp), headers=project.headers
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["field"] == "timestamp"
    edge = node_event(timestamp="0001-01-01T00:01:00+00:01")
    assert (
        await gateway.post("/api/ingest", json=edge, headers=project.headers)
    ).status_code == 200


async def test_first_sign_ins_of_one_account_at_once_all_succeed(
    gateway: httpx.AsyncClient, github_standin: GitHubStandin
) -> None:
    login = f"newcomer-{secrets.token_hex(4)}"
    github_standin.add_user(User(login))
    tokens = [github_standin.issue_token(login, client_id=GITHUB_CLIENT_ID) for _ in range(8)]
    answers = await asyncio.gather(
        *(gateway.post("/api/auth/token", json={"github_token": t}) for t in tokens)
    )
    assert [a.status_code for a in answers] == [200] * 8, [a.text for a in answers]
    assert len({a.json()["user"]["id"] for a in answers}) == 1


async def test_first_local_sign_ins_of_one_login_at_once_all_succeed(
    gateway: httpx.AsyncClient,
) -> None:
    login = f"local-{secrets.token_hex(4)}"
    answers = await asyncio.gather(
        *(gateway.post("/api/auth/dev-login", json={"login": login}) for _ in range(8))
    )
    assert [a.status_code for a in answers] == [200] * 8, [a.text for a in answers]
    assert len({a.json()["user"]["id"] for a in answers}) == 1
