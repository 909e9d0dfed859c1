"""The generated rules pass promtool, fire when they should, and each links to its runbook."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent.parent
RULES = ROOT / "deploy" / "monitoring" / "prometheus-rules.yml"
JOB = 'job="projects-api"'


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.fail("promtool is missing; scripts/install-system-packages installs prometheus")
    return found


def alert_rules() -> dict[str, dict[str, Any]]:
    groups = yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"]
    return {rule["alert"]: rule for group in groups for rule in group["rules"] if "alert" in rule}


def test_the_generated_rules_pass_promtool_check() -> None:
    result = subprocess.run(
        [promtool(), "check", "rules", str(RULES)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def expected(name: str, **labels: str) -> dict[str, Any]:
    """An alert as promtool reports it: the rule's labels plus the series', annotations filled."""
    rule = alert_rules()[name]
    every = {**rule["labels"], **labels}

    def fill(text: str) -> str:
        return re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: every[m[1]], text)

    return {
        "exp_labels": every,
        "exp_annotations": {key: fill(value) for key, value in rule["annotations"].items()},
    }


def requests(operation: str, status: str, per_minute: int, minutes: int) -> dict[str, str]:
    return {
        "series": f'http_requests_total{{{JOB}, operation="{operation}", method="GET", '
        f'status="{status}"}}',
        "values": f"0+{per_minute}x{minutes}",
    }


def buckets(
    operation: str, slow_from: float, per_minute: int, minutes: int
) -> list[dict[str, str]]:
    """A histogram whose every request took longer than ``slow_from`` seconds."""
    bounds = ["0.005", "0.01", "0.025", "0.05", "0.1", "0.15", "0.2", "0.3", "0.5", "1.0", "+Inf"]
    return [
        {
            "series": f'http_request_duration_seconds_bucket{{{JOB}, operation="{operation}", '
            f'method="GET", le="{le}"}}',
            "values": f"0+{per_minute if le == '+Inf' or float(le) > slow_from else 0}x{minutes}",
        }
        for le in bounds
    ]


SCENARIOS: list[dict[str, Any]] = [
    {
        # listProjects fails 1 in 11 requests from the start; getProject is healthy.
        "interval": "1m",
        "input_series": [
            requests("listProjects", "200", 600, 90),
            requests("listProjects", "500", 60, 90),
            requests("getProject", "200", 600, 90),
            *buckets("getProject", 0.0, 600, 90),
        ],
        "alert_rule_test": [
            {"eval_time": "1m", "alertname": "SLOErrorBudgetFastBurn", "exp_alerts": []},
            {
                "eval_time": "10m",
                "alertname": "SLOErrorBudgetFastBurn",
                "exp_alerts": [expected("SLOErrorBudgetFastBurn", operation="listProjects")],
            },
            {
                "eval_time": "10m",
                "alertname": "ErrorRateHigh",
                "exp_alerts": [expected("ErrorRateHigh", operation="listProjects")],
            },
            {"eval_time": "10m", "alertname": "SLOErrorBudgetBurn", "exp_alerts": []},
            {
                "eval_time": "40m",
                "alertname": "SLOErrorBudgetBurn",
                "exp_alerts": [expected("SLOErrorBudgetBurn", operation="listProjects")],
            },
            {"eval_time": "10m", "alertname": "ErrorRateAboveObjective", "exp_alerts": []},
            {
                "eval_time": "30m",
                "alertname": "ErrorRateAboveObjective",
                "exp_alerts": [expected("ErrorRateAboveObjective", operation="listProjects")],
            },
            {"eval_time": "80m", "alertname": "NoTraffic", "exp_alerts": []},
            {"eval_time": "80m", "alertname": "LatencyAboveObjective", "exp_alerts": []},
        ],
    },
    {
        # createProject answers everything, but slower than its 200 ms objective.
        "interval": "1m",
        "input_series": [
            requests("createProject", "201", 600, 60),
            *buckets("createProject", 0.2, 600, 60),
        ],
        "alert_rule_test": [
            {"eval_time": "5m", "alertname": "LatencyAboveObjective", "exp_alerts": []},
            {
                "eval_time": "30m",
                "alertname": "LatencyAboveObjective",
                "exp_alerts": [
                    expected("LatencyAboveObjective", operation="createProject", quantile="0.95")
                ],
            },
            {"eval_time": "30m", "alertname": "SLOErrorBudgetFastBurn", "exp_alerts": []},
            {"eval_time": "30m", "alertname": "ErrorRateHigh", "exp_alerts": []},
        ],
    },
    {
        # An instance stops answering scrapes; its pool is nearly exhausted before that.
        "interval": "1m",
        "input_series": [
            {"series": f'up{{{JOB}, instance="a:8000"}}', "values": "1 1 1 0x10"},
            {"series": f'up{{{JOB}, instance="b:8000"}}', "values": "1x13"},
            {
                "series": f'db_pool_checked_out_connections{{{JOB}, instance="b:8000"}}',
                "values": "2 2 14x11",
            },
            {"series": f'db_pool_max_connections{{{JOB}, instance="b:8000"}}', "values": "15x13"},
            requests("getProject", "200", 0, 60),
        ],
        "alert_rule_test": [
            {"eval_time": "4m", "alertname": "TargetDown", "exp_alerts": []},
            {
                "eval_time": "6m",
                "alertname": "TargetDown",
                "exp_alerts": [expected("TargetDown", instance="a:8000", job="projects-api")],
            },
            {"eval_time": "4m", "alertname": "DatabasePoolNearLimit", "exp_alerts": []},
            {
                "eval_time": "8m",
                "alertname": "DatabasePoolNearLimit",
                "exp_alerts": [expected("DatabasePoolNearLimit", instance="b:8000")],
            },
            {"eval_time": "20m", "alertname": "NoTraffic", "exp_alerts": []},
            {"eval_time": "50m", "alertname": "NoTraffic", "exp_alerts": [expected("NoTraffic")]},
        ],
    },
]


def test_the_alerts_fire_when_the_series_say_so(tmp_path: Path) -> None:
    tests = tmp_path / "rules.test.yml"
    document = {
        "rule_files": [str(RULES)],
        "evaluation_interval": "1m",
        "tests": SCENARIOS,
    }
    tests.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    result = subprocess.run(
        [promtool(), "test", "rules", str(tests)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_links_to_its_own_runbook_section() -> None:
    runbook = (ROOT / "docs" / "RUNBOOK.md").read_text(encoding="utf-8")
    anchors = {
        re.sub(r"[^a-z0-9 -]", "", heading.strip().lower()).replace(" ", "-")
        for heading in re.findall(r"^#+ (.+)$", runbook, re.MULTILINE)
    }
    links = [rule["annotations"]["runbook_url"] for rule in alert_rules().values()]
    assert len(set(links)) == len(links)
    for link in links:
        path, _, anchor = link.partition("#")
        assert path == "docs/RUNBOOK.md"
        assert anchor in anchors, f"docs/RUNBOOK.md has no section #{anchor}"
