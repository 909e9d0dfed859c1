"""Two apps in one process share nothing: each has its own clients, services and data."""

from __future__ import annotations

from pathlib import Path

from app import create_app
from app.config import Settings
from app.migrate import upgrade
from app.modules.projects.service import ProjectsServiceImpl
from app.wiring import extensions
from runtime import service
from runtime.testing import AppClients
from tests.integration.conftest import API, PASSWORD, make_settings, register_and_login


def test_two_apps_in_one_process_share_no_client_service_or_account(
    app_settings: Settings, tmp_path: Path, key_ring_file: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'second.db'}"
    upgrade(url)
    first = create_app(app_settings)
    second = create_app(make_settings(database_url=url, jwt_keys_file=key_ring_file))
    one, two = extensions(first.app), extensions(second.app)
    assert one.db.engine is not two.db.engine
    assert (one.redis is not None, two.redis) == (True, None)
    assert one.authenticator is not two.authenticator
    assert one.authenticator.denylist is not two.authenticator.denylist
    assert one.passwords is not two.passwords
    assert one.idempotency is not two.idempotency
    for app, ext in ((first, one), (second, two)):
        with app.app.test_request_context():
            projects = service(ProjectsServiceImpl)
            assert projects.repo.session.get_bind() is ext.db.engine

    with AppClients() as apps, apps.client(first) as a, apps.client(second) as b:
        account = register_and_login(a)
        login = {"email": account["email"], "password": PASSWORD}
        assert a.post(f"{API}/auth/token", json=login).status_code == 200
        assert b.post(f"{API}/auth/token", json=login).status_code == 401
        assert a.get(f"{API}/users/me", headers=account["headers"]).status_code == 200
        # The same key ring signs for both, but the second app's database never saw the user.
        assert b.get(f"{API}/users/me", headers=account["headers"]).status_code == 404
