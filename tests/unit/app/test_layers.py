"""The import rules of the reference app, read from its source: domains depend one way, and
hand-written code reaches the runtime through its public surface."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parents[3] / "app"
DOMAINS = ("auth", "ops", "projects", "tasks", "users")
# Who may import whom; nothing else crosses a domain boundary.
ALLOWED = {("auth", "users"), ("tasks", "projects")}
GENERATED = ("routes.py", "schemas.py", "components.py", "operations.py")


def imported(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    names |= {
        node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
    }
    return names


@pytest.mark.parametrize("domain", DOMAINS)
def test_a_domain_imports_only_the_domains_it_is_allowed_to(domain: str) -> None:
    for path in (APP / "modules" / domain).glob("*.py"):
        for module in imported(path):
            parts = module.split(".")
            if parts[:2] == ["app", "modules"] and len(parts) > 2 and parts[2] in DOMAINS:
                other = parts[2]
                assert other == domain or (domain, other) in ALLOWED, f"{path}: {module}"


def test_hand_written_code_imports_the_runtime_from_its_public_surface() -> None:
    for path in APP.rglob("*.py"):
        if path.name in GENERATED:
            continue
        deep = sorted(m for m in imported(path) if m.startswith("runtime."))
        assert not deep, f"{path.relative_to(APP.parent)} imports {deep}"
