"""A real VS Code extension host for the editor extension's tests: code-server, driven by
Debian's Chromium through Playwright, with the extension loaded from ide-extension/."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from tests.support.local_stack import ROOT

EXTENSION = ROOT / "ide-extension"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def install() -> Path:
    """code-server's entry.js, installed once into the cache (see the script)."""
    done = subprocess.run(
        [str(EXTENSION / "scripts" / "install-code-server.sh")],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"installing code-server failed:\n{done.stdout}\n{done.stderr}")
    return Path(done.stdout.strip().splitlines()[-1])


def build_extension() -> None:
    subprocess.run(
        ["make", "-C", str(EXTENSION), "build"], check=True, capture_output=True, timeout=600
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def running(
    entry: Path, workspace: Path, home: Path, settings: dict[str, object], env: dict[str, str]
) -> Iterator[str]:
    """code-server serving `workspace`, with `settings` as the user's; yields its base URL."""
    user = home / "user-data"
    (user / "User").mkdir(parents=True)
    (user / "User" / "settings.json").write_text(json.dumps(settings, indent=2))
    port = _free_port()
    log = (home / "code-server.log").open("w")
    process = subprocess.Popen(
        [
            shutil.which("node") or "node",
            str(entry),
            "--auth",
            "none",
            "--bind-addr",
            f"127.0.0.1:{port}",
            "--disable-telemetry",
            "--disable-update-check",
            "--disable-workspace-trust",
            "--user-data-dir",
            str(user),
            "--extensions-dir",
            str(home / "extensions"),
            str(workspace),
        ],
        env={
            **os.environ,
            **env,
            # code-server writes its config and data on every start.
            "XDG_CONFIG_HOME": str(home / "xdg-config"),
            "XDG_DATA_HOME": str(home / "xdg-data"),
        },
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, (home / "code-server.log").read_text()
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=2):
                    break
            except OSError:
                assert time.monotonic() < deadline, "code-server did not start"
                time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def test_url(base: str, workspace: Path, tests_module: Path) -> str:
    """The workbench URL that loads the extension under development and runs its tests."""
    payload = json.dumps(
        [
            ["extensionDevelopmentPath", f"vscode-remote://{base[len('http://') :]}{EXTENSION}"],
            ["extensionTestsPath", f"vscode-remote://{base[len('http://') :]}{tests_module}"],
            ["skipWelcome", "true"],
        ]
    )
    return f"{base}/?folder={quote(str(workspace))}&payload={quote(payload)}"


def install_vsix(entry: Path, vsix: Path, home: Path) -> str:
    """Installs a packaged extension the way a user does; answers the installed list."""
    env = {
        **os.environ,
        "XDG_CONFIG_HOME": str(home / "xdg-config"),
        "XDG_DATA_HOME": str(home / "xdg-data"),
    }
    common = [shutil.which("node") or "node", str(entry), "--extensions-dir", str(home / "ext")]
    subprocess.run(
        [*common, "--install-extension", str(vsix)],
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    listed = subprocess.run(
        [*common, "--list-extensions", "--show-versions"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return listed.stdout
