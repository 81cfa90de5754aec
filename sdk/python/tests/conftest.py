from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from stackline_sdk import Client, MockTransport, Transport, _hub, _scope, _worker
from stackline_sdk._integrations import _excepthook, _logging, _threading
from stackline_sdk._options import Options

import support
from support import FAST, KEY, MakeClient, Recorder


@pytest.fixture(autouse=True)
def _fresh_sdk() -> Iterator[None]:
    """Each test starts with no client, no hooks and an empty process scope."""
    yield
    client = _hub.swap_client(None)
    if client is not None:
        client.close(0)
    _excepthook.uninstall()
    _logging.uninstall()
    _threading.uninstall()
    _scope.reset_process_scope()


@pytest.fixture(autouse=True)
def _only_ingestible_bodies() -> Iterator[None]:
    """Every body the SDK sends in a test is one the ingest API accepts (ingest_contract)."""
    support.REFUSED.clear()
    yield
    refused, support.REFUSED[:] = list(support.REFUSED), []
    assert not refused, f"the SDK sent what the ingest API refuses: {refused}"


@pytest.fixture
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Clients made by init() in this test retry within milliseconds."""
    monkeypatch.setattr(_worker, "DEFAULT_BACKOFF", FAST)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def make_client(recorder: Recorder) -> Iterator[MakeClient]:
    """Clients on a MockTransport (the recorder by default) with fast retries, and the clock
    given, if any."""
    clients: list[Client] = []

    def make(
        transport: Transport | None = None,
        backoff: _worker.Backoff = FAST,
        clock: Callable[[], float] | None = None,
        **options: Any,
    ) -> Client:
        options.setdefault("ingest_key", KEY)
        options.setdefault("endpoint", "http://stackline.test")
        client = Client(
            Options(**options),
            transport=transport if transport is not None else MockTransport(recorder),
            backoff=backoff,
            clock=clock,
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close(0)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """With STACKLINE_NO_SKIPS=1 (as the repository's CI sets it) a skipped test fails the run.

    The fork, /proc and ASGI tests skip where the platform or the package is missing; in CI a
    skip would hide that they never ran.
    """
    if os.environ.get("STACKLINE_NO_SKIPS") != "1" or exitstatus != 0:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        return
    skipped = reporter.stats.get("skipped", [])
    if skipped:
        for report in skipped:
            reporter.write_line(f"not allowed to skip: {report.nodeid}: {report.longrepr}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
