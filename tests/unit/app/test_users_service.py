"""The users service's rules against in-memory repositories and a real password hasher."""

from __future__ import annotations

import uuid
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from app.common.errors import EmailAlreadyRegistered, UserNotFound, WrongPassword
from app.common.orm import utcnow
from app.modules.components import UserUpdate
from app.modules.users import schemas as us
from app.modules.users.models import User
from app.modules.users.service import UsersServiceImpl
from runtime.auth import Denylist, Principal
from runtime.errors import Forbidden
from runtime.passwords import Passwords
from tests.unit.app.fakes import (
    FakeRefreshTokenRepo,
    FakeRevocationRepo,
    FakeUserRepo,
    RecordingDenylist,
)

PASSWORD = "a long enough passphrase"
NEW_PASSWORD = "another long passphrase"
# WHY: the cheapest argon2 parameters; these tests check the rules, not the hash's cost.
CHEAP = {"memory_kib": 8, "time_cost": 1, "parallelism": 1}


@pytest.fixture
def service() -> UsersServiceImpl:
    users, refresh_tokens = FakeUserRepo(), FakeRefreshTokenRepo()
    return UsersServiceImpl(
        users=users,  # type: ignore[arg-type]
        refresh_tokens=refresh_tokens,  # type: ignore[arg-type]
        passwords=Passwords(**CHEAP),
        denylist=RecordingDenylist(FakeRevocationRepo(users, refresh_tokens)),
    )


def add_user(service: UsersServiceImpl, email: str, role: str = "user") -> User:
    return service.users.add(  # type: ignore[no-any-return]
        email=email, password_hash=service.passwords.hash(PASSWORD), role=role
    )


def caller(user: User) -> Principal:
    scopes = {"projects", "admin"} if user.role == "admin" else {"projects"}
    return Principal(subject=str(user.id), scopes=frozenset(scopes), token_id="t", expires_at=0)


def not_before_entry(user: User) -> tuple[str, str, int]:
    """What the cache is told: the user's not-before time, kept until every token issued
    before it is refused as expired (its lifetime plus the verifier's 30 s leeway)."""
    assert user.tokens_not_before is not None
    epoch = int(user.tokens_not_before.timestamp())
    return f"{Denylist.PREFIX}nbf:{user.id}", str(epoch), epoch + 900 + 30 + 1


def update(service: UsersServiceImpl, user: User, **change: str) -> us.UpdateMe200:
    body = UserUpdate.model_validate({"current_password": PASSWORD, **change})
    return service.update_me(us.UpdateMeRequest(caller=caller(user), body=body))


def test_get_me_answers_the_callers_own_account(service: UsersServiceImpl) -> None:
    ada = add_user(service, "ada@example.com")
    add_user(service, "grace@example.com")
    me = service.get_me(us.GetMeRequest(caller=caller(ada))).body
    assert (me.id, me.email, me.role.value, me.is_disabled) == (ada.id, ada.email, "user", False)
    assert me.created_at.tzinfo is not None and me.updated_at.tzinfo is not None


def test_an_account_deleted_under_a_valid_token_is_not_found(service: UsersServiceImpl) -> None:
    ghost = Principal(subject=str(uuid.uuid4()), scopes=frozenset(), token_id="t", expires_at=0)
    with pytest.raises(UserNotFound) as raised:
        service.get_me(us.GetMeRequest(caller=ghost))
    assert raised.value.detail == "The account no longer exists."


def test_changing_the_address_lower_cases_it_and_ends_no_login(service: UsersServiceImpl) -> None:
    ada = add_user(service, "ada@example.com")
    assert update(service, ada, new_email="Ada.L@Example.com").body.email == "ada.l@example.com"
    assert ada.email == "ada.l@example.com"
    assert ada.tokens_not_before is None
    assert service.denylist.cached == []  # type: ignore[attr-defined]


def test_an_address_another_account_has_is_a_conflict(service: UsersServiceImpl) -> None:
    ada = add_user(service, "ada@example.com")
    add_user(service, "grace@example.com")
    with pytest.raises(EmailAlreadyRegistered) as raised:
        update(service, ada, new_email="GRACE@example.com")
    assert raised.value.detail == "An account with this e-mail address exists."
    assert ada.email == "ada@example.com"
    # One's own address, in any case, is no conflict.
    assert update(service, ada, new_email="ADA@example.com").body.email == "ada@example.com"


def test_every_change_needs_the_current_password(service: UsersServiceImpl) -> None:
    ada = add_user(service, "ada@example.com")
    body = UserUpdate.model_validate(
        {"current_password": "not the passphrase", "new_email": "x@example.com"}
    )
    with pytest.raises(WrongPassword) as raised:
        service.update_me(us.UpdateMeRequest(caller=caller(ada), body=body))
    assert raised.value.detail == "The current password is wrong."
    assert ada.email == "ada@example.com"


def test_a_new_password_is_hashed_and_ends_every_login_from_the_next_second(
    service: UsersServiceImpl,
) -> None:
    ada = add_user(service, "ada@example.com")
    grace = add_user(service, "grace@example.com")
    mine = service.refresh_tokens.start_family(user_id=ada.id, expires_at=utcnow())
    theirs = service.refresh_tokens.start_family(user_id=grace.id, expires_at=utcnow())
    before = utcnow()
    update(service, ada, new_password=NEW_PASSWORD)
    after = utcnow()
    assert service.passwords.verify(ada.password_hash, NEW_PASSWORD).ok
    assert not service.passwords.verify(ada.password_hash, PASSWORD).ok
    assert before <= ada.password_changed_at <= after
    not_before = ada.tokens_not_before
    assert not_before is not None and not_before.microsecond == 0
    # The next whole second after the change, which happened between `before` and `after`.
    # WHY not `before + 1 s`: a change that straddled a second's edge ends logins from the
    # second after the later one.
    second = timedelta(seconds=1)
    assert before.replace(microsecond=0) + second <= not_before
    assert not_before <= after.replace(microsecond=0) + second
    assert service.denylist.cached == [not_before_entry(ada)]  # type: ignore[attr-defined]
    assert mine.revoked_at is not None and mine.revoked_reason == "password-change"
    assert theirs.revoked_at is None and grace.tokens_not_before is None


def test_only_an_administrator_lists_reads_or_disables_users(service: UsersServiceImpl) -> None:
    ada = add_user(service, "ada@example.com")
    path = {"user_id": ada.id}
    calls = [
        lambda: service.list_users(us.ListUsersRequest(caller=caller(ada))),
        lambda: service.get_user(us.GetUserRequest(caller=caller(ada), path=path)),
        lambda: service.disable_user(us.DisableUserRequest(caller=caller(ada), path=path)),
    ]
    for call in calls:
        with pytest.raises(Forbidden) as raised:
            call()
        assert raised.value.detail == "Only administrators may do this."
    assert not ada.is_disabled


def test_the_user_list_pages_oldest_first_with_a_next_link(service: UsersServiceImpl) -> None:
    admin = add_user(service, "admin@example.com", role="admin")
    others = [add_user(service, f"u{n}@example.com") for n in range(2)]
    query = us.ListUsersQuery(limit=2)
    first = service.list_users(us.ListUsersRequest(caller=caller(admin), query=query))
    assert [u.id for u in first.body.items] == [admin.id, others[0].id]
    assert first.body.next is not None
    url = urlsplit(first.body.next)
    assert url.path == "/api/v1/users"
    (cursor,), (limit,) = (parse_qs(url.query)[k] for k in ("cursor", "limit"))
    assert limit == "2"
    assert first.headers.link == f'<{first.body.next}>; rel="next"'
    query = us.ListUsersQuery(limit=2, cursor=cursor)
    last = service.list_users(us.ListUsersRequest(caller=caller(admin), query=query))
    assert [u.id for u in last.body.items] == [others[1].id]
    assert last.body.next is None and last.headers.link is None


def test_an_administrator_reads_and_disables_a_user_and_ends_their_logins(
    service: UsersServiceImpl,
) -> None:
    admin = add_user(service, "admin@example.com", role="admin")
    ada = add_user(service, "ada@example.com")
    login = service.refresh_tokens.start_family(user_id=ada.id, expires_at=utcnow())
    path = {"user_id": ada.id}
    read = service.get_user(us.GetUserRequest(caller=caller(admin), path=path)).body
    assert (read.id, read.email) == (ada.id, ada.email)
    disabled = service.disable_user(us.DisableUserRequest(caller=caller(admin), path=path)).body
    assert disabled.is_disabled and ada.is_disabled
    assert login.revoked_reason == "disabled"
    assert ada.tokens_not_before is not None
    assert service.denylist.cached == [not_before_entry(ada)]  # type: ignore[attr-defined]
    assert not admin.is_disabled


def test_a_password_change_and_a_disable_read_the_account_under_a_row_lock(
    service: UsersServiceImpl,
) -> None:
    """A login in flight holds the same lock, so it commits first or reads the change
    (tests/integration/test_security_login_race.py plays the race on PostgreSQL)."""
    admin = add_user(service, "admin@example.com", role="admin")
    ada = add_user(service, "ada@example.com")
    service.get_me(us.GetMeRequest(caller=caller(ada)))
    assert service.users.locked == []  # type: ignore[attr-defined]
    update(service, ada, new_password=NEW_PASSWORD)
    service.disable_user(us.DisableUserRequest(caller=caller(admin), path={"user_id": ada.id}))
    assert service.users.locked == [str(ada.id), str(ada.id)]  # type: ignore[attr-defined]


def test_an_unknown_user_is_not_found_for_reading_and_disabling(
    service: UsersServiceImpl,
) -> None:
    admin = add_user(service, "admin@example.com", role="admin")
    missing = uuid.uuid4()
    path = {"user_id": missing}
    for call in (
        lambda: service.get_user(us.GetUserRequest(caller=caller(admin), path=path)),
        lambda: service.disable_user(us.DisableUserRequest(caller=caller(admin), path=path)),
    ):
        with pytest.raises(UserNotFound) as raised:
            call()
        assert raised.value.detail == f"There is no user {missing}."
