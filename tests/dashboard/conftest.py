"""The dashboard in-process, in front of the real gateway and services over ASGI and gRPC."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import httpx2
import pytest
from cryptography.fernet import Fernet
from fastapi import FastAPI

from dashboard.app import create_app as create_dashboard
from dashboard.settings import DashboardSettings
from services.gateway.app import create_app as create_gateway
from tests.conftest import Stack, gateway_settings

SESSION_KEY = Fernet.generate_key().decode()
DASHBOARD_URL = "http://127.0.0.1:8081"
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')
_SUBMISSION = re.compile(r'name="submission" value="([^"]+)"')


def dashboard_settings(**overrides: object) -> DashboardSettings:
    values: dict[str, object] = {
        "environment": "development",
        "dev_login_enabled": True,
        "session_key": SESSION_KEY,
        "gateway_url": "http://gateway.test",
        "api_public_url": "https://api.stackline.test",
        **overrides,
    }
    return DashboardSettings(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
async def gateway_app(stack: Stack) -> AsyncIterator[FastAPI]:
    app = create_gateway(gateway_settings(stack.targets, failed_credentials_per_minute=0))
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def browser(gateway_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A browser (cookie jar included) at a dashboard that reaches the gateway in-process."""
    app = create_dashboard(
        dashboard_settings(),
        transport=httpx2.ASGITransport(app=gateway_app, client=("127.0.0.1", 40001)),
    )
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=("127.0.0.1", 40002)),
            base_url=DASHBOARD_URL,
        ) as client,
    ):
        yield client


def csrf_of(page: httpx.Response) -> str:
    match = _CSRF.search(page.text)
    assert match, page.text
    return match.group(1)


def submission_of(page: httpx.Response) -> str:
    match = _SUBMISSION.search(page.text)
    assert match, page.text
    return match.group(1)


async def sign_in(browser: httpx.AsyncClient, login: str) -> None:
    page = await browser.get("/login")
    answer = await browser.post("/login/local", data={"csrf": csrf_of(page), "login": login})
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/projects"


async def create_project(
    browser: httpx.AsyncClient, repo: str, name: str = "Shop API"
) -> tuple[str, str]:
    """(project id, the key as its page showed it)."""
    form = await browser.get("/projects/new")
    created = await browser.post(
        "/projects",
        data={
            "csrf": csrf_of(form),
            "submission": submission_of(form),
            "name": name,
            "repo": repo,
            "retention_days": "30",
        },
    )
    assert created.status_code == 303, created.text
    location = created.headers["location"]
    project_id = location.split("/")[2]
    shown = await browser.get(location)
    match = re.search(r'value="(slk_[^"]+)"', shown.text)
    assert match, shown.text
    return project_id, match.group(1)
