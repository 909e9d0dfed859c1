from __future__ import annotations

from app.modules import operations
from runtime.routing import Registry


def test_the_generated_registry_module_is_read_whole() -> None:
    facts = Registry.from_module(operations)
    assert facts.routes["getProject"] == ("GET", "/projects/{project_id}")
    assert facts.methods_by_path["/projects"] == ("GET", "HEAD", "POST")
    assert facts.base_path == "/api/v1"
    assert set(facts.policies) == set(facts.operations) == set(facts.routes)


def test_cors_and_the_allow_header_read_the_methods_the_registry_lists() -> None:
    facts = Registry.from_module(operations)
    assert facts.methods() == ["DELETE", "GET", "HEAD", "PATCH", "POST"]
    assert facts.operation_at("GET", "/readyz") == "getReadiness"
