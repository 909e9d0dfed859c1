from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any
from unittest.mock import ANY

import pytest
import structlog

from runtime.logging import REDACTED, configure_logging, get_logger, redact_secrets

JWT = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln"


def test_fields_named_like_secrets_are_redacted_whatever_their_value() -> None:
    event = redact_secrets(
        None, "info", {"password": "x", "refresh_token": "y", "Authorization": "z"}
    )
    assert set(event.values()) == {REDACTED}


def test_credentials_inside_text_are_redacted_and_the_rest_kept() -> None:
    event = redact_secrets(
        None, "info", {"event": "failed", "detail": f"header was Bearer {JWT} here", "n": 3}
    )
    assert event == {"event": "failed", "detail": f"header was {REDACTED} here", "n": 3}
    assert redact_secrets(None, "info", {"event": f"got {JWT}"})["event"] == f"got {REDACTED}"


def test_ordinary_values_pass_untouched() -> None:
    event = {"event": "request", "path": "/api/v1/projects", "status": 200}
    assert redact_secrets(None, "info", dict(event)) == event


@pytest.fixture
def lines(capsys: pytest.CaptureFixture[str]) -> Iterator[Callable[[], list[str]]]:
    """Configures JSON logs at INFO; the fixture reads the lines written to stderr since."""
    configure_logging(level="INFO", json=True)

    def read() -> list[str]:
        err = capsys.readouterr().err
        sys.stderr.write(err)  # back into the captured stderr, which the secret scan reads
        return err.splitlines()

    yield read
    structlog.contextvars.clear_contextvars()
    configure_logging(level="INFO", json=True)


def records(read: Callable[[], list[str]]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in read()]


def test_a_line_is_one_json_object_with_context_level_logger_and_time(
    lines: Callable[[], list[str]],
) -> None:
    structlog.contextvars.bind_contextvars(request_id="req-1")
    get_logger("runtime.test").info("request", method="GET", status=200)
    [line] = records(lines)
    assert line["event"] == "request" and line["method"] == "GET" and line["status"] == 200
    assert line["request_id"] == "req-1"
    assert line["level"] == "info" and line["logger"] == "runtime.test"
    assert datetime.fromisoformat(line["timestamp"]).utcoffset() == timedelta(0)


def test_the_line_is_rendered_as_the_standard_library_json_renders_it(
    lines: Callable[[], list[str]],
) -> None:
    get_logger("runtime.test").info("request", path="/x", status=200)
    [line] = lines()
    assert line.startswith('{"path": "/x", "status": 200, "event": "request", "level": "info"')


def test_secrets_are_redacted_on_the_way_out(lines: Callable[[], list[str]]) -> None:
    get_logger("runtime.test").warning(
        f"rejected {JWT}", password="hunter2", authorization=f"Bearer {JWT}"
    )
    [raw] = lines()
    line = json.loads(raw)
    assert line["event"] == f"rejected {REDACTED}"
    assert line["password"] == REDACTED and line["authorization"] == REDACTED
    assert "hunter2" not in raw and JWT not in raw


def test_lines_below_the_level_are_dropped(lines: Callable[[], list[str]]) -> None:
    log = get_logger("runtime.test")
    log.debug("hidden")
    log.info("shown")
    assert [line["event"] for line in records(lines)] == ["shown"]


def test_a_later_configuration_reaches_loggers_already_used(
    lines: Callable[[], list[str]],
) -> None:
    log = get_logger("runtime.test")
    log.info("cached now")
    configure_logging(level="DEBUG", json=True)
    log.debug("debug now shown")
    configure_logging(level="WARNING", json=False)
    log.info("info now hidden")
    log.warning("as console text")
    first, second, third = lines()
    assert json.loads(first)["event"] == "cached now"
    assert json.loads(second)["event"] == "debug now shown"
    assert "as console text" in third and not third.startswith("{")


def test_a_logger_taken_before_configuration_follows_it(
    lines: Callable[[], list[str]],
) -> None:
    structlog.reset_defaults()
    early = get_logger("runtime.early")
    configure_logging(level="INFO", json=True)
    early.info("configured")
    assert records(lines) == [
        {"event": "configured", "level": "info", "logger": "runtime.early", "timestamp": ANY}
    ]


def test_an_exception_is_rendered_as_a_traceback(lines: Callable[[], list[str]]) -> None:
    log = get_logger("runtime.test")
    try:
        raise ValueError("boom")
    except ValueError as exc:
        log.error("failed", exc_info=exc)
        log.exception("failed again")
    for line in records(lines):
        assert line["level"] == "error"
        assert line["exception"].startswith("Traceback (most recent call last):")
        assert "ValueError: boom" in line["exception"]


def test_a_token_quoted_in_an_exception_is_redacted_in_the_traceback(
    lines: Callable[[], list[str]],
) -> None:
    configure_logging(level="INFO", json=True)
    try:
        raise ValueError(f"bad header Bearer {JWT}")
    except ValueError as exc:
        get_logger("runtime.test").error("failed", exc_info=exc)
        logging.getLogger("connexion.test").exception("failed")
    for line in records(lines):
        assert "ValueError: bad header [redacted]" in line["exception"]
        assert JWT not in json.dumps(line)


def test_a_value_json_cannot_encode_still_gives_a_line(lines: Callable[[], list[str]]) -> None:
    get_logger("runtime.test").info("odd", mapping={(1, 2): "tuple key"})
    [line] = records(lines)
    assert line["event"] == "odd" and "tuple key" in line["mapping"]


def test_a_value_whose_repr_raises_still_gives_a_line(lines: Callable[[], list[str]]) -> None:
    class Broken:
        def __repr__(self) -> str:
            raise KeyError("no repr")

    get_logger("runtime.test").info("odd", value=Broken())
    [line] = records(lines)
    assert line["event"] == "odd" and line["value"] == "<unrepresentable Broken>"


def test_standard_library_records_share_the_format_and_redaction(
    lines: Callable[[], list[str]],
) -> None:
    # WHY configured again here: logging.StreamHandler keeps the sys.stderr of its creation, and
    # pytest gives each phase (the fixture's setup, the test) a new one.
    configure_logging(level="INFO", json=True)
    logging.getLogger("connexion.test").warning("header was Bearer %s", JWT)
    [line] = records(lines)
    assert line == {
        "event": f"header was {REDACTED}",
        "level": "warning",
        "logger": "connexion.test",
        "timestamp": ANY,
    }
