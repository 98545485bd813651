"""The API app and the RQ workers run with the app's objects frozen and a higher GC threshold.

Each case runs in a fresh interpreter (the way granian imports ``plugin.wsgi`` and ``server.py
worker`` calls ``run_worker``) and reports its collector's state; ``AUTOMATION_GC_TUNING=0``
leaves CPython's defaults.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from plugin.processes import GC_THRESHOLD
from tests.conftest import ROOT, app_env

REPORT = "import gc, json; print(json.dumps([list(gc.get_threshold()), gc.get_freeze_count()]))"
CASES = {
    "api": "import plugin.wsgi; " + REPORT,
    "worker": "from plugin.processes import run_worker; run_worker(burst=True); " + REPORT,
}


def state(case: str, env: dict) -> tuple[tuple, int]:
    out = subprocess.run(
        [sys.executable, "-c", CASES[case]],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    threshold, frozen = json.loads(out.stdout.strip().splitlines()[-1])
    return tuple(threshold), frozen


@pytest.mark.parametrize("case", sorted(CASES))
def test_server_processes_freeze_the_app_and_collect_less_often(case, tmp_path, redis_url):
    env = {**os.environ, **app_env(f"sqlite:///{tmp_path / 'gc.db'}", redis_url, tmp_path / "data")}
    if case == "worker":
        subprocess.run(
            [sys.executable, str(ROOT / "server.py"), "migrate"],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            timeout=120,
        )
    threshold, frozen = state(case, env)
    assert threshold == GC_THRESHOLD
    assert frozen > 50_000  # the app's own objects (~140,000 for the API)

    threshold, frozen = state(case, {**env, "AUTOMATION_GC_TUNING": "0"})
    assert threshold == (700, 10, 10) and frozen == 0
