"""The rendered overlays: valid Kubernetes, and the rules a reviewer would check by hand.

kubectl (from the dev group) renders each overlay as `kubectl apply -k` would; every object
validates against the Kubernetes 1.32 schema; checkov finds nothing; and what checkov does not
know about Stackline is checked here.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from tests.support.local_stack import ROOT
from tests.support.manifests import (
    CUSTOM_KINDS,
    DEPLOYABLES,
    GRPC_SERVICES,
    K8S,
    OVERLAYS,
    Doc,
    containers,
    dockerfile_entrypoints,
    of_kind,
    pod_spec,
    render_text,
    rendered,
    venv_tool,
)

# The oldest Kubernetes the manifests promise to work on (native gRPC probes are GA in 1.27).
KUBERNETES_VERSION = "1.32"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_object_validates_against_the_kubernetes_schema(overlay: str) -> None:
    docs = rendered(overlay)
    checked = 0
    for doc in docs:
        if doc["kind"] in CUSTOM_KINDS:
            continue
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        checked += 1
    assert checked >= 25


def test_the_schema_check_refuses_a_misspelt_field() -> None:
    deployment = json.loads(json.dumps(of_kind(rendered("prod"), "Deployment")["gateway"]))
    pod_spec(deployment)["containers"][0]["resource"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def _with_components(tmp_path: Path, *components: str) -> tuple[Doc, ...]:
    """The prod overlay with optional components listed, as an operator enables them."""
    overlay = tmp_path / "with-components"
    overlay.mkdir()
    (overlay / "kustomization.yaml").write_text(
        yaml.safe_dump(
            {
                "apiVersion": "kustomize.config.k8s.io/v1beta1",
                "kind": "Kustomization",
                # kustomize takes only relative paths.
                "resources": [os.path.relpath(K8S / "overlays" / "prod", overlay)],
                "components": [
                    os.path.relpath(K8S / "components" / name, overlay) for name in components
                ],
            }
        )
    )
    return tuple(yaml.safe_load_all(render_text(overlay)))


def test_the_mtls_component_meshes_the_namespace(tmp_path: Path) -> None:
    [namespace] = of_kind(_with_components(tmp_path, "mtls"), "Namespace").values()
    annotations = namespace["metadata"]["annotations"]
    assert annotations["linkerd.io/inject"] == "enabled"
    assert annotations["config.linkerd.io/default-inbound-policy"] == "all-authenticated"
    kubernetes_validate.validate(namespace, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_ingress_serves_the_dashboard_at_every_path_but_the_apis(overlay: str) -> None:
    [rule] = of_kind(rendered(overlay), "Ingress")["stackline"]["spec"]["rules"]
    backends = {p["path"]: p["backend"]["service"] for p in rule["http"]["paths"]}
    assert backends["/"] == {"name": "dashboard", "port": {"name": "http"}}
    assert backends["/api"]["name"] == backends["/docs"]["name"] == "gateway"
    # The dashboard's /metrics is never public: its Service port is not the routed one.
    [container] = pod_spec(of_kind(rendered(overlay), "Deployment")["dashboard"])["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    annotations = of_kind(rendered(overlay), "Deployment")["dashboard"]["spec"]["template"][
        "metadata"
    ]["annotations"]
    assert int(annotations["prometheus.io/port"]) == ports["metrics"] != ports["http"]
    env = {e["name"]: e for e in container["env"]}
    assert env["STACKLINE_METRICS_PORT"]["value"] == str(ports["metrics"])
    assert env["STACKLINE_SESSION_KEY"]["valueFrom"]["secretKeyRef"]["name"] == (
        "stackline-dashboard"
    )
    config = of_kind(rendered(overlay), "ConfigMap")["stackline-config"]["data"]
    # Secure cookies: the settings make them so for any https address that is not loopback.
    assert config["STACKLINE_DASHBOARD_URL"] == f"https://{rule['host']}"


def test_checkov_finds_nothing_and_every_skip_says_why(tmp_path: Path) -> None:
    checkov = ROOT / ".tools" / "checkov" / "bin" / "checkov"
    assert checkov.exists(), "checkov is missing: make test installs it in .tools/checkov"
    for overlay in OVERLAYS:
        (tmp_path / f"{overlay}.yaml").write_text(render_text(K8S / "overlays" / overlay))
    result = subprocess.run(
        [str(checkov), "-d", str(tmp_path), "--framework", "kubernetes", "-o", "json"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    report = json.loads(result.stdout)
    reports = report if isinstance(report, list) else [report]
    failed = [
        f"{c['check_id']} {c['resource']}" for r in reports for c in r["results"]["failed_checks"]
    ]
    assert failed == []
    skipped = [c for r in reports for c in r["results"]["skipped_checks"]]
    assert skipped, "the skips are read: none found means checkov did not see the annotations"
    for check in skipped:
        reason = check["check_result"].get("suppress_comment", "")
        assert len(reason) > 20, (
            f"{check['check_id']} on {check['resource']} is skipped unexplained"
        )
    assert result.returncode == 0


def test_hadolint_finds_nothing_in_the_dockerfile() -> None:
    result = subprocess.run(
        [str(venv_tool("hadolint")), str(ROOT / "docker" / "Dockerfile")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _workloads(docs: tuple[Doc, ...]) -> list[Doc]:
    return [d for d in docs if d["kind"] in ("Deployment", "StatefulSet", "Job")]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_deployable_has_a_deployment_and_a_service(overlay: str) -> None:
    docs = rendered(overlay)
    deployments, services = of_kind(docs, "Deployment"), of_kind(docs, "Service")
    assert set(DEPLOYABLES) <= set(deployments)
    assert set(DEPLOYABLES) <= set(services)
    for name in GRPC_SERVICES:
        # Headless, so that the gateway's round_robin sees every replica.
        assert services[name]["spec"]["clusterIP"] == "None"
    assert "migrate" in of_kind(docs, "Job")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_container_is_hardened_and_bounded(overlay: str) -> None:
    for workload in _workloads(rendered(overlay)):
        name = f"{workload['kind']}/{workload['metadata']['name']}"
        spec = pod_spec(workload)
        assert spec["automountServiceAccountToken"] is False, name
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", name
        for container in containers(workload):
            where = f"{name} {container['name']}"
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True, where
            assert context["allowPrivilegeEscalation"] is False, where
            assert context["capabilities"]["drop"] == ["ALL"], where
            for kind in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(container["resources"][kind]), where
            image = container["image"]
            tag = image.rsplit(":", 1)[-1] if ":" in image.rsplit("/", 1)[-1] else ""
            assert tag and tag != "latest", f"{where}: {image} has no fixed tag"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_probe_names_a_declared_port(overlay: str) -> None:
    for workload in _workloads(rendered(overlay)):
        if workload["kind"] == "Job":
            continue
        for container in pod_spec(workload)["containers"]:
            where = f"{workload['metadata']['name']} {container['name']}"
            ports = {p["containerPort"] for p in container.get("ports", [])}
            names = {p["name"]: p["containerPort"] for p in container.get("ports", [])}
            for probe_kind in ("readinessProbe", "livenessProbe"):
                probe = container[probe_kind]
                if "exec" in probe:
                    continue
                handler = probe.get("grpc") or probe.get("httpGet") or probe["tcpSocket"]
                port = handler["port"]
                assert names.get(port, port) in ports, f"{where} {probe_kind} port {port}"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_grace_period_covers_pre_stop_and_the_drain(overlay: str) -> None:
    # preStop's sleep, then SIGTERM and the server's own 10 s for calls in flight.
    for name in DEPLOYABLES:
        workload = of_kind(rendered(overlay), "Deployment")[name]
        [container] = pod_spec(workload)["containers"]
        sleep = int(container["lifecycle"]["preStop"]["exec"]["command"][-1])
        assert pod_spec(workload)["terminationGracePeriodSeconds"] >= sleep + 10 + 5


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_grpc_services_probe_health_and_liveness_separately(overlay: str) -> None:
    for name in GRPC_SERVICES:
        [container] = pod_spec(of_kind(rendered(overlay), "Deployment")[name])["containers"]
        assert "service" not in container["readinessProbe"]["grpc"]
        assert container["livenessProbe"]["grpc"]["service"] == "liveness"
        # A new version waits for its migrations before it serves.
        [init] = pod_spec(of_kind(rendered(overlay), "Deployment")[name])["initContainers"]
        assert init["command"][-3:] == ["wait", "--timeout", "600"]


def test_prod_spreads_replicas_and_budgets_every_disruption() -> None:
    docs = rendered("prod")
    deployments = of_kind(docs, "Deployment")
    budgets = of_kind(docs, "PodDisruptionBudget")
    autoscalers = of_kind(docs, "HorizontalPodAutoscaler")
    assert set(autoscalers) == {"gateway", "ingest"}
    for name, deployment in deployments.items():
        selector = deployment["spec"]["selector"]["matchLabels"]
        assert any(b["spec"]["selector"]["matchLabels"] == selector for b in budgets.values()), (
            f"{name} has no PodDisruptionBudget"
        )
        replicas = (
            autoscalers[name]["spec"]["minReplicas"]
            if name in autoscalers
            else deployment["spec"]["replicas"]
        )
        assert replicas >= 2, name
        # The autoscaler owns the count: a replicas field would reset it on every apply.
        assert name not in autoscalers or "replicas" not in deployment["spec"]
        [spread] = pod_spec(deployment)["topologySpreadConstraints"]
        assert spread["topologyKey"] == "kubernetes.io/hostname"
    for autoscaler in autoscalers.values():
        [metric] = autoscaler["spec"]["metrics"]
        assert metric["resource"]["name"] == "cpu"


def test_prod_runs_no_database_of_its_own_and_dev_does() -> None:
    assert of_kind(rendered("prod"), "StatefulSet") == {}
    assert set(of_kind(rendered("dev"), "StatefulSet")) == {"postgresql", "redis"}
    assert not [d for d in rendered("prod") if d["kind"] == "Secret"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_network_policies_deny_by_default_and_open_only_what_the_design_names(
    overlay: str,
) -> None:
    policies = of_kind(rendered(overlay), "NetworkPolicy")
    deny = policies["default-deny"]["spec"]
    assert deny["podSelector"] == {} and set(deny["policyTypes"]) == {"Ingress", "Egress"}
    assert "ingress" not in deny and "egress" not in deny
    deployments = of_kind(rendered(overlay), "Deployment")
    for name in GRPC_SERVICES:
        [container] = pod_spec(deployments[name])["containers"]
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        rules = policies[name]["spec"]["ingress"]
        # The gRPC port from the gateway's pods only: services trust the identity it sends.
        grpc_from = [
            r["from"] for r in rules if {"protocol": "TCP", "port": ports["grpc"]} in r["ports"]
        ]
        assert grpc_from == [
            [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "gateway"}}}]
        ]
        metrics_from = [
            r["from"] for r in rules if {"protocol": "TCP", "port": ports["metrics"]} in r["ports"]
        ]
        assert metrics_from == [
            [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}]
        ]
    # The dashboard: pages from the Ingress controller, metrics to Prometheus, and out to the
    # gateway's HTTP port alone (no service, no database, no Redis).
    [container] = pod_spec(deployments["dashboard"])["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    dashboard = policies["dashboard"]["spec"]
    assert [(r["from"], r["ports"]) for r in dashboard["ingress"]] == [
        (
            [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}}}],
            [{"protocol": "TCP", "port": ports[port]}],
        )
        for namespace, port in (("ingress-nginx", "http"), ("monitoring", "metrics"))
    ]
    assert dashboard["egress"] == [
        {
            "to": [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "gateway"}}}],
            "ports": [{"protocol": "TCP", "port": 8080}],
        }
    ]
    # And no other policy (database or Redis clients) selects its pods to open more.
    labels = deployments["dashboard"]["spec"]["template"]["metadata"]["labels"]
    applying = [
        name
        for name, policy in policies.items()
        if policy["spec"]["podSelector"].get("matchLabels", {"": ""}).items() <= labels.items()
    ]
    assert applying == ["dashboard"]
    gateway_from = [
        source for rule in policies["gateway"]["spec"]["ingress"] for source in rule["from"]
    ]
    assert {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "dashboard"}}} in (
        gateway_from
    )
    # Every policy that admits traffic names its sources; none opens a pod to everyone.
    for name, policy in policies.items():
        for rule in policy["spec"].get("ingress", []):
            assert rule.get("from"), f"{name} admits any source"


def test_no_setting_switches_local_sign_in_on_and_no_secret_is_in_a_config_map() -> None:
    for overlay in OVERLAYS:
        for config in of_kind(rendered(overlay), "ConfigMap").values():
            for key, value in config.get("data", {}).items():
                assert "DEV_LOGIN" not in key
                assert not any(word in key for word in ("SECRET", "PASSWORD", "KEY_FILE")), key
                assert "://" not in value or "@" not in value, f"{key} carries credentials"
        for workload in _workloads(rendered(overlay)):
            for container in containers(workload):
                for env in container.get("env", []):
                    assert env["name"] != "STACKLINE_DEV_LOGIN_ENABLED"
                    if env["name"] in ("DATABASE_URL", "REDIS_URL"):
                        assert "secretKeyRef" in env["valueFrom"], env["name"]


def test_every_stackline_image_is_a_dockerfile_target() -> None:
    targets = set(dockerfile_entrypoints())
    assert targets == {*DEPLOYABLES, "migrate"}
    for overlay in OVERLAYS:
        for workload in _workloads(rendered(overlay)):
            for container in containers(workload):
                repository = container["image"].rsplit(":", 1)[0].rsplit("/", 1)[-1]
                if repository.startswith("stackline-"):
                    assert repository.removeprefix("stackline-") in targets, container["image"]
                    # The init container waits with the code of the image it guards.
                    assert container["image"] == pod_spec(workload)["containers"][0]["image"]
