"""Claims: a dispatcher takes at most its batch of events, and concurrent dispatchers never share one."""

from __future__ import annotations

import threading

from sqlalchemy import insert

from plugin.api.extensions import db
from plugin.engine.claim import claim_events
from plugin.storage.models import Event, utcnow


def _events(count: int) -> None:
    now = utcnow()
    db.session.execute(
        insert(Event),
        [
            {"trigger": "order_days_since_created", "subject_id": f"o{i}", "data": {}, "created_at": now}
            for i in range(count)
        ],
    )
    db.session.commit()


def test_a_claim_takes_at_most_its_limit(app):
    """On a fresh (never analysed) PostgreSQL table a plain ``IN (SELECT … LIMIT … SKIP LOCKED)``
    may be rescanned per row and claim every pending event; the claim must stay bounded."""
    with app.app_context():
        _events(1050)
        sizes = []
        while ids := claim_events(db.session, 200, 60):
            sizes.append(len(ids))
        assert sizes == [200, 200, 200, 200, 200, 50]


def test_concurrent_claims_are_disjoint(app):
    with app.app_context():
        _events(1000)
    claimed: list[list[int]] = []
    errors: list[BaseException] = []

    def worker():
        try:
            with app.app_context():
                while ids := claim_events(db.session, 50, 60):
                    claimed.append(ids)
                db.session.remove()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    every = [i for ids in claimed for i in ids]
    assert len(every) == len(set(every)) == 1000
    assert max(len(ids) for ids in claimed) <= 50
