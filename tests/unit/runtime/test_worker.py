from __future__ import annotations

import pytest
from gunicorn.util import load_class

from runtime.worker import worker_class


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_the_worker_class_gunicorn_loads_runs_that_loop(loop: str) -> None:
    cls = load_class(worker_class(loop))  # type: ignore[arg-type]
    assert cls.CONFIG_KWARGS["loop"] == loop
