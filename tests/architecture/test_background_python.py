"""The workers and the scheduler run with ``python -OO`` (plugin/processes.py, ``BACKGROUND_PYTHON``):
docstrings are dropped, and so are ``assert`` statements — so the product must not rely on either."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

from plugin import processes

ROOT = Path(__file__).resolve().parents[2]


def _sources():
    for path in sorted((ROOT / "plugin").rglob("*.py")):
        yield path, ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def test_workers_and_scheduler_are_started_with_docstrings_and_asserts_dropped():
    assert (sys.executable, "-OO") == processes.BACKGROUND_PYTHON


def test_the_product_holds_no_assert():
    found = [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for path, tree in _sources()
        for node in ast.walk(tree)
        if isinstance(node, ast.Assert)
    ]
    assert found == [], "python -OO drops these: raise an exception instead"


def test_the_product_never_reads_a_docstring():
    found = [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for path, tree in _sources()
        for node in ast.walk(tree)
        if (isinstance(node, ast.Attribute) and node.attr == "__doc__")
        or (isinstance(node, ast.Name) and node.id == "__doc__")
        or (isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "getdoc")
    ]
    assert found == [], "python -OO leaves __doc__ None in the workers"


def test_a_worker_starts_under_minus_oo(tmp_path):
    """The worker's start-up (its context, registry, engine) and its hot path's modules load under
    -OO, docstrings gone."""
    code = (
        "import json, sys\n"
        "import plugin.cli, plugin.processes\n"
        "from plugin.jobs import worker\n"
        "ctx = worker.context()\n"
        "plugin.processes._stopping_worker_class()\n"
        "import plugin.engine.batch, plugin.engine.settlers, plugin.transport.lean_http\n"
        "import plugin.nodes.actions.webhook\n"
        "print(json.dumps({'optimize': sys.flags.optimize, 'doc': plugin.engine.batch.__doc__,"
        " 'nodes': len(ctx.runtime.registry)}))\n"
    )
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'w.db'}",
        "REDIS_URL": os.environ.get("AUTOMATION_TEST_REDIS_URL", "redis://127.0.0.1:6379/15"),
    }
    done = subprocess.run(
        [*processes.BACKGROUND_PYTHON, "-c", code],
        cwd=ROOT,
        env=env,
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["optimize"] == 2 and report["doc"] is None
    assert report["nodes"] >= 28
