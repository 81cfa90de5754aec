"""Page latency of the dashboard against a running Stackline (`make run`).

Signs in locally through the dashboard's own form, creates a project through it, sends a few
errors with its key so the incident pages have rows, then asks for each page in turn over one
keep-alive connection, as a browser would, and prints p50 / p99 / max per page. Each request
is the whole server-side work of a page: the dashboard's calls to the gateway and the gateway's
calls to the services, rendering included.

  .venv/bin/python bench/dashboard_pages.py --rounds 200
"""

from __future__ import annotations

import argparse
import re
import secrets
import statistics
import time
import uuid

import httpx

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')
_SUBMISSION = re.compile(r'name="submission" value="([^"]+)"')


def _csrf(page: httpx.Response) -> str:
    match = _CSRF.search(page.text)
    assert match, page.text
    return match.group(1)


def _event(n: int) -> dict[str, object]:
    function = f"handler{n % 5}"
    return {
        "event_id": str(uuid.uuid4()),
        "platform": "node",
        "exception": {
            "type": "TypeError",
            "message": f"Cannot read properties of undefined (reading 'id{n % 5}')",
            "stack": f"TypeError: x\n    at {function} (/var/task/src/h{n % 5}.js:{10 + n}:7)",
        },
        "commit_sha": "0123456789abcdef0123456789abcdef01234567",
        "environment": "production",
        "deploy_root": "/var/task",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dashboard", default="http://127.0.0.1:8081")
    parser.add_argument("--gateway", default="http://127.0.0.1:8080")
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()

    with httpx.Client(base_url=args.dashboard, timeout=10) as browser:
        login = f"bench-{secrets.token_hex(4)}"
        sign_in = browser.post(
            "/login/local", data={"csrf": _csrf(browser.get("/login")), "login": login}
        )
        assert sign_in.status_code == 303, sign_in.text
        form = browser.get("/projects/new")
        submission = _SUBMISSION.search(form.text)
        assert submission
        created = browser.post(
            "/projects",
            data={
                "csrf": _csrf(form),
                "submission": submission.group(1),
                "name": "Bench",
                "repo": f"bench-org/{login}",
                "retention_days": "30",
            },
        )
        assert created.status_code == 303, created.text
        project = created.headers["location"].removesuffix("/key")
        key = re.search(r'value="(slk_[^"]+)"', browser.get(created.headers["location"]).text)
        assert key
        for n in range(20):
            sent = httpx.post(
                f"{args.gateway}/api/ingest",
                json=_event(n),
                headers={"Authorization": f"Bearer {key.group(1)}"},
                timeout=10,
            )
            assert sent.status_code == 200, sent.text

        pages = {
            "projects": "/projects",
            "incidents": f"{project}/incidents",
            "setup": f"{project}/setup",
            "keys": f"{project}/keys",
            "settings": f"{project}/settings",
            "audit": f"{project}/audit",
            "account": "/account",
            "new project": "/projects/new",
        }
        for path in pages.values():  # warm up
            assert browser.get(path).status_code == 200, path
        print(f"{'page':<12} {'p50':>8} {'p99':>8} {'max':>8}   ({args.rounds} requests each)")
        for name, path in pages.items():
            times = []
            for _ in range(args.rounds):
                started = time.perf_counter()
                answer = browser.get(path)
                times.append((time.perf_counter() - started) * 1000)
                assert answer.status_code == 200, (path, answer.status_code)
            times.sort()
            p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
            print(
                f"{name:<12} {statistics.median(times):>6.1f}ms {p99:>6.1f}ms {times[-1]:>6.1f}ms"
            )


if __name__ == "__main__":
    main()
