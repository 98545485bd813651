"""Fixtures of the adversarial tests: an app per module, and the markers of leaked internals."""

from __future__ import annotations

import re
import time
import uuid

import pytest
import redis as redis_lib

from tests.conftest import REDIS_BASE, TOKEN, app_env, make_app

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
    admin = redis_lib.Redis.from_url(f"{REDIS_BASE}/0")
    token, deadline, db = uuid.uuid4().hex, time.monotonic() + 60, None
    while db is None:
        db = next(
            (n for n in range(1, 15) if admin.set(f"automation-test:lease:{n}", token, nx=True, ex=1800)),
            None,
        )
        if db is None:
            if time.monotonic() > deadline:
                raise RuntimeError("no free Redis test database (1–14)")
            time.sleep(0.2)
    url = f"{REDIS_BASE}/{db}"
    client = redis_lib.Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()
    client.close()
    if admin.get(f"automation-test:lease:{db}") == token.encode():
        admin.delete(f"automation-test:lease:{db}")
    admin.close()


@pytest.fixture(scope="module")
def module_app(tmp_path_factory, module_redis_url):
    """One SQLite-backed app for a module of many small API calls (templating does not touch the DB)."""
    data = tmp_path_factory.mktemp("data")
    app = make_app(app_env(f"sqlite:///{data / 'automation.db'}", module_redis_url, data))
    yield app
    from plugin.extensions import db

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
