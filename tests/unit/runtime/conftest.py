"""Fixtures shared by the runtime's unit tests."""

from __future__ import annotations

import time

import pytest


@pytest.fixture
def mid_window_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """The test runs 15.5 s into a minute, on a clock that stands still.

    WHY: the in-memory sliding window is aligned to the wall clock and floors the previous
    window's weighted count, so a hit just past a window's edge counts the previous window's
    hits as one fewer: on a running clock, "1/second" let a second request through whenever
    the two straddled a second (and at a minute's last second two limits reset together).
    """
    monkeypatch.setattr(time, "time", lambda: 1_800_000_000.0 + 15.5)
