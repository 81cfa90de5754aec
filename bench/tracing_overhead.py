"""What OpenTelemetry costs: the same ingest load against the stack with tracing off and on.

Starts the one-machine stack (tools/run_local.py) on free ports, once per round, alternating
off and on so that a machine whose load drifts hurts both alike; with tracing on, every span
goes over OTLP/HTTP to a local receiver that counts and drops them. Each round runs
bench/ingest_load.py and prints its report.

  python bench/tracing_overhead.py --database-url postgresql://postgres@127.0.0.1/bench
"""

from __future__ import annotations

import argparse
import http.server
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class _Sink(http.server.ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _SinkHandler)
        self.exports = 0


class _SinkHandler(http.server.BaseHTTPRequestHandler):
    server: _Sink

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.server.exports += 1
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _round(tracing: bool, database_url: str, load: list[str], sink: _Sink, data: Path) -> None:
    gateway = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "STACKLINE_GATEWAY_PORT": str(gateway),
        "STACKLINE_GRPC_PORT_BASE": str(_free_port()),
        "STACKLINE_DATA_DIR": str(data),
        "STACKLINE_OTEL_ENABLED": "true" if tracing else "false",
        "STACKLINE_OTEL_ENDPOINT": f"http://127.0.0.1:{sink.server_address[1]}",
    }
    stack = subprocess.Popen(
        [sys.executable, str(ROOT / "tools" / "run_local.py")],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert stack.stdout is not None
        seen = []
        for line in stack.stdout:
            seen.append(line)
            if "Stackline is running." in line:
                break
        else:
            raise SystemExit("the stack did not start:\n" + "".join(seen))
        threading.Thread(target=stack.stdout.read, daemon=True).start()
        print(f"--- tracing {'on' if tracing else 'off'}", flush=True)
        subprocess.run(
            [
                sys.executable,
                str(ROOT / "bench" / "ingest_load.py"),
                "--url",
                f"http://127.0.0.1:{gateway}",
                *load,
            ],
            check=True,
        )
    finally:
        stack.terminate()
        stack.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--rounds", type=int, default=2, help="rounds per setting")
    parser.add_argument("--data-dir", type=Path, default=ROOT / ".stackline" / "bench-tracing")
    args, load = parser.parse_known_args()
    args.data_dir.mkdir(parents=True, exist_ok=True)
    sink = _Sink()
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    for _ in range(args.rounds):
        for tracing in (False, True):
            _round(tracing, args.database_url, load or ["--duration", "15"], sink, args.data_dir)
    print(f"OTLP exports received: {sink.exports}")


if __name__ == "__main__":
    main()
