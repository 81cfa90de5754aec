"""The protos' lint and breaking-change check: today's protos pass; a shared response message
or a change that breaks the released contract fails it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tools.check_protos import ROOT, problems

AUTH_PROTO = Path("proto") / "stackline" / "auth" / "v1" / "auth.proto"


@pytest.fixture
def protos(tmp_path: Path) -> Path:
    """A copy of the repository's buf.yaml and proto/, released image included, to change."""
    shutil.copy(ROOT / "buf.yaml", tmp_path)
    shutil.copytree(ROOT / "proto", tmp_path / "proto")
    return tmp_path


def edit(root: Path, old: str, new: str) -> None:
    text = (root / AUTH_PROTO).read_text()
    assert old in text
    (root / AUTH_PROTO).write_text(text.replace(old, new))


def test_the_protos_pass_lint_and_keep_the_released_contract() -> None:
    assert problems(ROOT) == []


def test_a_response_message_shared_by_two_rpcs_fails_lint(protos: Path) -> None:
    # What AuthService's sign-in RPCs did before each had its own response.
    edit(
        protos,
        "rpc DevLogin(DevLoginRequest) returns (DevLoginResponse);",
        "rpc DevLogin(DevLoginRequest) returns (RefreshSessionResponse);",
    )
    # Changing an RPC's response type also breaks the released contract: both say so.
    lint, breaking = problems(protos)
    assert lint.startswith("buf lint:")
    assert "RefreshSessionResponse" in lint
    assert "is used as the request or response type for multiple RPCs" in lint
    assert breaking.startswith("buf breaking:")
    assert "DevLogin" in breaking


def test_a_renumbered_field_breaks_the_released_contract(protos: Path) -> None:
    edit(protos, "  string refresh_token = 3;", "  string refresh_token = 5;")
    [found] = problems(protos)
    assert found.startswith("buf breaking:")
    assert "refresh_token" in found


def test_a_removed_rpc_breaks_the_released_contract(protos: Path) -> None:
    edit(protos, "  rpc EndSession(EndSessionRequest) returns (EndSessionResponse);\n", "")
    [found] = problems(protos)
    assert found.startswith("buf breaking:")
    assert "EndSession" in found
