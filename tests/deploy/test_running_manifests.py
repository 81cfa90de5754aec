"""Every deployable started as the rendered prod manifests and docker/Dockerfile say, on
loopback against the test PostgreSQL, each from a virtualenv holding only its own dependency
group and a copy of only the code its image carries; then its probes are asked, and a real
Prometheus scrapes them all, evaluates the alert rules and finds every metric they and the
Grafana dashboard use. So neither the manifests nor the images can drift from the code.

What is translated, and only this: each container port becomes a free loopback port (in the
environment, the probes, the gateway's targets and the dashboard's gateway alike), 0.0.0.0
becomes 127.0.0.1, each Secret becomes a test value, and each mounted volume a temporary
folder.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.support import postgres
from tests.support.local_stack import ROOT
from tests.support.manifests import (
    DEPLOYABLES,
    GRPC_SERVICES,
    K8S,
    Doc,
    dockerfile_entrypoints,
    of_kind,
    pod_spec,
    rendered,
    system_tool,
)

pytestmark = pytest.mark.e2e

UV = ROOT / ".tools" / "bin" / "uv"
START_TIMEOUT_SECONDS = 90
# Metrics the rules and the dashboard read from the platform, not from Stackline: the
# kubelet's volume statistics and cAdvisor's CPU throttling. Nothing here can export them.
PLATFORM_METRICS = frozenset(
    {
        "kubelet_volume_stats_used_bytes",
        "kubelet_volume_stats_capacity_bytes",
        "container_cpu_cfs_throttled_periods_total",
        "container_cpu_cfs_periods_total",
    }
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Image:
    """What docker/Dockerfile would put in one image: a virtualenv of the shared dependencies
    and the deployable's group, and the code it copies."""

    name: str
    venv: Path
    app: Path

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"


def build_image(name: str, root: Path) -> Image:
    venv, app = root / f"venv-{name}", root / f"app-{name}"
    subprocess.run(
        [
            str(UV),
            "sync",
            "--frozen",
            "--no-default-groups",
            "--group",
            name,
            "--no-install-project",
            "--quiet",
        ],
        cwd=ROOT,
        env={**os.environ, "UV_PROJECT_ENVIRONMENT": str(venv), "UV_PYTHON_DOWNLOADS": "never"},
        check=True,
        timeout=300,
    )
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(
        ROOT / "gen" / "python" / "stackline", app / "gen/python/stackline", ignore=ignore
    )
    for package in ("stackline_contract", "stackline_infra"):
        shutil.copytree(ROOT / package, app / package, ignore=ignore)
    (app / "services").mkdir()
    shutil.copy(ROOT / "services" / "__init__.py", app / "services")
    if (ROOT / "services" / name).is_dir():
        shutil.copytree(ROOT / "services" / name, app / "services" / name, ignore=ignore)
    if name == "dashboard":
        shutil.copytree(ROOT / "dashboard", app / "dashboard", ignore=ignore)
    return Image(name, venv, app)


@dataclass
class Pod:
    """One Deployment's container, started as a process."""

    name: str
    image: Image
    ports: dict[str, int]  # container port name -> loopback port
    container: Doc
    process: subprocess.Popen[str] | None = None
    log: Path | None = None
    env: dict[str, str] = field(default_factory=dict)

    def port_of(self, port: int | str) -> int:
        if isinstance(port, str):
            return self.ports[port]
        [name] = [p["name"] for p in self.container["ports"] if p["containerPort"] == port]
        return self.ports[name]


@dataclass
class Cluster:
    pods: dict[str, Pod]
    prometheus_url: str


class Translation:
    """How the manifests' cluster addresses, ports, Secrets and volumes map onto loopback."""

    def __init__(self, docs: tuple[Doc, ...], database_url: str, root: Path) -> None:
        self.docs = docs
        self.root = root
        self.deployments = of_kind(docs, "Deployment")
        self.services = of_kind(docs, "Service")
        self.config: dict[str, str] = of_kind(docs, "ConfigMap")["stackline-config"]["data"]
        self.ports: dict[str, dict[str, int]] = {
            name: {p["name"]: _free_port() for p in pod_spec(d)["containers"][0]["ports"]}
            for name, d in self.deployments.items()
            if name in DEPLOYABLES
        }
        key = root / "jwt"
        key.mkdir()
        (key / "signing-key.pem").write_bytes(
            Ed25519PrivateKey.generate().private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        self.secret_files = {"stackline-jwt": key}
        self.secrets = {
            ("stackline-database", "url"): database_url,
            ("stackline-redis", "url"): os.environ.get(
                "STACKLINE_TEST_REDIS_URL", "redis://127.0.0.1:6379/14"
            ),
            ("stackline-github", "client-id"): "manifest-test-client",
            ("stackline-github", "client-secret"): secrets.token_hex(16),
            ("stackline-dashboard", "session-key"): Fernet.generate_key().decode(),
        }

    def address(self, value: str) -> str:
        """<scheme>://<service>.<namespace>.svc.cluster.local:<port> -> the loopback port
        (dns:/// for the gateway's gRPC targets, http:// for the dashboard's gateway)."""
        match = re.fullmatch(
            r"(dns:///|http://)([a-z-]+)\.[a-z-]+\.svc\.cluster\.local:(\d+)", value
        )
        if match is None:
            return value
        scheme, name, number = match.groups()
        service = self.services[name]
        [port] = [p for p in service["spec"]["ports"] if p["port"] == int(number)]
        return f"{scheme}127.0.0.1:{self.ports[name][port['targetPort']]}"

    def environment(self, name: str, container: Doc) -> dict[str, str]:
        env: dict[str, str] = {}
        for source in container.get("envFrom", []):
            assert source["configMapRef"]["name"] == "stackline-config"
            env.update({k: self.address(v) for k, v in self.config.items()})
        ports = (
            {
                str(p["containerPort"]): str(self.ports[name][p["name"]])
                for p in container.get("ports", [])
            }
            if name in self.ports
            else {}
        )
        mounts = {
            m["mountPath"]: self._volume(container, m["name"])
            for m in container.get("volumeMounts", [])
        }
        for item in container.get("env", []):
            if "valueFrom" in item:
                ref = item["valueFrom"]["secretKeyRef"]
                env[item["name"]] = self.secrets[(ref["name"], ref["key"])]
                continue
            value = self.address(ports.get(item["value"], item["value"]))
            value = "127.0.0.1" if value == "0.0.0.0" else value
            for mount, folder in mounts.items():
                if value.startswith(mount + "/"):
                    value = str(folder) + value[len(mount) :]
            env[item["name"]] = value
        return env

    def _volume(self, container: Doc, volume: str) -> Path:
        for workload in self.deployments.values():
            for declared in pod_spec(workload).get("volumes", []):
                if declared["name"] == volume and "secret" in declared:
                    return self.secret_files[declared["secret"]["secretName"]]
        folder = self.root / f"volume-{container['name']}-{volume}"
        folder.mkdir(exist_ok=True)
        return folder


def _run(image: Image, argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(image.python), *argv[1:]] if argv[0] == "python" else argv,
        cwd=image.app,
        # Only what the image's ENV sets, plus the manifests' environment: nothing of ours.
        env={
            "PATH": f"{image.venv / 'bin'}:/usr/bin:/bin",
            "PYTHONPATH": f"{image.app}:{image.app / 'gen/python'}",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONUNBUFFERED": "1",
            "HOME": str(log.parent),
            **env,
        },
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        text=True,
    )


def _argv(target: list[str], container: Doc) -> list[str]:
    """Kubernetes' rule: command replaces the ENTRYPOINT, args the CMD."""
    entrypoint, cmd = target[:3], target[3:]
    return [*container.get("command", entrypoint), *container.get("args", cmd)]


def _grpc_status(port: int, service: str) -> int:
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        answer = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=service), timeout=2
        )
        status: int = answer.status
        return status


def _http_status(port: int, path: str) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=3) as answer:
            status: int = answer.status
            return status
    except urllib.error.HTTPError as refused:
        return refused.code


def probe_answers(pod: Pod, probe: Doc) -> bool:
    try:
        if "grpc" in probe:
            status = _grpc_status(
                pod.port_of(probe["grpc"]["port"]), probe["grpc"].get("service", "")
            )
            return bool(status == health_pb2.HealthCheckResponse.SERVING)
        handler = probe["httpGet"]
        return _http_status(pod.port_of(handler["port"]), handler["path"]) == 200
    except (grpc.RpcError, OSError):
        return False


def _until(what: str, check: Any, logs: list[Path]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while True:
        try:
            if check():
                return
        except (urllib.error.URLError, ConnectionError):
            pass  # not listening yet: a process starts slowly on a busy machine
        if time.monotonic() > deadline:
            tails = "\n".join(f"--- {log.name}\n{log.read_text()[-2000:]}" for log in logs)
            pytest.fail(f"{what} never happened\n{tails}")
        time.sleep(0.25)


def prometheus_rules(path: Path) -> Path:
    """The PrometheusRule's groups as a plain rules file."""
    rule = yaml.safe_load((K8S / "components" / "monitoring" / "prometheusrule.yaml").read_text())
    path.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}))
    return path


@pytest.fixture(scope="module")
def cluster(postgres_admin_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    prometheus = system_tool("prometheus", "prometheus")
    root = tmp_path_factory.mktemp("manifests")
    database = f"stackline_manifests_{secrets.token_hex(4)}"
    database_url = postgres.create_database(postgres_admin_url, database)
    docs = rendered("prod")
    translation = Translation(docs, database_url, root)
    targets = dockerfile_entrypoints()
    pods: dict[str, Pod] = {}
    processes: list[subprocess.Popen[Any]] = []
    try:
        # The migrations Job first, from its own image; then each pod's init container.
        job = of_kind(docs, "Job")["migrate"]
        [container] = pod_spec(job)["containers"]
        migrate = build_image("migrate", root)
        log = root / "migrate.log"
        done = _run(
            migrate,
            _argv(targets["migrate"], container),
            translation.environment("migrate", container),
            log,
        )
        assert done.wait(timeout=120) == 0, log.read_text()

        for name in DEPLOYABLES:
            deployment = translation.deployments[name]
            image = build_image(name, root)
            for init in pod_spec(deployment).get("initContainers", []):
                log = root / f"{name}-{init['name']}.log"
                waited = _run(image, init["command"], translation.environment(name, init), log)
                assert waited.wait(timeout=120) == 0, log.read_text()
            [container] = pod_spec(deployment)["containers"]
            pod = Pod(name, image, translation.ports[name], container, log=root / f"{name}.log")
            pod.env = translation.environment(name, container)
            pod.process = _run(image, _argv(targets[name], container), pod.env, pod.log)  # type: ignore[arg-type]
            processes.append(pod.process)
            pods[name] = pod

        logs = [p.log for p in pods.values() if p.log is not None]
        for pod in pods.values():
            _until(
                f"{pod.name} ready",
                lambda pod=pod: probe_answers(pod, pod.container["readinessProbe"]),
                logs,
            )

        # Prometheus scrapes each pod where its prometheus.io annotations say, every second.
        prometheus_port = _free_port()
        scrape_configs = []
        for name, pod in pods.items():
            annotations = translation.deployments[name]["spec"]["template"]["metadata"][
                "annotations"
            ]
            assert annotations["prometheus.io/scrape"] == "true"
            scrape_configs.append(
                {
                    "job_name": name,
                    "metrics_path": annotations["prometheus.io/path"],
                    "static_configs": [
                        {
                            "targets": [
                                f"127.0.0.1:{pod.port_of(int(annotations['prometheus.io/port']))}"
                            ]
                        }
                    ],
                }
            )
        config = root / "prometheus.yml"
        config.write_text(
            yaml.safe_dump(
                {
                    "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                    "rule_files": [str(prometheus_rules(root / "rules.yaml"))],
                    "scrape_configs": scrape_configs,
                }
            )
        )
        prometheus_log = root / "prometheus.log"
        processes.append(
            subprocess.Popen(
                [
                    prometheus,
                    f"--config.file={config}",
                    f"--storage.tsdb.path={root / 'tsdb'}",
                    f"--web.listen-address=127.0.0.1:{prometheus_port}",
                ],
                stdout=prometheus_log.open("w"),
                stderr=subprocess.STDOUT,
            )
        )
        yield Cluster(pods, f"http://127.0.0.1:{prometheus_port}")
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        postgres.drop_database(postgres_admin_url, database)


def test_every_probe_in_the_manifests_answers(cluster: Cluster) -> None:
    for pod in cluster.pods.values():
        for kind in ("readinessProbe", "livenessProbe"):
            assert probe_answers(pod, pod.container[kind]), f"{pod.name} {kind}"


def test_each_service_runs_from_its_own_group_alone(cluster: Cluster) -> None:
    # The heavy libraries live in one image each: source maps in ingest, OAuth in auth, the web
    # framework in the gateway. A deployable that imported another's would not have started.
    # The dashboard's templates are its own, and the web framework is in its image too.
    owners = {
        "symbolic": {"ingest"},
        "authlib": {"auth"},
        "fastapi": {"gateway", "dashboard"},
        "jinja2": {"dashboard"},
    }
    for pod in cluster.pods.values():
        site = pod.image.venv / "lib"
        installed = {p.name.split("-")[0].lower() for p in site.glob("python*/site-packages/*")}
        for library, owner in owners.items():
            assert (library in installed) == (pod.name in owner), f"{library} in {pod.name}"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _dashboard_redirect(port: int, path: str) -> str:
    """Where a dashboard page sends the browser."""
    opener = urllib.request.build_opener(_NoRedirect)
    with pytest.raises(urllib.error.HTTPError) as redirected:
        opener.open(f"http://127.0.0.1:{port}{path}", timeout=10)
    assert redirected.value.code in (302, 303, 307), redirected.value.code
    location: str = redirected.value.headers["Location"]
    return location


def _prometheus(cluster: Cluster, path: str) -> Any:
    with urllib.request.urlopen(cluster.prometheus_url + path, timeout=5) as answer:
        return json.load(answer)["data"]


def _used_metric_names() -> set[str]:
    """Every metric name the alert rules and the Grafana dashboard read."""
    rule = yaml.safe_load((K8S / "components" / "monitoring" / "prometheusrule.yaml").read_text())
    expressions = [r["expr"] for g in rule["spec"]["groups"] for r in g["rules"]]
    dashboard = json.loads(
        (K8S / "components" / "monitoring" / "dashboards" / "stackline.json").read_text()
    )
    expressions += [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    names = set()
    for expression in expressions:
        names |= set(
            re.findall(r"\b((?:stackline|process|kubelet|container)_[a-z0-9_]+)\b", expression)
        )
    recorded = {r["record"] for g in rule["spec"]["groups"] for r in g["rules"] if "record" in r}
    for expression in expressions:
        for name in re.findall(r"\b(stackline:[a-z0-9_:]+)\b", expression):
            assert name in recorded, f"{name} is used but never recorded"
    return names


def test_prometheus_scrapes_every_pod_and_finds_every_metric_used(cluster: Cluster) -> None:
    # Traffic that makes the request metrics appear: a refused ingest and a refused API call.
    gateway = cluster.pods["gateway"].port_of("http")
    assert _http_status(gateway, "/api/incidents") == 401
    request = urllib.request.Request(
        f"http://127.0.0.1:{gateway}/api/ingest", data=b"{}", method="POST"
    )
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(request, timeout=5)
    # A page of the dashboard, and one that calls the gateway (GitHub's sign-in address).
    dashboard = cluster.pods["dashboard"].port_of("http")
    assert _http_status(dashboard, "/login") == 200
    assert _dashboard_redirect(dashboard, "/login/github").startswith("https://github.com/")
    # Its metrics are on their own port alone: the pages' port is the one behind the Ingress.
    assert _http_status(dashboard, "/metrics") == 404

    def all_up() -> bool:
        targets = _prometheus(cluster, "/api/v1/targets")["activeTargets"]
        return len(targets) == len(DEPLOYABLES) and all(t["health"] == "up" for t in targets)

    logs = [p.log for p in cluster.pods.values() if p.log is not None]
    _until("every target scraped", all_up, logs)

    wanted = _used_metric_names() - PLATFORM_METRICS
    assert {
        "stackline_database_up",
        "stackline_gateway_http_requests_total",
        "stackline_dashboard_http_requests_total",
        "stackline_dashboard_gateway_requests_total",
    } <= wanted

    def all_present() -> bool:
        return wanted <= set(_prometheus(cluster, "/api/v1/label/__name__/values"))

    _until("every metric the rules and the dashboard use", all_present, logs)
    missing = wanted - set(_prometheus(cluster, "/api/v1/label/__name__/values"))
    assert missing == set()

    def rules_evaluated() -> bool:
        groups = _prometheus(cluster, "/api/v1/rules")["groups"]
        rules = [r for g in groups for r in g["rules"]]
        return bool(rules) and all(
            r["health"] == "ok" and not r["lastEvaluation"].startswith("0001") for r in rules
        )

    _until("every rule evaluated without error", rules_evaluated, logs)
    # The database is up: the page for it is not firing.
    alerts = _prometheus(cluster, "/api/v1/alerts")["alerts"]
    assert not [a for a in alerts if a["labels"]["alertname"] == "StacklineDatabaseUnreachable"]
    up = _prometheus(cluster, "/api/v1/query?query=stackline_database_up")["result"]
    assert {r["metric"]["job"] for r in up} == set(GRPC_SERVICES)
    assert all(r["value"][1] == "1" for r in up)
    built = _prometheus(cluster, "/api/v1/query?query=stackline_build_info")["result"]
    assert {r["metric"]["job"] for r in built} == set(DEPLOYABLES)
    # The dashboard's page and the gateway call behind it, by their templates.
    calls = _prometheus(cluster, "/api/v1/query?query=stackline_dashboard_gateway_requests_total")[
        "result"
    ]
    assert {(r["metric"]["route"], r["metric"]["status"]) for r in calls} == {
        ("/api/auth/github/login", "302")
    }
    down = urllib.parse.urlencode({"query": 'absent(up{job="dashboard"} == 1)'})
    assert _prometheus(cluster, f"/api/v1/query?{down}")["result"] == []


def test_every_dashboard_query_is_valid_promql(cluster: Cluster) -> None:
    # Grafana fills these variables in; anything else wrong in a panel's query is an error
    # from Prometheus here.
    dashboard = json.loads(
        (K8S / "components" / "monitoring" / "dashboards" / "stackline.json").read_text()
    )
    variables = {"$__rate_interval": "1m", "$namespace": "stackline"}
    queried = 0
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            expression = target["expr"]
            for name, value in variables.items():
                expression = expression.replace(name, value)
            assert "$" not in expression, f"{panel['title']}: unknown variable in {expression}"
            query = urllib.parse.urlencode({"query": expression})
            result = _prometheus(cluster, f"/api/v1/query?{query}")
            assert result["resultType"] in ("vector", "scalar"), panel["title"]
            queried += 1
    assert queried >= 20
