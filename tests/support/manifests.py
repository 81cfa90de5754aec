"""The Kubernetes manifests as kubectl renders them, and the tools that check them."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.local_stack import ROOT

K8S = ROOT / "deploy" / "k8s"
OVERLAYS = ("dev", "prod")
DEPLOYABLES = ("gateway", "auth", "projects", "ingest", "incidents", "dashboard")
GRPC_SERVICES = ("auth", "projects", "ingest", "incidents")
# The Prometheus Operator's kinds: no schema in kubernetes-validate, checked by promtool and
# by the tests themselves.
CUSTOM_KINDS = frozenset({"PrometheusRule", "ServiceMonitor"})

Doc = dict[str, Any]


def venv_tool(name: str) -> Path:
    """A tool the dev dependency group installs next to the interpreter (kubectl, hadolint)."""
    path = Path(os.environ.get("VIRTUAL_ENV", ROOT / ".venv")) / "bin" / name
    if not path.exists():
        path = ROOT / ".venv" / "bin" / name
    assert path.exists(), f"{name} is missing: run make (it comes from the dev group in uv.lock)"
    return path


def system_tool(name: str, package: str) -> str:
    """A Debian tool (tools/apt-packages.txt); skipped where it is missing, as with Chromium."""
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed: apt-get install {package} (tools/apt-packages.txt)")
    return found


def render_text(path: Path) -> str:
    result = subprocess.run(
        [str(venv_tool("kubectl")), "kustomize", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@cache
def rendered(overlay: str) -> tuple[Doc, ...]:
    """Every object `kubectl apply -k deploy/k8s/overlays/<overlay>` would send."""
    return tuple(d for d in yaml.safe_load_all(render_text(K8S / "overlays" / overlay)) if d)


def of_kind(docs: tuple[Doc, ...], kind: str) -> dict[str, Doc]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def pod_spec(workload: Doc) -> Doc:
    spec: Doc = workload["spec"]["template"]["spec"]
    return spec


def containers(workload: Doc) -> list[Doc]:
    spec = pod_spec(workload)
    return [*spec.get("initContainers", []), *spec["containers"]]


def dockerfile_entrypoints() -> dict[str, list[str]]:
    """Each target of docker/Dockerfile and its exec-form ENTRYPOINT (+ CMD)."""
    targets: dict[str, list[str]] = {}
    current = None
    for line in (ROOT / "docker" / "Dockerfile").read_text().splitlines():
        if match := re.match(r"FROM \S+ AS (\S+)", line):
            current = match.group(1)
        elif line.startswith(("ENTRYPOINT ", "CMD ")) and current is not None:
            targets.setdefault(current, []).extend(json.loads(line.split(" ", 1)[1]))
    return targets
