"""The alert and recording rules: promtool accepts them, its unit tests in
deploy/prometheus/rules_test.yaml pass, every alert has a test and a runbook section."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.support.local_stack import ROOT
from tests.support.manifests import K8S, system_tool

RULES = K8S / "components" / "monitoring" / "prometheusrule.yaml"
UNIT_TESTS = ROOT / "deploy" / "prometheus" / "rules_test.yaml"


def _rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(RULES.read_text())["spec"]["groups"]
    return [rule for group in groups for rule in group["rules"]]


def _promtool(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    promtool = system_tool("promtool", "prometheus")
    groups = yaml.safe_load(RULES.read_text())["spec"]["groups"]
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": groups}))
    shutil.copy(UNIT_TESTS, tmp_path / UNIT_TESTS.name)
    return subprocess.run(
        [promtool, *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_promtool_accepts_the_rules(tmp_path: Path) -> None:
    checked = _promtool(tmp_path, "check", "rules", "rules.yaml")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(_rules())} rules found" in checked.stdout


def test_the_rules_unit_tests_pass(tmp_path: Path) -> None:
    tested = _promtool(tmp_path, "test", "rules", UNIT_TESTS.name)
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_every_alert_is_unit_tested_both_ways_and_has_a_runbook() -> None:
    tests = yaml.safe_load(UNIT_TESTS.read_text())["tests"]
    fired: set[str] = set()
    quiet: set[str] = set()
    for case in tests:
        for check in case.get("alert_rule_test", []):
            (fired if check["exp_alerts"] else quiet).add(check["alertname"])
    expression_tests = " ".join(
        check["expr"] for case in tests for check in case.get("promql_expr_test", [])
    )
    alerts = [r for r in _rules() if "alert" in r]
    alert_expressions = " ".join(r["expr"] for r in alerts)
    readme = (ROOT / "deploy" / "README.md").read_text()
    headings = {
        re.sub(r"[^a-z0-9 -]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
        for line in readme.splitlines()
        if line.startswith("#")
    }
    for alert in alerts:
        name = alert["alert"]
        assert name in fired, f"no test where {name} fires"
        assert name in quiet, f"no test where {name} stays quiet"
        anchor = alert["annotations"]["runbook_url"].split("#", 1)[1]
        assert anchor == name.lower() and anchor in headings, f"no runbook section for {name}"
    for rule in _rules():
        if "record" in rule:
            assert rule["record"] in alert_expressions or rule["record"] in expression_tests, (
                f"recording rule {rule['record']} is tested by no alert and no expression test"
            )
