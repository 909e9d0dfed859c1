"""The ``x-slo`` extension: service level objectives declared in the contract.

At the document root it sets the defaults; an operation's own ``x-slo`` overrides some of
them, or ``false`` opts the operation out (probes, the metrics scrape)::

    x-slo:
      job: projects-api            # the Prometheus job that scrapes the service
      window: 30d                  # the period the objectives hold over
      availability: 99.9           # percent of requests answered without a 5xx
      latency: {percentile: 95, threshold: 200ms}
      errorRate: 1                 # percent: ceiling of the hourly share of 5xx
      pageErrorRate: 5             # percent: page when five minutes exceed it
      runbook: docs/RUNBOOK.md     # every alert's runbook_url is this plus #<alert name>
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from codegen.document import operation_domain, operations
from codegen.errors import Issue, pointer

# The runtime's histogram buckets (runtime/metrics.py); a latency threshold must be one of
# them, or the share of slow requests could not be counted exactly.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 1.0, 2.5, 5.0, 10.0)
_ROOT_FIELDS = frozenset(
    {"job", "window", "availability", "latency", "errorRate", "pageErrorRate", "runbook"}
)
_OPERATION_FIELDS = frozenset({"availability", "latency", "errorRate"})
_DURATION = re.compile(r"^(?P<value>[0-9]+(\.[0-9]+)?)(?P<unit>ms|s)$")
_WINDOW = re.compile(r"^[1-9][0-9]*[dh]$")
_JOB = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_.-]*$")


@dataclass(frozen=True)
class Objective:
    availability: float  # a fraction: 0.999
    percentile: float  # a fraction: 0.95
    threshold_s: float
    error_rate: float  # a fraction: 0.01


@dataclass(frozen=True)
class OperationSlo:
    operation_id: str
    domain: str
    method: str
    path: str
    objective: Objective | None  # None: opted out


@dataclass(frozen=True)
class Slo:
    job: str
    window: str
    page_error_rate: float
    runbook: str
    operations: tuple[OperationSlo, ...]

    @property
    def measured(self) -> tuple[OperationSlo, ...]:
        return tuple(op for op in self.operations if op.objective is not None)


def check(data: Mapping[str, Any]) -> list[Issue]:
    """Located problems with the document's ``x-slo`` and every operation's."""
    if "x-slo" not in data:
        return [
            Issue(pointer((*where, "x-slo")), "x-slo on an operation needs x-slo at the root")
            for where, _ in _operation_slos(data)
        ]
    root = data["x-slo"]
    at: tuple[object, ...] = ("x-slo",)
    if not isinstance(root, dict):
        return [Issue(pointer(at), "x-slo must be a mapping of objectives")]
    issues = _unknown(root, _ROOT_FIELDS, at)
    for required in ("job", "window", "availability", "latency", "errorRate"):
        if required not in root:
            issues.append(Issue(pointer(at), f"x-slo needs {required!r}"))
    if "job" in root and not (isinstance(root["job"], str) and _JOB.match(root["job"])):
        issues.append(Issue(pointer((*at, "job")), "x-slo job must be a Prometheus job name"))
    if "window" in root and not (isinstance(root["window"], str) and _WINDOW.match(root["window"])):
        issues.append(Issue(pointer((*at, "window")), "x-slo window must look like '30d' or '12h'"))
    if "runbook" in root and not (isinstance(root["runbook"], str) and root["runbook"]):
        issues.append(Issue(pointer((*at, "runbook")), "x-slo runbook must be a URL or path"))
    issues += _check_objectives(root, at)
    if "pageErrorRate" in root:
        issues += _check_percent(root["pageErrorRate"], (*at, "pageErrorRate"))
    for where, raw in _operation_slos(data):
        op_at = (*where, "x-slo")
        if raw is False:
            continue
        if not isinstance(raw, dict):
            issues.append(Issue(pointer(op_at), "x-slo of an operation must be a mapping or false"))
            continue
        issues += _unknown(raw, _OPERATION_FIELDS, op_at) + _check_objectives(raw, op_at)
    return issues


def _operation_slos(data: Mapping[str, Any]) -> list[tuple[tuple[object, ...], Any]]:
    return [
        (("paths", url, method), operation["x-slo"])
        for url, method, operation in operations(data)
        if "x-slo" in operation
    ]


def _unknown(
    raw: Mapping[str, Any], allowed: frozenset[str], at: tuple[object, ...]
) -> list[Issue]:
    return [
        Issue(pointer((*at, name)), f"unknown x-slo field; use {', '.join(sorted(allowed))}")
        for name in sorted(set(map(str, raw)) - allowed)
    ]


def _check_objectives(raw: Mapping[str, Any], at: tuple[object, ...]) -> list[Issue]:
    issues: list[Issue] = []
    for name in ("availability", "errorRate"):
        if name in raw:
            issues += _check_percent(raw[name], (*at, name))
    if "latency" not in raw:
        return issues
    latency = raw["latency"]
    if not isinstance(latency, dict):
        return [
            *issues,
            Issue(pointer((*at, "latency")), "latency must be {percentile, threshold}"),
        ]
    issues += _unknown(latency, frozenset({"percentile", "threshold"}), (*at, "latency"))
    if "percentile" in latency:
        issues += _check_percent(latency["percentile"], (*at, "latency", "percentile"))
    threshold = latency.get("threshold")
    if threshold is not None and _seconds(threshold) not in DURATION_BUCKETS:
        bounds = ", ".join(_duration_text(bound) for bound in DURATION_BUCKETS)
        issues.append(
            Issue(
                pointer((*at, "latency", "threshold")),
                f"latency threshold {threshold!r} must be a histogram bucket bound: {bounds}",
            )
        )
    return issues


def _check_percent(value: Any, at: tuple[object, ...]) -> list[Issue]:
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 < value < 100:
        return []
    return [Issue(pointer(at), f"{value!r} must be a percentage between 0 and 100 (exclusive)")]


def _seconds(text: Any) -> float | None:
    match = _DURATION.match(text) if isinstance(text, str) else None
    if match is None:
        return None
    value = float(match["value"])
    return round(value / 1000, 6) if match["unit"] == "ms" else value


def _duration_text(seconds: float) -> str:
    return f"{round(seconds * 1000)}ms" if seconds < 1 else f"{seconds:g}s"


def _objective(raw: Mapping[str, Any], base: Objective | None) -> Objective:
    latency = raw.get("latency", {})
    values = {
        "availability": raw.get("availability"),
        "error_rate": raw.get("errorRate"),
        "percentile": latency.get("percentile"),
        "threshold_s": _seconds(latency.get("threshold")),
    }
    if base is None:
        assert all(v is not None for k, v in values.items() if k != "percentile")
        values["percentile"] = values["percentile"] or 95
    present = {k: v for k, v in values.items() if v is not None}
    for name in ("availability", "error_rate", "percentile"):
        if name in present:
            present[name] = round(float(present[name]) / 100, 6)
    if base is None:
        return Objective(**present)
    return replace(base, **present)


def build(data: Mapping[str, Any]) -> Slo | None:
    """The objectives of a document ``check`` accepted, or ``None`` without ``x-slo``."""
    root = data.get("x-slo")
    if not isinstance(root, dict):
        return None
    default = _objective(root, None)
    found = []
    for url, method, operation in operations(data):
        raw = operation.get("x-slo", {})
        found.append(
            OperationSlo(
                operation_id=str(operation.get("operationId")),
                domain=operation_domain(operation),
                method=method.upper(),
                path=url,
                objective=None if raw is False else _objective(raw, default),
            )
        )
    return Slo(
        job=str(root["job"]),
        window=str(root["window"]),
        page_error_rate=round(float(root.get("pageErrorRate", 5)) / 100, 6),
        runbook=str(root.get("runbook", "docs/RUNBOOK.md")),
        operations=tuple(found),
    )
