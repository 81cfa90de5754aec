"""Commit, environment and deploy root: from init(), else from what the host sets."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

import stackline_sdk
from stackline_sdk._deployment import COMMIT_VARIABLES, detect

from support import KEY, Recorder, Reply, always, fault_server, init_recorded

SHA = "0123456789abcdef0123456789abcdef01234567"
OTHER = "f" * 40


@pytest.mark.parametrize("variable", COMMIT_VARIABLES)
def test_each_host_variable_gives_the_commit(variable: str) -> None:
    assert detect({variable: SHA.upper() + "\n"}).commit_sha == SHA


def test_precedence_and_invalid_values() -> None:
    environ = {"VERCEL_GIT_COMMIT_SHA": "abc123", "GITHUB_SHA": SHA, "RENDER_GIT_COMMIT": OTHER}
    # Vercel's value is not a full SHA, so the next host in line wins.
    assert detect(environ).commit_sha == OTHER
    assert detect({**environ, "STACKLINE_COMMIT_SHA": SHA}).commit_sha == SHA
    assert detect(environ, commit_sha=SHA).commit_sha == SHA
    assert detect({}).commit_sha is None


def test_an_invalid_explicit_commit_is_dropped_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, "stackline_sdk"):
        assert detect({"GITHUB_SHA": SHA}, commit_sha="v1.2").commit_sha is None
    assert "not a 40-character hex SHA" in caplog.text


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, "production"),
        ({"VERCEL_ENV": "preview"}, "preview"),
        ({"RAILWAY_ENVIRONMENT_NAME": "staging"}, "staging"),
        ({"NETLIFY": "true", "CONTEXT": "deploy-preview"}, "deploy-preview"),
        ({"CONTEXT": "docker-build"}, "production"),
        ({"RENDER": "true", "IS_PULL_REQUEST": "true"}, "preview"),
        ({"STACKLINE_ENVIRONMENT": "qa", "VERCEL_ENV": "preview"}, "qa"),
    ],
)
def test_environment(environ: dict[str, str], expected: str) -> None:
    assert detect(environ).environment == expected
    assert detect(environ, environment="explicit").environment == "explicit"


def test_deploy_root_without_a_project_is_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "loose.py").write_text("")
    # pytest's own __main__ is installed code: only the caller counts, and it has no project.
    assert detect({}, caller=str(tmp_path / "loose.py")).deploy_root == str(tmp_path)
    assert detect({}, deploy_root="/var/task").deploy_root == "/var/task"


@pytest.mark.parametrize("marker", ["pyproject.toml", "setup.cfg", "setup.py", ".git"])
def test_deploy_root_is_the_nearest_project_above_the_caller(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, marker: str
) -> None:
    project = tmp_path / "srv" / "shop"
    (project / "app" / "jobs").mkdir(parents=True)
    (project / marker).mkdir() if marker == ".git" else (project / marker).write_text("")
    job = project / "app" / "jobs" / "nightly.py"
    job.write_text("")
    for cwd in (tmp_path, project / "app", Path("/")):
        monkeypatch.chdir(cwd)
        assert detect({}, caller=str(job)).deploy_root == str(project)
    # An explicit root wins.
    assert detect({}, caller=str(job), deploy_root="/var/task").deploy_root == "/var/task"


def test_init_reads_the_environment_when_called(
    monkeypatch: pytest.MonkeyPatch, recorder: Recorder, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("STACKLINE_INGEST_KEY", KEY)
    monkeypatch.setenv("STACKLINE_ENDPOINT", "http://collector.internal:9000")
    monkeypatch.setenv("VERCEL_GIT_COMMIT_SHA", SHA)
    monkeypatch.setenv("VERCEL_ENV", "preview")
    monkeypatch.setenv("STACKLINE_RELEASE", "web@42")
    client = init_recorded(recorder, ingest_key=None)
    # Changing the environment after init() changes nothing.
    monkeypatch.setenv("VERCEL_GIT_COMMIT_SHA", OTHER)
    stackline_sdk.capture_message("m")
    assert client.flush(2)
    [request] = recorder.requests
    assert request.url == "http://collector.internal:9000/api/ingest"
    assert request.headers["Authorization"] == f"Bearer {KEY}"
    [event] = recorder.events()
    assert (event["commit_sha"], event["environment"]) == (SHA, "preview")
    assert event["release"] == "web@42"
    # init() was called from tests/support.py: its project (this SDK's pyproject.toml) is the
    # root, wherever the working directory is.
    assert event["deploy_root"] == str(Path(__file__).resolve().parents[1])


def test_a_script_run_from_three_directories_reports_one_root(tmp_path: Path) -> None:
    """The same program, run from its project, from elsewhere by absolute path, and from /
    (as cron and systemd do): one deploy root, so one path for the failing file."""
    project = tmp_path / "srv" / "shop"
    (project / "tools").mkdir(parents=True)
    (project / "pyproject.toml").write_text('[project]\nname = "shop"\n')
    script = project / "tools" / "migrate.py"
    script.write_text(
        "import stackline_sdk\n"
        "stackline_sdk.init(shutdown_timeout=5)\n"
        "try:\n"
        "    raise RuntimeError('migration failed')\n"
        "except RuntimeError:\n"
        "    stackline_sdk.capture_exception()\n"
    )
    src = Path(__file__).resolve().parents[1] / "src"
    with fault_server(always(Reply())) as server:
        env = {
            **os.environ,
            "PYTHONPATH": str(src),
            "STACKLINE_INGEST_KEY": KEY,
            "STACKLINE_ENDPOINT": server.url,
        }
        for cwd in (project, project / "tools", tmp_path, Path("/")):
            done = subprocess.run(
                [sys.executable, str(script)],
                cwd=cwd,
                env=env,
                capture_output=True,
                timeout=60,
                check=False,
            )
            assert done.returncode == 0, done.stderr
        events = server.events()
    assert len(events) == 4
    for event in events:
        assert event["deploy_root"] == str(project)
        assert f'File "{project}/tools/migrate.py", line 4' in event["exception"]["stack"]
