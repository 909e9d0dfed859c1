from __future__ import annotations

from runtime.logging import REDACTED, redact_secrets

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
