"""Fixtures shared by every test: a migrated PostgreSQL database, sessions rolled back per test,
the four services in-process on real gRPC channels, and the gateway in front of them."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest
from alembic import command
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from services.auth.github import GitHub
from services.auth.server import build_host as build_auth
from services.auth.tokens import SigningKey, TokenIssuer
from services.gateway.app import create_app
from services.gateway.settings import GatewaySettings
from services.incidents.server import build_host as build_incidents
from services.ingest.server import build_host as build_ingest
from services.projects.server import build_host as build_projects
from stackline_infra.clock import WallClock
from stackline_infra.db.engine import create_engine
from stackline_infra.db.migrate import alembic_config
from stackline_infra.db.types import utcnow
from stackline_infra.grpc_server import ServiceHost
from tests.support import postgres
from tests.support.table_access import Recorder, documented
from tools.github_standin import GitHubStandin, OAuthApp
from tools.github_standin import User as GitHubUser


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    try:
        return postgres.admin_url()
    except RuntimeError as exc:
        pytest.exit(str(exc), returncode=2)


def _fresh_database(admin_url: str, purpose: str) -> Iterator[str]:
    name = f"stackline_{purpose}_{os.getpid()}_{secrets.token_hex(3)}"
    url = postgres.create_database(admin_url, name)
    try:
        command.upgrade(alembic_config(url), "head")
        yield url
    finally:
        postgres.drop_database(admin_url, name)


@pytest.fixture(scope="session")
def database_url(postgres_admin_url: str) -> Iterator[str]:
    """A database built by the real migrations, for the whole run."""
    yield from _fresh_database(postgres_admin_url, "test")


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    yield engine
    await engine.dispose()


@pytest.fixture
async def session(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    """A session whose work is rolled back after the test, commits included."""
    async with engine.connect() as connection:
        transaction = await connection.begin()
        session = AsyncSession(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        )
        try:
            yield session
        finally:
            await session.close()
            await transaction.rollback()


@pytest.fixture(scope="session")
def token_issuer() -> TokenIssuer:
    return TokenIssuer(
        key=SigningKey.from_private_key(Ed25519PrivateKey.generate()),
        issuer="stackline",
        audience="stackline-api",
        ttl=timedelta(hours=1),
    )


GITHUB_CLIENT_ID = "Iv1.stackline-tests"
GITHUB_CLIENT_SECRET = "stackline-tests-secret"
GATEWAY_URL = "http://stackline.test"
GITHUB_CALLBACK = f"{GATEWAY_URL}/api/auth/github/callback"


@pytest.fixture(scope="session")
def github_standin() -> Iterator[GitHubStandin]:
    """The local GitHub every test talks to, with the OAuth app Stackline is registered as."""
    with GitHubStandin(
        users=[GitHubUser("octocat", name="Mona Lisa Octocat"), GitHubUser("hubot")],
        apps=[OAuthApp(GITHUB_CLIENT_ID, GITHUB_CLIENT_SECRET, GITHUB_CALLBACK)],
    ) as standin:
        yield standin


def github_client(standin: GitHubStandin, *, timeout: float = 2.0) -> GitHub:
    return GitHub(
        web_url=standin.web_url,
        api_url=standin.api_url,
        client_id=GITHUB_CLIENT_ID,
        client_secret=GITHUB_CLIENT_SECRET,
        callback_url=GITHUB_CALLBACK,
        timeout=timeout,
    )


@dataclass(frozen=True)
class Stack:
    targets: dict[str, str]
    hosts: dict[str, ServiceHost]


@asynccontextmanager
async def running_stack(
    engine: AsyncEngine,
    token_issuer: TokenIssuer,
    github_standin: GitHubStandin,
    *,
    wall_clock: WallClock = utcnow,
) -> AsyncIterator[Stack]:
    """The four services in this process, each on its own port, over real gRPC; wall_clock is
    the time AuthService and ProjectsService judge expiry and grace periods by."""
    hosts = {
        "auth": build_auth(
            engine,
            token_issuer,
            github_client(github_standin),
            dev_login_enabled=True,
            clock=wall_clock,
        ),
        "projects": build_projects(engine, clock=wall_clock),
        "ingest": build_ingest(engine),
        "incidents": build_incidents(engine, github_web_url="https://github.com"),
    }
    targets = {}
    for name, host in hosts.items():
        targets[name] = f"127.0.0.1:{host.bind('127.0.0.1:0')}"
        await host.start()
    try:
        yield Stack(targets, hosts)
    finally:
        for host in hosts.values():
            await host.stop(grace=1)


@pytest.fixture(scope="session")
async def stack(
    engine: AsyncEngine, token_issuer: TokenIssuer, github_standin: GitHubStandin
) -> AsyncIterator[Stack]:
    """The four services in this process, each on its own port, over real gRPC."""
    async with running_stack(engine, token_issuer, github_standin) as services:
        yield services


def gateway_settings(targets: dict[str, str], **overrides: object) -> GatewaySettings:
    values: dict[str, object] = {
        "environment": "development",
        "dev_login_enabled": True,
        **{f"{name}_target": target for name, target in targets.items()},
        **overrides,
    }
    return GatewaySettings(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
async def gateway(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    """The gateway app over the in-process services, called through ASGI as a loopback client."""
    # Every test here calls from 127.0.0.1, and many send bad credentials on
    # purpose or sign in: the per-address limits would end the run. test_rate_limits covers them.
    app = create_app(
        gateway_settings(
            stack.targets,
            failed_credentials_per_minute=0,
            sign_in_per_address_per_minute=0,
            sign_in_per_minute=0,
        )
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
        async with httpx.AsyncClient(
            transport=transport, base_url="http://stackline.test"
        ) as client:
            yield client


_TABLE_ACCESS = Recorder()


def pytest_sessionstart(session: pytest.Session) -> None:
    _TABLE_ACCESS.install()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Two checks over the whole run.

    Every table a service touched, it touched as docs/architecture.md declares.

    With STACKLINE_NO_SKIPS=1 (as .ci/run sets it) a skipped test fails the run.
    Tests that need a real engine (Chromium, gjs, jsc, node) skip on a laptop
    that lacks it; in CI a skip would hide that the engine never ran.
    """
    _TABLE_ACCESS.remove()
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        return
    undeclared = _TABLE_ACCESS.violations(documented())
    if undeclared:
        reporter.write_line("table access that docs/architecture.md does not allow:")
        for line in undeclared:
            reporter.write_line(f"  {line}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    if os.environ.get("STACKLINE_NO_SKIPS") != "1" or exitstatus != 0:
        return
    skipped = reporter.stats.get("skipped", [])
    if skipped:
        for report in skipped:
            reporter.write_line(f"not allowed to skip: {report.nodeid}: {report.longrepr}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
