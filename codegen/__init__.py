"""Contract-first code generator: openapi.yaml → typed Flask adapters and schemas."""

from __future__ import annotations

__version__ = "0.1.0"
