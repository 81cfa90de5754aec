from __future__ import annotations

import pytest

from services.ingest.paths import order_mappings, to_repo_path


@pytest.mark.parametrize(
    ("abs_path", "deploy_root", "expected"),
    [
        ("/var/task/src/api/users.ts", "/var/task", ("src/api/users.ts", True)),
        ("/home/app/srv/x.py", "/home/app/", ("srv/x.py", True)),
        ("/var/task/src/a.js", "", ("src/a.js", True)),
        ("/vercel/path0/app/page.tsx", "", ("app/page.tsx", True)),
        ("/app/main.py", "", ("main.py", True)),
        ("/srv/shop/api/x.py", "", ("api/x.py", True)),
        ("file:///var/task/src/esm.mjs", "/var/task", ("src/esm.mjs", True)),
        ("file:///srv/my%20app/%C3%A9t%C3%A9.js", "/srv/my app", ("été.js", True)),
        ("webpack://shop/./src/cart.ts", "", ("src/cart.ts", True)),
        ("app:///src/index.js", "", ("src/index.js", True)),
        ("https://shop.example.com/assets/app.js", "", ("assets/app.js", True)),
        ("src/relative.py", "", ("src/relative.py", True)),
        ("/var/task/node_modules/express/lib/router.js", "/var/task", (None, False)),
        ("/usr/lib/python3/dist-packages/requests/api.py", "", (None, False)),
        ("/srv/.venv/lib/python3.11/site-packages/flask/app.py", "/srv", (None, False)),
        ("/usr/lib/python3.11/asyncio/base_events.py", "", (None, False)),
        ("node:internal/process/task_queues", "", (None, False)),
        ("<anonymous>", "", (None, False)),
        ("", "", (None, False)),
        ("/home/someone/elsewhere/x.js", "/var/task", (None, True)),
        ("/var/task/../etc/passwd", "/var/task", (None, True)),
    ],
)
def test_deployed_paths_map_to_repo_paths(
    abs_path: str, deploy_root: str, expected: tuple[str | None, bool]
) -> None:
    assert to_repo_path(abs_path, deploy_root) == expected


MAPPINGS = order_mappings(
    [
        ("/srv/app/", "services/api/"),
        ("/srv/app/packages/web/", "web/src/"),
        ("https://shop.example.com/static/js/", "web/public/js/"),
    ]
)


@pytest.mark.parametrize(
    ("abs_path", "expected"),
    [
        ("/srv/app/packages/web/cart.ts", ("web/src/cart.ts", True)),
        ("/srv/app/handlers/users.py", ("services/api/handlers/users.py", True)),
        ("https://shop.example.com/static/js/app.js", ("web/public/js/app.js", True)),
        ("file:///srv/app/esm.mjs", ("services/api/esm.mjs", True)),
        ("/srv/app/node_modules/react/index.js", (None, False)),
        ("/var/task/src/a.js", ("src/a.js", True)),
    ],
)
def test_project_mappings_come_first_and_the_longest_wins(
    abs_path: str, expected: tuple[str | None, bool]
) -> None:
    assert to_repo_path(abs_path, "/var/task", MAPPINGS) == expected


def test_a_malformed_url_never_fails_the_event() -> None:
    assert to_repo_path("https://[shop/assets/app.js", "") == ("assets/app.js", True)
