"""The process's current client, shared by the module-level API and the integrations."""

from __future__ import annotations

from ._client import Client

_client: Client | None = None


def get_client() -> Client | None:
    return _client


def swap_client(client: Client | None) -> Client | None:
    """Make `client` current; returns the one it replaces."""
    global _client
    previous, _client = _client, client
    return previous
