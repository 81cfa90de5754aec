"""A `make run` stack as a test fixture: tools/run_local.py on free ports, read until ready."""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _ports_free(ports: list[int]) -> bool:
    for port in ports:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


def pick_ports() -> tuple[int, int]:
    """A gateway port and a gRPC base whose four ports and metrics ports (+100) are free, and
    the port after the gateway's free for the dashboard."""
    for _ in range(100):
        base = random.randrange(20_000, 40_000, 10)
        gateway = base + 500
        if _ports_free(
            [gateway, gateway + 1, *range(base, base + 4), *range(base + 100, base + 104)]
        ):
            return gateway, base
    raise RuntimeError("no free ports")


def child_pids(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


class LocalStack:
    def __init__(
        self,
        database_url: str,
        data_dir: Path,
        env: Mapping[str, str] | Callable[[LocalStack], Mapping[str, str]] | None = None,
    ) -> None:
        """`env` may be a function of the stack, for settings that name its ports."""
        self.database_url = database_url
        self.gateway_port, self.grpc_base = pick_ports()
        self.url = f"http://127.0.0.1:{self.gateway_port}"
        self.dashboard_port = self.gateway_port + 1
        self.dashboard_url = f"http://127.0.0.1:{self.dashboard_port}"
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "tools" / "run_local.py")],
            cwd=ROOT,
            env={
                **os.environ,
                "DATABASE_URL": database_url,
                "STACKLINE_GATEWAY_PORT": str(self.gateway_port),
                "STACKLINE_DASHBOARD_PORT": str(self.dashboard_port),
                "STACKLINE_GRPC_PORT_BASE": str(self.grpc_base),
                "STACKLINE_DATA_DIR": str(data_dir),
                **((env(self) if callable(env) else env) or {}),
            },
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.output: list[str] = []
        self._reader: threading.Thread | None = None

    def wait_until_running(self, timeout: float = 90) -> None:
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout
        # Read to the banner's last line: what the line iterator has buffered past it would
        # be lost to finish(), which reads the pipe itself.
        for line in self.process.stdout:
            self.output.append(line)
            if "Press Ctrl-C to stop every service." in line:
                return
            assert time.monotonic() < deadline, "".join(self.output)
        raise AssertionError("run_local exited early:\n" + "".join(self.output))

    def keep_reading(self) -> None:
        """Read the stack's output from now on in a thread, so that a chatty log level never
        fills the pipe and stalls the services; `finish` returns it all."""
        assert self.process.stdout is not None
        stdout = self.process.stdout
        self._reader = threading.Thread(target=lambda: self.output.extend(stdout), daemon=True)
        self._reader.start()

    def close(self) -> None:
        """Stop the stack the way a user would (SIGTERM), killing it only if it hangs."""
        if self.process.poll() is None:
            self.process.terminate()
            wait = self.process.wait if self._reader is not None else self.process.communicate
            try:
                wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                wait(timeout=30)

    def finish(self, timeout: float = 30) -> str:
        if self._reader is not None:
            self.process.wait(timeout=timeout)
            self._reader.join(timeout=timeout)
            return "".join(self.output)
        rest, _ = self.process.communicate(timeout=timeout)
        return "".join(self.output) + rest
