from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from stackline_sdk import Client, MockTransport, Transport, _hub, _scope, _worker
from stackline_sdk._integrations import _excepthook, _logging
from stackline_sdk._options import Options

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
    _scope.reset_process_scope()


@pytest.fixture
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Clients made by init() in this test retry within milliseconds."""
    monkeypatch.setattr(_worker, "DEFAULT_BACKOFF", FAST)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def make_client(recorder: Recorder) -> Iterator[MakeClient]:
    """Clients on a MockTransport (the recorder by default) with fast retries."""
    clients: list[Client] = []

    def make(
        transport: Transport | None = None, backoff: _worker.Backoff = FAST, **options: Any
    ) -> Client:
        options.setdefault("ingest_key", KEY)
        options.setdefault("endpoint", "http://stackline.test")
        client = Client(
            Options(**options),
            transport=transport if transport is not None else MockTransport(recorder),
            backoff=backoff,
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close(0)
