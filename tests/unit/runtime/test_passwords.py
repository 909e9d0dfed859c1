from __future__ import annotations

import pytest

from runtime.passwords import Passwords


@pytest.fixture(scope="module")
def passwords() -> Passwords:
    return Passwords(memory_kib=1024, time_cost=1)


def test_a_hash_is_argon2id_and_verifies_only_its_password(passwords: Passwords) -> None:
    stored = passwords.hash("correct horse battery")
    assert stored.startswith("$argon2id$")
    assert passwords.verify(stored, "correct horse battery").ok
    assert not passwords.verify(stored, "correct horse batterY").ok


def test_an_unknown_account_fails_like_a_wrong_password(passwords: Passwords) -> None:
    assert passwords.verify(None, "whatever it is") == passwords.verify(
        passwords.hash("other"), "whatever it is"
    )


def test_a_hash_made_with_weaker_parameters_asks_to_be_rehashed(passwords: Passwords) -> None:
    weak = Passwords(memory_kib=512, time_cost=1).hash("correct horse battery")
    result = passwords.verify(weak, "correct horse battery")
    assert result.ok and result.needs_rehash
    assert not passwords.verify(passwords.hash("x" * 12), "x" * 12).needs_rehash


def test_garbage_in_the_stored_hash_is_a_failed_login_not_an_error(passwords: Passwords) -> None:
    assert not passwords.verify("not-a-hash", "anything").ok


def test_default_parameters_are_owasps_argon2id_minimum() -> None:
    stored = Passwords().hash("correct horse battery")
    assert "$m=19456,t=2,p=1$" in stored
