"""The dashboard's other flows in-process: GitHub sign-in, incidents, audit log, account."""

from __future__ import annotations

import json
import re
import secrets
from urllib.parse import parse_qs, urlsplit

import httpx
from fastapi import FastAPI

from tests.conftest import GITHUB_CALLBACK
from tests.dashboard.conftest import create_project, csrf_of, sign_in
from tests.support.api import COMMIT, node_event
from tools.github_standin import GitHubStandin


async def _at_github(authorize_url: str, login: str) -> dict[str, str]:
    async with httpx.AsyncClient() as github:
        answer = await github.post(authorize_url, data={"login": login}, follow_redirects=False)
    assert answer.status_code == 302, answer.text
    back = urlsplit(answer.headers["location"])
    assert f"{back.scheme}://{back.netloc}{back.path}" == GITHUB_CALLBACK
    return {k: v[0] for k, v in parse_qs(back.query).items()}


async def test_sign_in_with_github(
    browser: httpx.AsyncClient, github_standin: GitHubStandin
) -> None:
    started = await browser.get("/login/github")
    assert started.status_code == 303
    authorize_url = started.headers["location"]
    assert authorize_url.startswith(f"{github_standin.web_url}/login/oauth/authorize?")
    query = await _at_github(authorize_url, "octocat")
    # This deployment registers the gateway's callback with the stand-in; the dashboard's
    # callback takes the same query (docs/dashboard.md says which to register).
    back = await browser.get("/auth/github/callback", params=query)
    assert back.status_code == 303 and back.headers["location"] == "/projects"
    page = await browser.get("/account")
    assert "octocat" in page.text and "GitHub" in page.text
    # The state is spent: bringing the same answer back again does not sign in anew.
    again = await browser.get("/auth/github/callback", params=query)
    assert again.status_code == 400
    assert "not started in this browser" in again.text


async def test_github_answer_for_another_browser_is_refused(
    browser: httpx.AsyncClient, gateway_app: FastAPI
) -> None:
    started = await browser.get("/login/github")
    query = await _at_github(started.headers["location"], "octocat")
    browser.cookies.clear()  # another browser: it never started this sign-in
    answer = await browser.get("/auth/github/callback", params=query)
    assert answer.status_code == 400 and "not started in this browser" in answer.text
    assert (await browser.get("/projects")).status_code == 303


async def test_declined_on_github(browser: httpx.AsyncClient) -> None:
    started = await browser.get("/login/github")
    async with httpx.AsyncClient() as github:
        answer = await github.post(
            started.headers["location"], data={"cancel": "1"}, follow_redirects=False
        )
    query = {k: v[0] for k, v in parse_qs(urlsplit(answer.headers["location"]).query).items()}
    back = await browser.get("/auth/github/callback", params=query)
    assert back.status_code == 400 and "You declined" in back.text


async def test_incidents_resolve_ignore_and_links(
    browser: httpx.AsyncClient, gateway_app: FastAPI
) -> None:
    await sign_in(browser, f"inc-{secrets.token_hex(4)}")
    repo = f"octo-org/{secrets.token_hex(4)}"
    project_id, key = await create_project(browser, repo)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=gateway_app), base_url="http://gateway.test"
    ) as sdk:
        for function in ("getUser", "getCart"):
            sent = await sdk.post(
                "/api/ingest",
                json=node_event(function=function, line=42 if function == "getUser" else 7),
                headers={"Authorization": f"Bearer {key}"},
            )
            assert sent.status_code == 200, sent.text
    page = await browser.get(f"/projects/{project_id}/incidents")
    assert page.status_code == 200
    assert "src/api/users.js:42" in page.text and "src/api/users.js:7" in page.text
    ids = re.findall(r"/incidents/([0-9a-f-]{36})/status", page.text)
    first = ids[0]
    assert f"vscode://stackline.stackline/open?repo={repo.replace('/', '%2F')}" in page.text
    assert f"cursor://stackline.stackline/open?repo={repo.replace('/', '%2F')}" in page.text
    assert f"https://github.com/{repo}/blob/{COMMIT}/src/api/users.js#L" in page.text
    listed = await browser.get("/projects")
    assert re.search(
        rf"{re.escape(repo)}</td>\s*<td[^>]*>[^<]*UTC</td>\s*<td[^>]*>2</td>", listed.text
    )

    resolved = await browser.post(
        f"/projects/{project_id}/incidents/{first}/status",
        data={"csrf": csrf_of(page), "status": "resolved", "shown": "open"},
    )
    assert resolved.status_code == 303
    page = await browser.get(f"/projects/{project_id}/incidents")
    assert first not in page.text and "is resolved" in page.text
    page = await browser.get(f"/projects/{project_id}/incidents?status=resolved")
    assert first in page.text
    second = next(i for i in ids if i != first)
    ignored = await browser.post(
        f"/projects/{project_id}/incidents/{second}/status",
        data={"csrf": csrf_of(page), "status": "ignored"},
    )
    assert ignored.status_code == 303
    page = await browser.get(f"/projects/{project_id}/incidents")
    assert "No open incidents" in page.text
    # An incident of one project through another project's address: not found.
    other_id, _ = await create_project(browser, f"octo-org/{secrets.token_hex(4)}")
    crossed = await browser.post(
        f"/projects/{other_id}/incidents/{first}/status",
        data={"csrf": csrf_of(page), "status": "open"},
    )
    assert crossed.status_code == 404
    bad = await browser.get(f"/projects/{project_id}/incidents?status=nonsense")
    assert bad.status_code == 400


async def test_audit_log_pages(browser: httpx.AsyncClient) -> None:
    await sign_in(browser, f"audit-{secrets.token_hex(4)}")
    project_id, _ = await create_project(browser, f"octo-org/{secrets.token_hex(4)}")
    page = await browser.get(f"/projects/{project_id}/settings")
    for days in range(1, 27):
        saved = await browser.post(
            f"/projects/{project_id}/settings",
            data={"csrf": csrf_of(page), "name": "Audited", "retention_days": str(days)},
        )
        assert saved.status_code == 303
    first = await browser.get(f"/projects/{project_id}/audit")
    assert first.status_code == 200
    assert first.text.count('<tr><td data-label="When">') == 25
    older = re.search(r'href="(/projects/[^"]+/audit\?cursor=[^"]+)"', first.text)
    assert older, first.text
    second = await browser.get(older.group(1).replace("&amp;", "&"))
    assert second.status_code == 200
    # 26 updates, the creation and its first key: three left for the second page.
    assert second.text.count('<tr><td data-label="When">') == 3
    assert "project.create" in second.text and "Newest" in second.text


async def test_account_export_and_delete(browser: httpx.AsyncClient) -> None:
    login = f"leaver-{secrets.token_hex(4)}"
    await sign_in(browser, login)
    repo = f"octo-org/{secrets.token_hex(4)}"
    await create_project(browser, repo)
    export = await browser.get("/account/export")
    assert export.status_code == 200
    assert "attachment" in export.headers["content-disposition"]
    document = json.loads(export.content)
    assert document["user"][0]["login"] == login
    assert [p["repo"] for p in document["projects"]] == [repo]
    page = await browser.get("/account")
    wrong = await browser.post(
        "/account/delete", data={"csrf": csrf_of(page), "confirm": "someone-else"}
    )
    assert wrong.status_code == 400 and "nothing was deleted" in wrong.text
    deleted = await browser.post("/account/delete", data={"csrf": csrf_of(page), "confirm": login})
    assert deleted.status_code == 303 and deleted.headers["location"] == "/login"
    page = await browser.get("/login")
    assert "Your account and everything it owned are deleted." in page.text
    assert (await browser.get("/projects")).status_code == 303
    # Signing in again with that name is a new, empty account.
    await sign_in(browser, login)
    assert "No projects yet" in (await browser.get("/projects")).text


async def test_scrubbing_settings(browser: httpx.AsyncClient) -> None:
    await sign_in(browser, f"scrub-{secrets.token_hex(4)}")
    project_id, _ = await create_project(browser, f"octo-org/{secrets.token_hex(4)}")
    page = await browser.get(f"/projects/{project_id}/settings")
    assert 'name="scrub_patterns"' in page.text
    refused = await browser.post(
        f"/projects/{project_id}/scrubbing",
        data={"csrf": csrf_of(page), "scrub_fields": "iban", "scrub_patterns": "(a+)+"},
    )
    assert refused.status_code == 400
    assert "groups are not allowed" in refused.text
    # What was typed is shown again, marked where it is wrong.
    assert re.search(r'id="scrub_patterns"[^>]*aria-invalid="true"[^>]*>\(a\+\)\+<', refused.text)
    saved = await browser.post(
        f"/projects/{project_id}/scrubbing",
        data={
            "csrf": csrf_of(page),
            "scrub_keep_emails": "on",
            "scrub_fields": "IBAN\n\nCustomer-ID\n",
            "scrub_patterns": "cust_\\d{6}",
        },
    )
    assert saved.status_code == 303
    page = await browser.get(f"/projects/{project_id}/settings")
    assert "Scrubbing settings saved." in page.text
    assert re.search(r'name="scrub_keep_emails" value="on" checked', page.text)
    assert ">iban\ncustomer_id</textarea>" in page.text
    assert ">cust_\\d{6}</textarea>" in page.text
