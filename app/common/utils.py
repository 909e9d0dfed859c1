"""What the domains share beyond the runtime: the API's path prefix."""

from __future__ import annotations

from app.modules.operations import BASE_PATH

API_PREFIX = BASE_PATH
