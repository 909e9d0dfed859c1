from __future__ import annotations

from tests.conftest import find_secrets


def test_the_secret_scan_finds_tokens_passwords_and_authorization_values() -> None:
    line = (
        '{"event": "x", "token": "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJl"}'
    )
    assert find_secrets(line, "t")
    assert find_secrets("Authorization: Bearer abcdefgh12345678", "t")
    assert find_secrets("password=correct horse battery staple", "t")


def test_the_secret_scan_ignores_redacted_values_and_the_test_clients_own_log() -> None:
    assert not find_secrets('{"authorization": "[redacted]", "event": "request"}', "t")
    assert not find_secrets(
        '{"event": "HTTP Request: GET http://testserver/?access_token=eyJhbGciOiJFUzI1NiJ9.'
        'eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJl", "logger": "httpx2"}',
        "t",
    )
