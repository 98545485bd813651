"""Paid orders attributed to scenarios (engine/attribution.py) and read back (engine/conversions.py):
known runs, steps and orders in the database, and the numbers per scenario, branch and day exactly."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import insert, select, update

from plugin.api.extensions import db
from plugin.engine.attribution import SETTLE, attribute, branch_of, catch_up, watermark
from plugin.engine.conversions import conversions, revenue_total, top_revenue
from plugin.storage.models import Flow, Order, Run, Step, utcnow
from plugin.storage.stats_models import Conversion, ConversionOrder
from tests.engine.test_ingest_and_runs import drain

P = datetime(2026, 3, 10, 12, 0)  # the payment instant most orders share (naive UTC, 15:00 in Moscow)
DAY = timedelta(days=1)
PERIOD = (P - 30 * DAY, P + DAY)

F1_NODES = [
    {"id": "start", "type": "event.order_created", "params": {}},
    {"id": "email", "type": "action.email", "name": "Письмо", "params": {}},
    {"id": "sms", "type": "action.sms", "params": {}},
]
F2_NODES = [
    {"id": "start", "type": "event.order_created", "params": {}},
    {"id": "split", "type": "flow.split", "params": {}},
    {"id": "a_email", "type": "action.email", "params": {}},
    {"id": "b_sms", "type": "action.sms", "params": {}},
]


def _flow(flow_id: str, name: str, nodes: list[dict]) -> None:
    db.session.add(
        Flow(
            id=flow_id,
            name=name,
            event_type="order_created",
            definition={"name": name, "nodes": nodes, "edges": []},
        )
    )


def _run(
    run_id: str,
    flow_id: str,
    client: str | None,
    at: datetime,
    action: str = "email",
    *,
    action_status: str = "succeeded",
    status: str = "succeeded",
    trigger: str = "event",
    counted: bool = True,
    variant: str | None = None,
    then: list[tuple[str, str, datetime]] = (),
) -> None:
    """A run whose action step ``action`` ended at ``at`` (after a split choosing ``variant``), and
    then the steps ``then`` (node, status, end)."""
    created = at - timedelta(minutes=5)
    # as the engine records it (settle.py, execution.py): the variant, else the first succeeded action
    reached = [
        node for node, st in [(action, action_status), *((n, s) for n, s, _ in then)] if st == "succeeded"
    ]
    branch = (variant or reached[0]) if reached and counted else None
    db.session.execute(
        insert(Run).values(
            id=run_id,
            branch=branch,
            flow_id=flow_id,
            flow_name=flow_id,
            definition={},
            trigger=trigger,
            event_type="order_created",
            status=status,
            triggered=counted,
            counted=counted,
            context={},
            client_id=client,
            created_at=created,
            updated_at=at,
            finished_at=at,
        )
    )
    steps = [("start", "event.order_created", "succeeded", None, created)]
    if variant is not None:
        steps.append(("split", "flow.split", "succeeded", {"variant": variant}, created))
    steps.append((action, f"action.{action.rsplit('_', 1)[-1]}", action_status, {"sent": True}, at))
    steps += [(node, f"action.{node.rsplit('_', 1)[-1]}", st, {}, end) for node, st, end in then]
    db.session.execute(
        insert(Step),
        [
            {
                "run_id": run_id,
                "node_id": n,
                "node_type": t,
                "status": s,
                "output": o,
                "finished_at": f,
                "state": {},
            }
            for n, t, s, o, f in steps
        ],
    )


def _order(order_id: str, client: str | None, paid_at: datetime | None, price: float | None) -> None:
    db.session.add(
        Order(
            id=order_id,
            client_id=client,
            price=price,
            status="Оплачен" if paid_at else "Новый",
            status_group="paid" if paid_at else "in_work",
            paid_at=paid_at,
            created_at=(paid_at or P) - 20 * DAY,
        )
    )


def _known_data() -> None:
    """F1 (no split: branches are its action nodes) and F2 (a split: branches A and B)."""
    _flow("F1", "Письмо после заказа", F1_NODES)
    _flow("F2", "Сплит-тест", F2_NODES)
    # c1: F1 touched twice (the last touch counts), F2 too: o1 counts for both scenarios
    _run("r0", "F1", "c1", P - 5 * DAY, "sms")
    _run("r1", "F1", "c1", P - 2 * DAY, "email")
    _run("r2", "F2", "c1", P - DAY, "a_email", variant="A")
    _order("o1", "c1", P, 1000.0)
    # c2: touched 10 days before paying: outside a 7-day window, inside a 14-day one
    _run("r3", "F1", "c2", P - 10 * DAY, "sms")
    _order("o2", "c2", P, 500.0)
    # c3: touched an hour after paying; c4: only by a test send; c5: only by a failed action
    _run("r4", "F1", "c3", P + timedelta(hours=1), "email")
    _order("o3", "c3", P, 700.0)
    _run("r5", "F1", "c4", P - DAY, trigger="test")
    _order("o4", "c4", P, 300.0)
    _run("r6", "F1", "c5", P - DAY, action_status="failed", status="failed")
    _order("o5", "c5", P, 200.0)
    # c6: paid 3 days earlier, touched the day before that
    _run("r7", "F1", "c6", P - 4 * DAY, "email")
    _order("o6", "c6", P - 3 * DAY, 900.0)
    # c7 (bought) and c8 (did not) on F2's variant B; o7 is paid at 01:30 of March 11 in Moscow
    _run("r8", "F2", "c7", P - DAY, "b_sms", variant="B")
    _order("o7", "c7", P + timedelta(hours=10, minutes=30), 250.0)
    _run("r9", "F2", "c8", P - DAY, "b_sms", variant="B")
    # no client, no price, not paid
    _order("o8", None, P, 100.0)
    _order("o9", "c7", None, 100.0)
    db.session.commit()


def _rows() -> dict[tuple[str, str], tuple]:
    c = Conversion.__table__.c
    rows = db.session.execute(
        select(c.flow_id, c.order_id, c.run_id, c.branch, c.touched_at, c.paid_at, c.revenue)
    )
    return {(f, o): tuple(rest) for f, o, *rest in rows}


def test_known_data_counts_exactly_per_scenario_branch_and_day(app):
    with app.app_context():
        _known_data()
        assert attribute(db.session, now=P + DAY) == 5
        assert _rows() == {
            ("F1", "o1"): ("r1", "email", P - 2 * DAY, P, 1000.0),
            ("F2", "o1"): ("r2", "A", P - DAY, P, 1000.0),
            ("F1", "o2"): ("r3", "sms", P - 10 * DAY, P, 500.0),
            ("F1", "o6"): ("r7", "email", P - 4 * DAY, P - 3 * DAY, 900.0),
            ("F2", "o7"): ("r8", "B", P - DAY, P + timedelta(hours=10, minutes=30), 250.0),
        }

        f1 = conversions(db.session, "F1", *PERIOD)
        days = {d["t"]: (d["converted"], d["revenue"]) for d in f1.pop("by_day")}
        assert f1 == {
            "window_days": 7,
            "clients_reached": 4,  # c1, c2, c3, c6: not the test send to c4 nor the failed one to c5
            "converted": 2,
            "revenue": 1900.0,
            "by_branch": {
                "email": {"label": "Письмо", "clients_reached": 3, "converted": 2, "revenue": 1900.0},
                "sms": {"label": "action.sms", "clients_reached": 2, "converted": 0, "revenue": 0.0},
            },
        }
        assert len(days) == 32 and min(days) == "2026-02-08" and max(days) == "2026-03-11"
        assert {t: v for t, v in days.items() if v != (0, 0.0)} == {
            "2026-03-07": (1, 900.0),
            "2026-03-10": (1, 1000.0),
        }

        f1_14 = conversions(db.session, "F1", *PERIOD, window_days=14)
        assert (f1_14["converted"], f1_14["revenue"]) == (3, 2400.0)
        assert f1_14["by_branch"]["sms"] == {
            "label": "action.sms",
            "clients_reached": 2,
            "converted": 1,
            "revenue": 500.0,
        }

        f2 = conversions(db.session, "F2", *PERIOD)
        assert {k: f2[k] for k in ("clients_reached", "converted", "revenue")} == {
            "clients_reached": 3,
            "converted": 2,
            "revenue": 1250.0,
        }
        assert f2["by_branch"] == {
            "A": {"label": "A", "clients_reached": 1, "converted": 1, "revenue": 1000.0},
            "B": {"label": "B", "clients_reached": 2, "converted": 1, "revenue": 250.0},
        }
        moscow = {d["t"]: d["revenue"] for d in f2["by_day"] if d["converted"]}
        utc = {
            d["t"]: d["revenue"]
            for d in conversions(db.session, "F2", *PERIOD, tz="UTC")["by_day"]
            if d["converted"]
        }
        assert moscow == {"2026-03-10": 1000.0, "2026-03-11": 250.0} and utc == {"2026-03-10": 1250.0}

        # the overview: o1 is one order however many scenarios it counts for
        assert revenue_total(db.session, *PERIOD) == (3, 2150.0)
        assert revenue_total(db.session, *PERIOD, window_days=14) == (4, 2650.0)
        assert top_revenue(db.session, *PERIOD) == [
            {"id": "F1", "name": "Письмо после заказа", "value": 1900.0},
            {"id": "F2", "name": "Сплит-тест", "value": 1250.0},
        ]
        assert top_revenue(db.session, *PERIOD, limit=1) == [
            {"id": "F1", "name": "Письмо после заказа", "value": 1900.0}
        ]
        # the period is of payments: o6 (paid 3 days before P) is outside [P - 1 day, P + 1 day)
        assert conversions(db.session, "F1", P - DAY, P + DAY)["converted"] == 1


def test_the_window_is_a_duration_with_both_ends_inside(app):
    with app.app_context():
        _flow("F1", "x", F1_NODES)
        _run("r1", "F1", "c1", P - 7 * DAY, "email")
        _run("r2", "F1", "c2", P - 7 * DAY - timedelta(seconds=1), "email")
        _run("r3", "F1", "c3", P, "email")  # touched at the instant of payment
        for n in (1, 2, 3):
            _order(f"o{n}", f"c{n}", P, 10.0 * n)
        db.session.commit()
        assert attribute(db.session, now=P + DAY) == 3
        assert conversions(db.session, "F1", *PERIOD)["revenue"] == 40.0  # o1 and o3
        assert conversions(db.session, "F1", *PERIOD, window_days=8)["revenue"] == 60.0
        assert conversions(db.session, "F1", *PERIOD, window_days=0)["revenue"] == 30.0
        with pytest.raises(ValueError, match="window_days"):
            conversions(db.session, "F1", *PERIOD, window_days=91)


def test_two_passes_store_each_order_once_per_scenario(app):
    with app.app_context():
        _known_data()
        assert attribute(db.session, now=P + DAY) == 5
        before = _rows()
        assert attribute(db.session, now=P + DAY) == 0
        assert attribute(db.session, now=P + DAY + timedelta(minutes=1)) == 0
        assert _rows() == before

        # o6 goes back to work and is paid again (the integration gives a new paid_at); F1 touched
        # c6 again in between. It is read again, and still counts once, as first attributed
        db.session.execute(update(Order).where(Order.id == "o6").values(status_group="in_work"))
        db.session.commit()
        _run("r10", "F1", "c6", P + DAY + timedelta(minutes=10), "sms")
        db.session.execute(
            update(Order)
            .where(Order.id == "o6")
            .values(status_group="paid", paid_at=P + DAY + timedelta(minutes=20))
        )
        db.session.commit()
        assert attribute(db.session, now=P + DAY + timedelta(minutes=30)) == 0
        assert _rows() == before
        assert conversions(db.session, "F1", *PERIOD)["converted"] == 2


def test_a_run_that_reached_the_client_is_a_touch_even_if_a_later_step_failed_or_waits(app):
    """The touch is the action step that reached the client, not the run's end: a run that
    emailed and then failed its SMS, or waits 3 days before its reminder, touched at the email."""
    with app.app_context():
        _flow("F1", "x", F1_NODES)
        _run("r1", "F1", "c1", P - DAY, "email", status="failed", then=[("sms", "failed", P - DAY)])
        _run("r2", "F1", "c2", P - DAY, "email", status="waiting", then=[("sms", "waiting", None)])
        _run("r3", "F1", "c3", P - DAY, "email", counted=False)  # not counted: no touch
        for n in (1, 2, 3):
            _order(f"o{n}", f"c{n}", P, 100.0)
        db.session.commit()
        assert attribute(db.session, now=P + DAY) == 2
        assert set(_rows()) == {("F1", "o1"), ("F1", "o2")}
        result = conversions(db.session, "F1", *PERIOD)
        assert (result["clients_reached"], result["by_branch"]["email"]["clients_reached"]) == (2, 2)


def test_branch_of_prefers_the_split_variant_then_the_first_succeeded_action(app):
    with app.app_context():
        _flow("F1", "x", F1_NODES)
        _run("v", "F1", "c1", P, "a_email", variant="B")
        # the sms ended before the email: it is the first action
        _run("a", "F1", "c1", P, "email", then=[("sms", "succeeded", P - timedelta(minutes=1))])
        _run("f", "F1", "c1", P, "email", action_status="failed", then=[("sms", "succeeded", P)])
        _run("n", "F1", "c1", P, "email", action_status="skipped")
        db.session.commit()
        assert branch_of(db.session, ["v", "a", "f", "n", "missing"]) == {"v": "B", "a": "sms", "f": "sms"}


def test_a_conversion_takes_the_runs_recorded_branch_else_its_steps(app):
    with app.app_context():
        _flow("F1", "x", F1_NODES)
        _run("r1", "F1", "c1", P - DAY, "email")
        _run("r2", "F1", "c2", P - DAY, "email")
        # r1 as the engine recorded it (graph order may differ from the steps' ends); r2 reached
        # its client before runs had a branch
        db.session.execute(update(Run).where(Run.id == "r1").values(branch="sms"))
        db.session.execute(update(Run).where(Run.id == "r2").values(branch=None))
        _order("o1", "c1", P, 1.0)
        _order("o2", "c2", P, 1.0)
        db.session.commit()
        attribute(db.session, now=P + DAY)
        assert {o: row[1] for (_f, o), row in _rows().items()} == {"o1": "sms", "o2": "email"}


def test_the_watermark_advances_and_re_reads_only_the_settling_minutes(app):
    with app.app_context():
        _flow("F1", "x", F1_NODES)
        now = P + DAY
        _order("old", "c1", now - timedelta(hours=1), 100.0)
        _order("late", "c2", now - timedelta(minutes=2), 200.0)
        db.session.commit()
        assert watermark(db.session) is None
        assert attribute(db.session, now=now) == 0  # nobody touched them yet
        assert watermark(db.session) == now - SETTLE
        # touches that committed after that pass: the order paid 2 minutes before it is read
        # again, the one paid an hour before is not (the watermark is past it)
        _run("r1", "F1", "c1", now - timedelta(hours=2), "email")
        _run("r2", "F1", "c2", now - timedelta(minutes=3), "email")
        db.session.commit()
        assert attribute(db.session, now=now + timedelta(minutes=1)) == 1
        assert set(_rows()) == {("F1", "late")}
        assert watermark(db.session) == now + timedelta(minutes=1) - SETTLE
        # a pass with an earlier clock (another scheduler) never moves it back
        attribute(db.session, now=now)
        assert watermark(db.session) == now + timedelta(minutes=1) - SETTLE


def test_a_limited_pass_goes_in_paid_order_and_takes_an_instant_whole(app):
    with app.app_context():
        _flow("F1", "x", F1_NODES)
        t1, t2 = P - 2 * DAY, P - DAY
        for n, paid in enumerate((t1, t1, t2, t2, t2)):
            _run(f"r{n}", "F1", f"c{n}", t1 - DAY, "email")
            _order(f"o{n}", f"c{n}", paid, 1.0)
        db.session.commit()
        assert attribute(db.session, now=P, limit=2) == 2  # o0, o1 (o2 shares t2 with more)
        assert watermark(db.session) == t1
        assert attribute(db.session, now=P, limit=2) == 3  # the three paid at t2, together
        assert watermark(db.session) == t2
        assert attribute(db.session, now=P, limit=2) == 0
        assert watermark(db.session) == P - SETTLE
        assert len(_rows()) == 5


def test_catch_up_goes_past_passes_that_store_nothing(app):
    with app.app_context():
        _flow("F1", "x", F1_NODES)
        for n in range(5):
            if n >= 3:  # only the last two orders' clients were touched
                _run(f"r{n}", "F1", f"c{n}", P - 2 * DAY, "email")
            _order(f"o{n}", f"c{n}", P - DAY + n * timedelta(hours=1), 1.0)
        db.session.commit()
        assert catch_up(db.session, now=P, limit=2) == 2
        assert watermark(db.session) == P - SETTLE and len(_rows()) == 2


def test_through_ingestion_an_order_paid_twice_counts_once(app, client, fake_receiver):
    """Order created → the scenario's webhook reaches the client → paid, back to work, paid again
    through the ingestion API → one conversion, with the order's price."""
    flow = {
        "name": "Новый заказ",
        "enabled": True,
        "nodes": [
            {"id": "start", "type": "event.order_created", "params": {}},
            {
                "id": "hook",
                "type": "action.webhook",
                "name": "В CRM",
                "params": {"url": fake_receiver.url + "/h"},
            },
        ],
        "edges": [{"from": "start", "to": "hook"}],
    }
    flow_id = client.post("/api/v1/flows", json=flow).get_json()["id"]
    assert client.put("/api/v1/clients/k1", json={"name": "Иван"}).status_code == 202
    assert (
        client.put(
            "/api/v1/orders/z1", json={"client_id": "k1", "status": "Новый", "price": 1500}
        ).status_code
        == 202
    )
    drain(app)
    assert len(fake_receiver.deliveries) == 1
    for status in ("Оплачен", "В работе", "Оплачен"):
        assert client.put("/api/v1/orders/z1", json={"status": status}).status_code == 202
    drain(app)
    with app.app_context():
        paid_at = db.session.get(Order, "z1").paid_at
        assert paid_at is not None
        assert attribute(db.session) == 1
        assert attribute(db.session) == 0
        start, end = utcnow() - DAY, utcnow() + DAY
        result = conversions(db.session, flow_id, start, end)
        assert {k: result[k] for k in ("clients_reached", "converted", "revenue", "by_branch")} == {
            "clients_reached": 1,
            "converted": 1,
            "revenue": 1500.0,
            "by_branch": {
                "hook": {"label": "В CRM", "clients_reached": 1, "converted": 1, "revenue": 1500.0}
            },
        }
        run_id, branch, touched_at, paid, revenue = _rows()[flow_id, "z1"]
        assert (branch, paid, revenue) == ("hook", paid_at, 1500.0) and touched_at <= paid_at
        assert db.session.get(Run, run_id).client_id == "k1"


def _entered(order_id: str, client: str, paid_at: datetime, price: float, at: datetime) -> None:
    """An order the integration reports at ``at``, paid at ``paid_at`` (maybe days before)."""
    _order(order_id, client, paid_at, price)
    db.session.flush()
    db.session.execute(update(Order).where(Order.id == order_id).values(updated_at=at))


def test_a_payment_entered_later_with_an_earlier_date_is_attributed_once(app):
    with app.app_context():
        _flow("F1", "x", F1_NODES)
        _run("r1", "F1", "c1", P - 2 * DAY, "email")
        _run("r2", "F1", "c2", P - 2 * DAY, "email")
        _entered("on-time", "c2", P, 20.0, at=P)
        db.session.commit()
        assert attribute(db.session, now=P + DAY) == 1
        # two days later the CRM reports a payment dated P, behind the first cursor's watermark
        _entered("backdated", "c1", P, 10.0, at=P + 3 * DAY)
        db.session.commit()
        assert attribute(db.session, now=P + 3 * DAY + timedelta(minutes=10)) == 1
        assert set(_rows()) == {("F1", "on-time"), ("F1", "backdated")}
        assert conversions(db.session, "F1", *PERIOD)["revenue"] == 30.0
        assert attribute(db.session, now=P + 4 * DAY) == 0
        # an attributed order changed later (its price) is read again, and not counted twice
        db.session.execute(
            update(Order).where(Order.id == "on-time").values(updated_at=P + 4 * DAY, price=99.0)
        )
        db.session.commit()
        assert attribute(db.session, now=P + 5 * DAY) == 0 and len(_rows()) == 2


def test_the_second_cursor_takes_an_instant_whole_and_moves_on(app):
    with app.app_context():
        _flow("F1", "x", F1_NODES)
        db.session.commit()
        assert attribute(db.session, now=P) == 0  # both marks set
        late = P + DAY
        for n in range(3):  # three backdated payments reported at one instant, one more after
            _run(f"r{n}", "F1", f"c{n}", P - 3 * DAY, "email")
            _entered(f"o{n}", f"c{n}", P - 2 * DAY, 1.0, at=late)
        _run("r3", "F1", "c3", P - 3 * DAY, "email")
        _entered("o3", "c3", P - 2 * DAY, 1.0, at=late + timedelta(hours=1))
        db.session.commit()
        now = late + DAY
        assert attribute(db.session, now=now, limit=2) == 3  # the instant whole
        assert attribute(db.session, now=now, limit=2) == 1  # then the one after it
        assert attribute(db.session, now=now, limit=2) == 0 and len(_rows()) == 4


def test_the_overview_total_counts_an_order_once_by_its_nearest_touch_across_passes(app):
    """``conversion_orders``: an order one scenario converted for 10 days after its touch, then —
    its client changed after the payment, read by the second cursor — another one converted for
    a day after its touch: the order counts once, in the 7-day window too, with its amount."""
    with app.app_context():
        _flow("F1", "Первый", F1_NODES)
        _flow("F2", "Второй", F2_NODES)
        _run("r1", "F1", "c1", P - 10 * DAY, "email")
        _run("r2", "F2", "c2", P - DAY, "a_email")
        _entered("o1", "c1", P, 700.0, at=P)
        db.session.commit()
        assert attribute(db.session, now=P + DAY) == 1
        assert revenue_total(db.session, *PERIOD) == (0, 0.0)
        assert revenue_total(db.session, *PERIOD, window_days=14) == (1, 700.0)
        db.session.execute(
            update(Order).where(Order.id == "o1").values(client_id="c2", updated_at=P + 2 * DAY)
        )
        db.session.commit()
        assert attribute(db.session, now=P + 3 * DAY) == 1
        assert set(_rows()) == {("F1", "o1"), ("F2", "o1")}
        assert revenue_total(db.session, *PERIOD) == (1, 700.0)
        assert revenue_total(db.session, *PERIOD, window_days=14) == (1, 700.0)
        assert revenue_total(db.session, P + DAY, P + 2 * DAY, window_days=14) == (0, 0.0)
        assert attribute(db.session, now=P + 4 * DAY) == 0
        orders = db.session.execute(select(ConversionOrder.order_id, ConversionOrder.age_days)).all()
        assert orders == [("o1", 1)]
