"""GET /api/incidents as the editor polls it: ETags, paging, filters."""

from __future__ import annotations

import httpx

from tests.support.api import create_project, node_event, sign_in


async def test_an_unchanged_list_answers_304(gateway: httpx.AsyncClient) -> None:
    account = await sign_in(gateway)
    project = await create_project(gateway, account)
    await gateway.post("/api/ingest", json=node_event(), headers=project.headers)
    params = {"repo": project.repo, "status": "open"}

    first = await gateway.get("/api/incidents", params=params, headers=account.headers)
    etag = first.headers["etag"]
    unchanged = await gateway.get(
        "/api/incidents", params=params, headers={**account.headers, "If-None-Match": etag}
    )
    assert unchanged.status_code == 304
    assert unchanged.content == b""
    assert unchanged.headers["etag"] == etag

    await gateway.post("/api/ingest", json=node_event(), headers=project.headers)
    changed = await gateway.get(
        "/api/incidents", params=params, headers={**account.headers, "If-None-Match": etag}
    )
    assert changed.status_code == 200
    assert changed.json()["incidents"][0]["count"] == 2
    assert changed.headers["etag"] != etag


async def test_a_304_comes_only_after_the_caller_is_authorised(
    gateway: httpx.AsyncClient,
) -> None:
    account = await sign_in(gateway)
    project = await create_project(gateway, account)
    await gateway.post("/api/ingest", json=node_event(), headers=project.headers)
    params = {"repo": project.repo}
    etag = (await gateway.get("/api/incidents", params=params, headers=account.headers)).headers[
        "etag"
    ]

    signed_out = await gateway.get("/api/incidents", params=params, headers={"If-None-Match": etag})
    assert signed_out.status_code == 401
    # Another account with a project of the same name: its own list, not the other's 304.
    other = await sign_in(gateway)
    await create_project(gateway, other, repo=project.repo)
    theirs = await gateway.get(
        "/api/incidents", params=params, headers={**other.headers, "If-None-Match": etag}
    )
    assert theirs.status_code == 200
    assert theirs.json()["incidents"] == []
    stranger = await sign_in(gateway)
    for tag in (etag, "*"):
        unmapped = await gateway.get(
            "/api/incidents", params=params, headers={**stranger.headers, "If-None-Match": tag}
        )
        assert unmapped.status_code == 404


async def test_if_none_match_lists_weak_tags_and_star(gateway: httpx.AsyncClient) -> None:
    account = await sign_in(gateway)
    project = await create_project(gateway, account)
    params = {"repo": project.repo, "status": "open", "limit": "10"}
    etag = (await gateway.get("/api/incidents", params=params, headers=account.headers)).headers[
        "etag"
    ]
    for header, status in (
        (f'"other", W/{etag}', 304),
        ("*", 304),
        (etag.strip('"'), 200),  # unquoted: not an entity tag
        ('"other"', 200),
    ):
        response = await gateway.get(
            "/api/incidents", params=params, headers={**account.headers, "If-None-Match": header}
        )
        assert response.status_code == status, header
        assert response.headers["etag"] == etag
    # Each query has its own tag.
    other_page = await gateway.get(
        "/api/incidents",
        params={**params, "limit": "11"},
        headers={**account.headers, "If-None-Match": etag},
    )
    assert other_page.status_code == 200
    assert other_page.headers["etag"] != etag


async def test_paging_and_status_filter(gateway: httpx.AsyncClient) -> None:
    account = await sign_in(gateway)
    project = await create_project(gateway, account, repo=f"{account.login}/Paged")
    for n in range(7):
        event = node_event(function=f"handler{n}")
        assert (
            await gateway.post("/api/ingest", json=event, headers=project.headers)
        ).status_code == 200

    seen: list[str] = []
    cursor = None
    while True:
        params = {
            "repo": project.repo.lower(),
            "limit": "3",
            **({"cursor": cursor} if cursor else {}),
        }
        page = (await gateway.get("/api/incidents", params=params, headers=account.headers)).json()
        seen += [i["id"] for i in page["incidents"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 7

    resolved = await gateway.patch(
        f"/api/incidents/{seen[0]}", json={"status": "resolved"}, headers=account.headers
    )
    assert resolved.status_code == 200
    only_open = await gateway.get(
        "/api/incidents", params={"repo": project.repo, "status": "open"}, headers=account.headers
    )
    assert seen[0] not in [i["id"] for i in only_open.json()["incidents"]]
    only_resolved = await gateway.get(
        "/api/incidents",
        params={"repo": project.repo, "status": "resolved"},
        headers=account.headers,
    )
    assert [i["id"] for i in only_resolved.json()["incidents"]] == [seen[0]]


async def test_bad_query_parameters_get_400_naming_them(gateway: httpx.AsyncClient) -> None:
    account = await sign_in(gateway)
    project = await create_project(gateway, account)
    for params, field in (
        ({}, "repo"),
        ({"repo": "nope"}, "repo"),
        ({"repo": project.repo, "status": "closed"}, "status"),
        ({"repo": project.repo, "limit": "0"}, "limit"),
        ({"repo": project.repo, "limit": "ten"}, "limit"),
        ({"repo": project.repo, "cursor": "bogus"}, "cursor"),
    ):
        response = await gateway.get("/api/incidents", params=params, headers=account.headers)
        assert response.status_code == 400, (params, response.text)
        assert response.json()["error"]["field"] == field, params


async def test_a_repository_without_a_project_is_404(gateway: httpx.AsyncClient) -> None:
    account = await sign_in(gateway)
    response = await gateway.get(
        "/api/incidents", params={"repo": "octo/unmapped"}, headers=account.headers
    )
    assert response.status_code == 404
    assert response.json()["error"]["field"] == "repo"


async def test_projects_api_round_trip(gateway: httpx.AsyncClient) -> None:
    account = await sign_in(gateway)
    project = await create_project(gateway, account)
    listed = (await gateway.get("/api/projects", headers=account.headers)).json()["projects"]
    assert [p["id"] for p in listed] == [project.id]
    renamed = await gateway.patch(
        f"/api/projects/{project.id}",
        json={"name": "Renamed", "retention_days": 30},
        headers=account.headers,
    )
    assert renamed.json()["project"]["name"] == "Renamed"
    duplicate = await gateway.post(
        "/api/projects",
        json={"name": "again", "repo": project.repo.upper()},
        headers=account.headers,
    )
    assert duplicate.status_code == 409
    me = await gateway.get("/api/me", headers=account.headers)
    assert me.json()["user"]["login"] == account.login
    assert (
        await gateway.delete(f"/api/projects/{project.id}", headers=account.headers)
    ).status_code == 204
    assert (
        await gateway.get(f"/api/projects/{project.id}", headers=account.headers)
    ).status_code == 404
    refused = await gateway.post("/api/ingest", json=node_event(), headers=project.headers)
    assert refused.status_code == 401


async def test_path_mappings_place_frames_of_other_layouts(gateway: httpx.AsyncClient) -> None:
    account = await sign_in(gateway)
    project = await create_project(gateway, account)
    url = f"/api/projects/{project.id}/path-mappings"
    assert (await gateway.get(url, headers=account.headers)).json() == {"mappings": []}

    mappings = {
        "mappings": [
            {"stack_root": "/srv/monorepo/apps/api/", "source_root": "apps/api"},
            {"stack_root": "https://shop.example.com/static/", "source_root": "./web/public/"},
            {"stack_root": "/srv/site/", "source_root": "./.well-known/"},
        ]
    }
    saved = await gateway.put(url, json=mappings, headers=account.headers)
    assert saved.status_code == 200, saved.text
    assert saved.json()["mappings"] == [
        {"stack_root": "/srv/monorepo/apps/api/", "source_root": "apps/api/"},
        {"stack_root": "/srv/site/", "source_root": ".well-known/"},
        {"stack_root": "https://shop.example.com/static/", "source_root": "web/public/"},
    ]
    stack = (
        "TypeError: x is undefined\n"
        "    at render (https://shop.example.com/static/cart.js:10:5)\n"
        "    at handle (/srv/monorepo/apps/api/routes.js:3:9)\n"
        "    at serve (/srv/site/security.js:1:1)"
    )
    event = node_event(
        exception={"type": "TypeError", "message": "x", "stack": stack}, deploy_root="/nowhere"
    )
    assert (
        await gateway.post("/api/ingest", json=event, headers=project.headers)
    ).status_code == 200
    incident = (
        await gateway.get("/api/incidents", params={"repo": project.repo}, headers=account.headers)
    ).json()
    frames = (
        await gateway.get(
            f"/api/incidents/{incident['incidents'][0]['id']}", headers=account.headers
        )
    ).json()["latest_event"]["frames"]
    assert [f["file"] for f in frames] == [
        "web/public/cart.js",
        "apps/api/routes.js",
        ".well-known/security.js",
    ]

    for bad, field in (
        ({"mappings": [{"stack_root": "", "source_root": "a/"}]}, "mappings[0].stack_root"),
        (
            {"mappings": [{"stack_root": "/x/", "source_root": "../etc/"}]},
            "mappings[0].source_root",
        ),
        (
            {"mappings": [{"stack_root": "/x/", "source_root": "./../etc/"}]},
            "mappings[0].source_root",
        ),
        ({"mappings": [{"stack_root": "/x/", "source_root": "/abs/"}]}, "mappings[0].source_root"),
        (
            {"mappings": [{"stack_root": "/x/", "source_root": "a/", "extra": 1}]},
            "mappings[0].extra",
        ),
    ):
        response = await gateway.put(url, json=bad, headers=account.headers)
        assert response.status_code == 400, bad
        assert response.json()["error"]["field"] == field
    stranger = await sign_in(gateway)
    assert (await gateway.get(url, headers=stranger.headers)).status_code == 404
    assert (await gateway.put(url, json=mappings, headers=stranger.headers)).status_code == 404
