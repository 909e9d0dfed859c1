"""Rate-limit policies of a spec as the runtime receives them: through codegen's grammar."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from codegen.policies import check, rate_limits
from codegen.spec import operations
from runtime.ratelimit import Policy, rate_limit_policies


def policies_from_spec(document: dict[str, Any]) -> dict[str, tuple[Policy, ...]]:
    """What the generated ``POLICIES`` table of ``document`` gives the rate limiter."""
    found = [
        (operation, check(operation, ("paths", path, method)))
        for path, method, operation in operations(document)
    ]
    issues = [issue for _, located in found for issue in located] + check(document, ())
    assert not issues, issues
    return rate_limit_policies(
        {
            str(operation["operationId"]): {
                "rate_limits": [asdict(limit) for limit in rate_limits(operation, document)]
            }
            for operation, _ in found
        }
    )
