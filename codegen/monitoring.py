"""Prometheus rules, an Alertmanager route and a Grafana dashboard from the spec's ``x-slo``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from codegen.slo import Objective, OperationSlo, Slo

DIRECTORY = "deploy/monitoring"
# WHY these windows: the SRE workbook's multi-window, multi-burn-rate pairs (1h/5m and 6h/30m
# page at 14.4x and 6x, 1d/2h tickets at 3x): each long window proves the burn is sustained,
# its short one that it is still going on, so the alert resets soon after a fix.
WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d")
BURNS = (
    ("SLOErrorBudgetFastBurn", "1h", "5m", 14.4, "page", "2m"),
    ("SLOErrorBudgetBurn", "6h", "30m", 6.0, "page", "15m"),
    ("SLOErrorBudgetSlowBurn", "1d", "2h", 3.0, "ticket", "1h"),
)
QUANTILE_WINDOWS = ("5m", "1h", "1d")


@dataclass(frozen=True)
class Alert:
    name: str
    expr: str
    for_: str
    severity: str
    summary: str
    description: str


class _Dumper(yaml.SafeDumper):
    """Writes a multi-line PromQL expression as a literal block, as a person would."""


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text)


def _yaml(value: Any) -> str:
    return yaml.dump(value, Dumper=_Dumper, sort_keys=False, width=100, allow_unicode=True)


def _selector(slo: Slo, *, errors: bool = False) -> str:
    """The series of the operations that have objectives, or of their 5xx answers."""
    operations = "|".join(sorted({op.operation_id for op in slo.measured}))
    status = ', status=~"5.."' if errors else ""
    return f'{{job="{slo.job}", operation=~"{operations}"{status}}}'


def _objective_rules(slo: Slo) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = []
    for op in slo.measured:
        objective: Objective = op.objective  # type: ignore[assignment]
        for record, value in (
            ("slo:availability:objective", objective.availability),
            ("slo:error_rate:objective", objective.error_rate),
            ("slo:latency:threshold_seconds", objective.threshold_s),
            ("slo:latency:percentile", objective.percentile),
        ):
            rules.append(
                {
                    "record": record,
                    "expr": f"vector({value:g})",
                    "labels": {"operation": op.operation_id},
                }
            )
    return rules


def _rate_rules(slo: Slo) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = []
    requests = _selector(slo)
    errors = _selector(slo, errors=True)
    for window in WINDOWS:
        rules += [
            {
                "record": f"operation:http_requests:rate{window}",
                "expr": f"sum by (operation) (rate(http_requests_total{requests}[{window}]))",
            },
            {
                "record": f"operation:http_request_errors:rate{window}",
                "expr": f"sum by (operation) (rate(http_requests_total{errors}[{window}]))",
            },
            {
                "record": f"operation:http_request_errors:ratio_rate{window}",
                "expr": f"operation:http_request_errors:rate{window}\n"
                f"  / operation:http_requests:rate{window}",
            },
        ]
    buckets = _selector(slo)
    for percentile in sorted({op.objective.percentile for op in slo.measured if op.objective}):
        for window in QUANTILE_WINDOWS:
            rules.append(
                {
                    "record": f"operation:http_request_duration_seconds:quantile_rate{window}",
                    "expr": f"histogram_quantile({percentile:g}, sum by (operation, le) "
                    f"(rate(http_request_duration_seconds_bucket{buckets}[{window}])))",
                    "labels": {"quantile": f"{percentile:g}"},
                }
            )
    return rules


def alerts(slo: Slo) -> list[Alert]:
    found: list[Alert] = []
    budget = "(1 - slo:availability:objective)"
    for name, long, short, factor, severity, for_ in BURNS:
        found.append(
            Alert(
                name,
                f"operation:http_request_errors:ratio_rate{long}\n"
                f"  > on (operation) group_left () ({factor:g} * {budget})\n"
                f"and on (operation)\n"
                f"operation:http_request_errors:ratio_rate{short}\n"
                f"  > on (operation) group_left () ({factor:g} * {budget})",
                for_,
                severity,
                f"{{{{ $labels.operation }}}} burns its {slo.window} error budget "
                f"{factor:g}x too fast",
                f"Over {long} and {short} the share of 5xx of {{{{ $labels.operation }}}} is above "
                f"{factor:g} times its error budget.",
            )
        )
    j = f'job="{slo.job}"'
    found += [
        Alert(
            "ErrorRateHigh",
            f"operation:http_request_errors:ratio_rate5m > {slo.page_error_rate:g}",
            "5m",
            "page",
            "{{ $labels.operation }} answers more than "
            f"{slo.page_error_rate * 100:g} % of its requests with a 5xx",
            "Five minutes of its requests show it; the dashboard has the status codes.",
        ),
        Alert(
            "ErrorRateAboveObjective",
            "operation:http_request_errors:ratio_rate1h\n"
            "  > on (operation) group_left () slo:error_rate:objective",
            "15m",
            "ticket",
            "{{ $labels.operation }} is above its error-rate objective",
            "The share of 5xx over the last hour is above the x-slo errorRate.",
        ),
        Alert(
            "LatencyAboveObjective",
            "operation:http_request_duration_seconds:quantile_rate1h\n"
            "  > on (operation) group_left () slo:latency:threshold_seconds",
            "15m",
            "ticket",
            "{{ $labels.operation }} is slower than its latency objective",
            "Its p{{ $labels.quantile }} over the last hour is above the x-slo threshold.",
        ),
        Alert(
            "LatencyAnomaly",
            "operation:http_request_duration_seconds:quantile_rate5m\n"
            "  > 2 * operation:http_request_duration_seconds:quantile_rate1d\n"
            "and on (operation)\n"
            "operation:http_request_duration_seconds:quantile_rate5m\n"
            "  > on (operation) group_left () (0.5 * slo:latency:threshold_seconds)\n"
            "and on (operation) operation:http_requests:rate5m > 0.1",
            "10m",
            "ticket",
            "{{ $labels.operation }} is twice as slow as over the last day",
            "Its five-minute quantile is above half its objective and twice the daily one.",
        ),
        Alert(
            "DatabasePoolNearLimit",
            f"sum by (instance) (db_pool_checked_out_connections{{{j}}})\n"
            f"  / sum by (instance) (db_pool_max_connections{{{j}}}) > 0.8",
            "5m",
            "page",
            "{{ $labels.instance }} uses more than 80 % of its database connections",
            "Requests will soon wait for a connection, then fail with 503.",
        ),
        Alert(
            "DatabasePoolWaits",
            f"sum by (instance) (rate(db_pool_waits_total{{{j}}}[5m])) > 0",
            "10m",
            "ticket",
            "Requests on {{ $labels.instance }} wait for a database connection",
            "Checkouts find every connection in use and wait.",
        ),
        Alert(
            "RedisErrors",
            f"sum by (instance) (rate(redis_command_errors_total{{{j}}}[5m])) > 0.1",
            "10m",
            "ticket",
            "Redis commands fail on {{ $labels.instance }}",
            "More than one command in ten seconds raises; see redis_command_errors_total.",
        ),
        Alert(
            "CPUNearLimit",
            f"sum by (instance) (rate(process_cpu_seconds_total{{{j}}}[5m]))\n"
            f"  / max by (instance) (service_cpu_limit_cores{{{j}}}) > 0.9",
            "10m",
            "ticket",
            "{{ $labels.instance }} uses more than 90 % of its CPU limit",
            "Latency grows when the service is CPU bound; add workers or instances.",
        ),
        Alert(
            "MemoryNearLimit",
            f"sum by (instance) (process_resident_memory_bytes{{{j}}})\n"
            f"  / max by (instance) (service_memory_limit_bytes{{{j}}}) > 0.9",
            "5m",
            "page",
            "{{ $labels.instance }} uses more than 90 % of its memory limit",
            "The kernel will kill a worker soon.",
        ),
        Alert(
            "TargetDown",
            f"up{{{j}}} == 0",
            "2m",
            "page",
            "Prometheus cannot scrape {{ $labels.instance }}",
            "The instance is down, or /metrics refuses Prometheus (METRICS_ALLOW, METRICS_TOKEN).",
        ),
        Alert(
            "NoTraffic",
            f"sum(rate(http_requests_total{_selector(slo)}[30m])) == 0",
            "30m",
            "ticket",
            f"{slo.job} has served no request for 30 minutes",
            "Traffic is expected; check the load balancer, DNS and the clients.",
        ),
    ]
    return found


def anchor(name: str) -> str:
    """The GitHub anchor of a runbook heading that is the alert's name."""
    return name.lower()


def prometheus_rules(slo: Slo) -> str:
    alert_rules = [
        {
            "alert": alert.name,
            "expr": alert.expr,
            "for": alert.for_,
            "labels": {"severity": alert.severity, "service": slo.job},
            "annotations": {
                "summary": alert.summary,
                "description": alert.description,
                "runbook_url": f"{slo.runbook}#{anchor(alert.name)}",
            },
        }
        for alert in alerts(slo)
    ]
    document = {
        "groups": [
            {"name": f"{slo.job}-slo-objectives", "rules": _objective_rules(slo)},
            {"name": f"{slo.job}-slo-recordings", "rules": _rate_rules(slo)},
            {"name": f"{slo.job}-alerts", "rules": alert_rules},
        ]
    }
    return _yaml(document)


def alertmanager_example(slo: Slo) -> str:
    document = {
        "route": {
            "receiver": "tickets",
            "group_by": ["alertname", "service", "operation"],
            "group_wait": "30s",
            "group_interval": "5m",
            "repeat_interval": "4h",
            "routes": [
                {
                    "matchers": [f'service="{slo.job}"', 'severity="page"'],
                    "receiver": "pager",
                    "repeat_interval": "1h",
                },
                {"matchers": [f'service="{slo.job}"', 'severity="ticket"'], "receiver": "tickets"},
            ],
        },
        "inhibit_rules": [
            {
                "source_matchers": ['alertname="TargetDown"'],
                "target_matchers": [f'service="{slo.job}"', 'alertname!="TargetDown"'],
                "equal": ["service"],
            }
        ],
        "receivers": [
            {"name": "pager", "webhook_configs": [{"url": "http://127.0.0.1:9095/pager"}]},
            {"name": "tickets", "webhook_configs": [{"url": "http://127.0.0.1:9095/tickets"}]},
        ],
    }
    return _yaml(document)


class _Grid:
    """Lays panels out left to right in rows of 24 columns."""

    def __init__(self) -> None:
        self.y = 0
        self.next_id = 1

    def row(self, title: str) -> dict[str, Any]:
        panel = {
            "type": "row",
            "title": title,
            "id": self._id(),
            "collapsed": False,
            "panels": [],
            "gridPos": {"h": 1, "w": 24, "x": 0, "y": self.y},
        }
        self.y += 1
        return panel

    def line(self, panels: list[tuple[str, list[str], str]]) -> list[dict[str, Any]]:
        width = 24 // len(panels)
        out = []
        for index, (title, exprs, unit) in enumerate(panels):
            out.append(
                {
                    "type": "timeseries",
                    "title": title,
                    "id": self._id(),
                    "datasource": {"type": "prometheus", "uid": "${datasource}"},
                    "gridPos": {"h": 7, "w": width, "x": index * width, "y": self.y},
                    "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
                    "targets": [
                        {"refId": chr(ord("A") + n), "expr": expr, "legendFormat": "__auto"}
                        for n, expr in enumerate(exprs)
                    ],
                }
            )
        self.y += 7
        return out

    def _id(self) -> int:
        self.next_id += 1
        return self.next_id - 1


def _operation_panels(grid: _Grid, slo: Slo, op: OperationSlo) -> list[dict[str, Any]]:
    sel = f'job="{slo.job}", operation="{op.operation_id}"'
    name = f"{op.operation_id} ({op.method} {op.path})"
    objective = op.objective
    errors = [
        f'sum(rate(http_requests_total{{{sel}, status=~"5.."}}[5m]))\n'
        f"  / sum(rate(http_requests_total{{{sel}}}[5m]))"
    ]
    percentile = objective.percentile if objective else 0.95
    latency = [
        f"histogram_quantile({percentile:g}, sum by (le) "
        f"(rate(http_request_duration_seconds_bucket{{{sel}}}[5m])))"
    ]
    if objective is not None:
        errors.append(f'slo:error_rate:objective{{operation="{op.operation_id}"}}')
        latency.append(f'slo:latency:threshold_seconds{{operation="{op.operation_id}"}}')
    return grid.line(
        [
            (
                f"{name}: requests/s",
                [f"sum by (status) (rate(http_requests_total{{{sel}}}[5m]))"],
                "reqps",
            ),
            (f"{name}: 5xx share vs objective", errors, "percentunit"),
            (f"{name}: p{percentile * 100:g} vs objective", latency, "s"),
        ]
    )


def grafana_dashboard(slo: Slo, title: str) -> str:
    grid = _Grid()
    panels: list[dict[str, Any]] = []
    domains: dict[str, list[OperationSlo]] = {}
    for op in slo.operations:
        domains.setdefault(op.domain, []).append(op)
    for domain, ops in domains.items():
        panels.append(grid.row(f"{domain} domain"))
        for op in ops:
            panels += _operation_panels(grid, slo, op)
    j = f'job="{slo.job}"'
    sections: Mapping[str, list[list[tuple[str, list[str], str]]]] = {
        "Database pool": [
            [
                (
                    "Connections in use vs limit",
                    [
                        f"sum by (instance) (db_pool_checked_out_connections{{{j}}})",
                        f"sum by (instance) (db_pool_overflow_connections{{{j}}})",
                        f"sum by (instance) (db_pool_max_connections{{{j}}})",
                    ],
                    "short",
                ),
                ("Waits for a connection", [f"sum(rate(db_pool_waits_total{{{j}}}[5m]))"], "ops"),
                (
                    "Wait p95",
                    [
                        "histogram_quantile(0.95, sum by (le) "
                        f"(rate(db_pool_wait_duration_seconds_bucket{{{j}}}[5m])))"
                    ],
                    "s",
                ),
            ]
        ],
        "Redis, auth and rate limits": [
            [
                (
                    "Redis command errors",
                    [f"sum by (error) (rate(redis_command_errors_total{{{j}}}[5m]))"],
                    "ops",
                ),
                (
                    "Auth failures by reason",
                    [f"sum by (reason) (rate(auth_failures_total{{{j}}}[5m]))"],
                    "ops",
                ),
                (
                    "Logins by result",
                    [f"sum by (result) (rate(auth_login_attempts_total{{{j}}}[5m]))"],
                    "ops",
                ),
            ],
            [
                (
                    "Rate-limit rejections",
                    [f"sum by (policy) (rate(rate_limit_rejections_total{{{j}}}[5m]))"],
                    "ops",
                ),
                (
                    "Problems by type",
                    [f"sum by (type) (rate(http_problem_responses_total{{{j}}}[5m]))"],
                    "ops",
                ),
                ("Requests in flight", [f"sum(http_requests_in_flight{{{j}}})"], "short"),
            ],
        ],
        "Process": [
            [
                (
                    "CPU vs limit",
                    [
                        f"sum by (instance) (rate(process_cpu_seconds_total{{{j}}}[5m]))",
                        f"max by (instance) (service_cpu_limit_cores{{{j}}})",
                    ],
                    "short",
                ),
                (
                    "Memory vs limit",
                    [
                        f"sum by (instance) (process_resident_memory_bytes{{{j}}})",
                        f"max by (instance) (service_memory_limit_bytes{{{j}}})",
                    ],
                    "bytes",
                ),
                (
                    "Open file descriptors",
                    [f"sum by (instance) (process_open_fds{{{j}}})"],
                    "short",
                ),
            ],
            [("Build", [f"max by (version, commit, spec_sha256) (build_info{{{j}}})"], "short")],
        ],
    }
    for section, lines in sections.items():
        panels.append(grid.row(section))
        for line in lines:
            panels += grid.line(line)
    dashboard = {
        "title": f"{title}: service level",
        "uid": f"{slo.job}-slo"[:40],
        "editable": True,
        "schemaVersion": 39,
        "tags": ["slo", slo.job],
        "time": {"from": "now-6h", "to": "now"},
        "refresh": "1m",
        "templating": {
            "list": [
                {
                    "name": "datasource",
                    "type": "datasource",
                    "query": "prometheus",
                    "label": "Prometheus",
                }
            ]
        },
        "panels": panels,
    }
    return json.dumps(dashboard, indent=2, ensure_ascii=False) + "\n"


def render(slo: Slo, title: str) -> dict[str, str]:
    """Path (relative to the output root) to text, before the generated-file header."""
    return {
        f"{DIRECTORY}/prometheus-rules.yml": prometheus_rules(slo),
        f"{DIRECTORY}/alertmanager.example.yml": alertmanager_example(slo),
        f"{DIRECTORY}/grafana-dashboard.json": grafana_dashboard(slo, title),
    }
