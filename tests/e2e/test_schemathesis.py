"""Every operation of the public API, fuzzed by schemathesis against `make run` for real, with
every check: not one server error, every status the document declares, `Allow` on every 405,
and data the schema calls valid accepted; a bounded number of examples, so that the run stays
within a few minutes.

Deleting the account would sign the rest of the run out, so it runs in a second invocation, as
a user of its own: the first call deletes the account, the later ones get the deleted account's
documented 404. The Sentry envelope route takes any bytes (its body is binary), and answers
them 4xx. The one allowance is CONFIG's: rules of well-formed data no schema can state.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.local_stack import LocalStack

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES_PER_OPERATION = 10
SCHEMATHESIS_TIMEOUT_SECONDS = 600
DELETE_ME = "delete_me_api_me_delete"
# Rules of well-formed data that no OpenAPI schema can state, so that a request the schema calls
# valid may still be 400, as the API documents: a cursor is an opaque token that this API
# returned (base64 of a position; a string of the alphabet is not one), a source map's build
# is named by exactly one of two query parameters, a project's path mappings each have their own
# stack_root (JSON Schema's uniqueItems compares whole items, not one field of them), a Sentry
# envelope is newline-framed JSON headers and payloads, which no schema of a binary body describes
# (its bytes must be 4xx, never 500), and a project's scrubbing pattern must be in the subset of
# regular expressions that cannot backtrack (stackline_contract/scrubbing.py). Every other check,
# and every other status, holds for these operations as for the rest.
CONFIG = """
[[operations]]
include-operation-id = [
    "list_incidents_api_incidents_get",
    "audit_log_api_projects__project_id__audit_get",
    "upload_api_projects__project_id__sourcemaps_post",
    "list_maps_api_projects__project_id__sourcemaps_get",
    "set_path_mappings_api_projects__project_id__path_mappings_put",
    "envelope_api__project_id__envelope__post",
    "update_project_api_projects__project_id__patch",
]
checks.positive_data_acceptance.expected-statuses = [
    "2xx", "3xx", "400", "401", "403", "404", "409", "429", "5xx"
]
"""


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[LocalStack]:
    # The limits would answer 429 to a fuzzer's flood of requests, hiding what lies behind.
    stack = LocalStack(
        f"sqlite:///{tmp_path / 'stackline.db'}",
        tmp_path,
        env={
            "STACKLINE_API_REQUESTS_PER_MINUTE": "0",
            "STACKLINE_FAILED_CREDENTIALS_PER_MINUTE": "0",
            "STACKLINE_SIGN_IN_PER_ADDRESS_PER_MINUTE": "0",
            "STACKLINE_SIGN_IN_PER_MINUTE": "0",
            "STACKLINE_INGEST_EVENTS_PER_MINUTE": "0",
            "STACKLINE_INGEST_BURST_PER_SECOND": "0",
            "STACKLINE_LOG_LEVEL": "WARNING",
        },
    )
    yield stack
    stack.close()


def _sign_in(client: httpx.Client, login: str) -> tuple[str, str]:
    """An access token for a new user, and the ingest key of the project it is given."""
    token = client.post("/api/auth/dev-login", json={"login": login}).json()["access_token"]
    created = client.post(
        "/api/projects",
        json={"name": "Fuzzed", "repo": f"octo-org/{login}"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert created.status_code == 201, created.text
    return str(token), str(created.json()["ingest_key"])


def _schemathesis(url: str, user: tuple[str, str], report: Path, *selection: str) -> None:
    """One run of every check over the selected operations: it passes, or says what failed."""
    config = report.parent / "schemathesis.toml"
    config.write_text(CONFIG)
    run = subprocess.run(
        [
            str(Path(sys.executable).parent / "schemathesis"),
            "--config-file",
            str(config),
            "run",
            f"{url}/openapi.json",
            "--checks",
            "all",
            *selection,
            "--header",
            f"Authorization: Bearer {user[0]}",
            # Sentry's routes read their key from here: with it, the bytes sent to the envelope
            # route reach its parser rather than a 401.
            "--header",
            f"X-Sentry-Auth: Sentry sentry_key={user[1]}, sentry_version=7",
            "--max-examples",
            str(EXAMPLES_PER_OPERATION),
            "--seed",
            "20261204",
            "--workers",
            "2",
            "--report",
            "junit",
            "--report-junit-path",
            str(report),
        ],
        cwd=report.parent,
        capture_output=True,
        text=True,
        timeout=SCHEMATHESIS_TIMEOUT_SECONDS,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-20_000:] + run.stderr[-5_000:]
    assert "passed" in run.stdout
    assert report.exists()


def test_no_operation_answers_a_server_error(stack: LocalStack, tmp_path: Path) -> None:
    stack.wait_until_running()
    with httpx.Client(base_url=stack.url, timeout=10) as client:
        fuzzer, leaver = _sign_in(client, "fuzzer"), _sign_in(client, "leaver")
    # Every operation but deleting the account, which would sign the rest of the run out...
    _schemathesis(stack.url, fuzzer, tmp_path / "all.xml", "--exclude-operation-id", DELETE_ME)
    # ...which runs on its own, as another user: the first call deletes the account, and every
    # later one must answer the deleted account's token as documented.
    _schemathesis(
        stack.url, leaver, tmp_path / "delete-me.xml", "--include-operation-id", DELETE_ME
    )
