"""Fixtures of the adversarial tests: an app per module, and the markers of leaked internals."""

from __future__ import annotations

import re
import uuid

import pytest

from tests.conftest import TOKEN, app_env, leased_redis_db, make_app

# What must never reach a rendered message, a run trace or an error message.
LEAK = re.compile(
    r"<class |<module |<function |<built-in |<bound method |<generator |<Template|TemplateReference|"
    r" object at 0x|__[a-z]+__|jinja2\.|Environment|SECRET_KEY|" + re.escape(TOKEN)
)


def leaks(text: str, *secrets: str) -> list[str]:
    """The leak markers and secret values found in ``text``."""
    found = LEAK.findall(text or "")
    found += [s for s in secrets if s and s in (text or "")]
    return found


@pytest.fixture(scope="module")
def module_redis_url():
    """A Redis database for the whole module, leased like tests.conftest's ``redis_url`` (db 1–14)."""
    with leased_redis_db() as url:
        yield url


@pytest.fixture(scope="module")
def module_app(tmp_path_factory, module_redis_url):
    """One SQLite-backed app for a module of many small API calls (templating does not touch the DB)."""
    data = tmp_path_factory.mktemp("data")
    app = make_app(app_env(f"sqlite:///{data / 'automation.db'}", module_redis_url, data))
    yield app
    from plugin.api.extensions import db

    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(scope="module")
def api(module_app):
    client = module_app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {TOKEN}"
    return client


def isolated_env(database_url: str, redis_url: str, data_dir, **extra) -> dict:
    """``app_env`` with a queue of its own: a worker left running by an earlier, killed test run on the
    same Redis database (it may run older code) never takes this test's jobs."""
    return app_env(
        database_url, redis_url, data_dir, AUTOMATION_QUEUE=f"automation-{uuid.uuid4().hex[:8]}", **extra
    )


@pytest.fixture
def env(database_url, redis_url, tmp_path):
    return isolated_env(database_url, redis_url, tmp_path / "data")
