"""The dashboard's Prometheus metrics: its pages by route template, its calls to the gateway
by the gateway's own route templates, and label sets no visitor can grow."""

from __future__ import annotations

import ast
import re
import socket

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import REGISTRY

from dashboard.gateway import Gateway, GatewayUnavailable
from dashboard.metrics import GATEWAY_ROUTES, gateway_route
from tests.dashboard.conftest import create_project, sign_in
from tests.support.local_stack import ROOT


def _sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def _page(route: str, status: str, method: str = "GET") -> float:
    return _sample(
        "stackline_dashboard_http_requests_total", method=method, route=route, status=status
    )


def _call(route: str, status: str, method: str = "GET") -> float:
    return _sample(
        "stackline_dashboard_gateway_requests_total", method=method, route=route, status=status
    )


def _series(name: str) -> list[dict[str, str]]:
    return [
        sample.labels
        for metric in REGISTRY.collect()
        for sample in metric.samples
        if sample.name == name
    ]


def test_every_template_is_a_route_of_the_gateway(gateway_app: FastAPI) -> None:
    declared = set(gateway_app.openapi()["paths"])
    assert set(GATEWAY_ROUTES) <= declared, set(GATEWAY_ROUTES) - declared


def _gateway_paths_in_the_dashboard() -> list[str]:
    """Every "/api/..." the dashboard's code writes, its f-string holes as sample ids."""
    paths = []
    for source in (ROOT / "dashboard").rglob("*.py"):
        tree = ast.parse(source.read_text())
        # An f-string's literal pieces are read with the f-string, not alone.
        pieces = {
            id(part)
            for node in ast.walk(tree)
            if isinstance(node, ast.JoinedStr)
            for part in node.values
        }
        for node in ast.walk(tree):
            if id(node) in pieces:
                continue
            if isinstance(node, ast.JoinedStr):
                path = "".join(
                    str(part.value) if isinstance(part, ast.Constant) else "4f1c"
                    for part in node.values
                )
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                path = node.value
            else:
                continue
            if re.fullmatch(r"/api/[a-z0-9/_-]*", path):
                paths.append(path)
    return paths


def test_every_call_the_dashboard_makes_has_its_template() -> None:
    # A new call with no template here would be counted as "other": this names it instead.
    paths = _gateway_paths_in_the_dashboard()
    assert len(paths) >= 15
    for path in paths:
        assert gateway_route(path) != "other", f"{path}: add its template to GATEWAY_ROUTES"
    assert gateway_route("/api/projects/4f1c/keys/9/rotate") == (
        "/api/projects/{project_id}/keys/{key_id}/rotate"
    )
    assert gateway_route("/api/projects/a/b/c/d/e/f") == "other"


async def test_pages_and_their_gateway_calls_are_counted_by_template(
    browser: httpx.AsyncClient,
) -> None:
    await sign_in(browser, "metrics-reader")
    project_id, _ = await create_project(browser, "octo-org/metrics")
    pages = _page("/projects/{project_id}/incidents", "200")
    listed = _call("/api/incidents", "200")
    answer = await browser.get(f"/projects/{project_id}/incidents")
    assert answer.status_code == 200
    assert _page("/projects/{project_id}/incidents", "200") == pages + 1
    assert _call("/api/incidents", "200") == listed + 1
    assert (
        _sample(
            "stackline_dashboard_gateway_request_duration_seconds_count",
            method="GET",
            route="/api/incidents",
        )
        >= listed + 1
    )

    # A project that does not exist: the gateway's 404 is counted under a template of the
    # project (the settings page asks for the project and its path mappings at once; either
    # may answer first), never under the id.
    missing = _project_404s()
    await browser.get("/projects/00000000-0000-4000-8000-000000000000/settings")
    assert _project_404s() >= missing + 1
    routes = {labels["route"] for labels in _series("stackline_dashboard_gateway_requests_total")}
    assert not [route for route in routes if "00000000" in route]


def _project_404s() -> float:
    return sum(
        sample.value
        for metric in REGISTRY.collect()
        for sample in metric.samples
        if sample.name == "stackline_dashboard_gateway_requests_total"
        and sample.labels["route"].startswith("/api/projects/{project_id}")
        and sample.labels["status"] == "404"
    )


async def test_a_scanner_adds_no_series(browser: httpx.AsyncClient) -> None:
    unmatched = _page("unmatched", "404")
    other = _page("unmatched", "404", method="other")
    for probe in ("/wp-login.php", "/.env", "/projects/x/y/z/w"):
        assert (await browser.get(probe)).status_code == 404
    assert (await browser.request("PROPFIND", "/nothing")).status_code == 404
    assert _page("unmatched", "404") == unmatched + 3
    assert _page("unmatched", "404", method="other") == other + 1
    routes = {labels["route"] for labels in _series("stackline_dashboard_http_requests_total")}
    assert not {"/wp-login.php", "/.env", "/nothing"} & routes
    methods = {labels["method"] for labels in _series("stackline_dashboard_http_requests_total")}
    assert "PROPFIND" not in methods


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


async def test_a_gateway_that_does_not_answer_is_counted_as_unreachable(
    closed_port: int,
) -> None:
    gateway = Gateway(f"http://127.0.0.1:{closed_port}", timeout=5)
    before = _call("/api/me", "unreachable")
    try:
        with pytest.raises(GatewayUnavailable):
            await gateway.send("GET", "/api/me", token="t")
    finally:
        await gateway.close()
    assert _call("/api/me", "unreachable") == before + 1


async def test_static_files_are_counted_under_their_mount(browser: httpx.AsyncClient) -> None:
    # The Mount has no route template of its own; its prefix stands for every file under it,
    # found or not, so the alerts can leave static files out of the pages.
    found, missing = _page("/static", "200"), _page("/static", "404")
    assert (await browser.get("/static/style.css")).status_code == 200
    assert (await browser.get("/static/no-such-file-4f1c.css")).status_code == 404
    assert _page("/static", "200") == found + 1
    assert _page("/static", "404") == missing + 1
    routes = {labels["route"] for labels in _series("stackline_dashboard_http_requests_total")}
    assert not [route for route in routes if "4f1c" in route or route.endswith(".css")]
