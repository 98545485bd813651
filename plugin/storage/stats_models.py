"""The scenario analytics' tables (SPEC §11, issue #19): counts by the hour, and conversions.

* ``flow_stats`` — per scenario and hour (the hour its runs were created in): ``triggered``
  (runs whose path reached an action), ``succeeded`` / ``failed`` (of those, as they stand now:
  a failed run retried to success moves from one to the other), ``suppressed`` (held back by a
  frequency rule), ``fired`` (runs made from events the flow index matched, triggered or
  suppressed) and ``not_triggered`` (runs stored as not triggered: due N-day events whose
  conditions were false, direct runs whose conditions were false). Written in the transactions
  that change the runs (engine/rollup.py), so it is never behind them.
* ``stats_seen`` / ``stats_groups`` — the events each *group* of flows saw: flows whose event
  nodes are alike (same type and params) and that were loaded together form a group in the
  flow index, and an event the group's event node matches is counted once for the group, not
  once per flow (2,000 «new order» flows would otherwise cost 2,000 row writes per event). The
  membership of each group is stored once. A flow's events of its type that did not pass its
  conditions are then ``seen − fired`` in each hour.
* ``conversions`` — a paid order attributed to a scenario (engine/attribution.py).
* ``conversion_orders`` — the same orders once each, with the nearest touch of any scenario:
  the overview's «each order once» total without grouping the conversions by order.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import BigInteger, Date, DateTime, Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from plugin.storage.base import Base, dialect_options

COUNTS = ("triggered", "succeeded", "failed", "suppressed", "not_triggered", "fired")
# the send latency histogram (``/metrics``): calls made, their milliseconds, and per bucket the
# calls that took at most that long (and more than the bucket before)
LATENCY_MS = (100, 250, 500, 1000, 2500, 5000, 10000)
LATENCY = ("sends", *(f"le_{ms}" for ms in LATENCY_MS))
ALL_COUNTS = (*COUNTS, *LATENCY, "send_ms")


class _Counts:
    """The counts of a rollup row (:data:`ALL_COUNTS`), the same by the hour and by the day."""

    triggered: Mapped[int] = mapped_column(Integer, default=0)
    succeeded: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    suppressed: Mapped[int] = mapped_column(Integer, default=0)
    not_triggered: Mapped[int] = mapped_column(Integer, default=0)
    fired: Mapped[int] = mapped_column(Integer, default=0)
    sends: Mapped[int] = mapped_column(Integer, default=0)
    le_100: Mapped[int] = mapped_column(Integer, default=0)
    le_250: Mapped[int] = mapped_column(Integer, default=0)
    le_500: Mapped[int] = mapped_column(Integer, default=0)
    le_1000: Mapped[int] = mapped_column(Integer, default=0)
    le_2500: Mapped[int] = mapped_column(Integer, default=0)
    le_5000: Mapped[int] = mapped_column(Integer, default=0)
    le_10000: Mapped[int] = mapped_column(Integer, default=0)
    send_ms: Mapped[int] = mapped_column(BigInteger, default=0)


class FlowStat(_Counts, Base):
    __tablename__ = "flow_stats"

    flow_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    bucket: Mapped[datetime] = mapped_column(DateTime, primary_key=True)  # the hour, naive UTC

    # the overview sums every flow over a period
    __table_args__ = (Index("ix_flow_stats_bucket", "bucket"),)


class FlowStatDay(_Counts, Base):
    """``flow_stats`` by the day of ``AUTOMATION_TIMEZONE`` (written with it): a period of whole
    days over every scenario reads a row per scenario and day, not 24 (the overview)."""

    __tablename__ = "flow_stats_days"

    flow_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)

    __table_args__ = (Index("ix_flow_stats_days_day", "day"),)


class StatsSeen(Base):
    __tablename__ = "stats_seen"

    group_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    bucket: Mapped[datetime] = mapped_column(DateTime, primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


class StatsGroup(Base):
    __tablename__ = "stats_groups"

    group_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    flow_id: Mapped[str] = mapped_column(String(64), primary_key=True)

    __table_args__ = (Index("ix_stats_groups_flow", "flow_id", "group_id"),)


DAY = timedelta(days=1)


def age_days(touched_at: datetime, paid_at: datetime) -> int:
    """Whole days from a touch to the payment, rounded up: 0 for the same instant, 1 up to 24 h."""
    return max(0, -((touched_at - paid_at) // DAY))


def _age_of_row(context) -> int:
    """``age_days`` of a row inserted without it (from its own ``touched_at`` and ``paid_at``)."""
    row = context.get_current_parameters()
    return age_days(row["touched_at"], row["paid_at"])


class Conversion(Base):
    """A paid order and the scenario's last touch of its client before the payment.

    One row per scenario and order (an order paid twice counts once); ``branch`` is the run's
    branch (a split's variant, else its first action node); the window is applied when read, on
    ``age_days``: the days from the touch to the payment, rounded up (``paid_at − touched_at ≤
    W days`` exactly when ``age_days ≤ W``, for a whole W), so a window is an index range."""

    __tablename__ = "conversions"

    flow_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    order_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64))
    run_id: Mapped[str] = mapped_column(String(64))
    branch: Mapped[str] = mapped_column(String(100), default="")
    touched_at: Mapped[datetime] = mapped_column(DateTime)
    paid_at: Mapped[datetime] = mapped_column(DateTime)
    revenue: Mapped[float] = mapped_column(Float, default=0.0)
    age_days: Mapped[int] = mapped_column(Integer, default=_age_of_row)

    __table_args__ = (
        # a scenario's conversions of a period, read from the index alone on PostgreSQL
        dialect_options(
            Index("ix_conversions_flow_paid", "flow_id", "paid_at"),
            postgresql_include=["age_days", "branch", "revenue"],
        ),
        # every scenario's conversions within a window (the overview): the ages up to W, then
        # the period, from the index alone — 8 of 91 ages for the default week, not the period's all
        dialect_options(
            Index("ix_conversions_age_paid", "age_days", "paid_at"),
            postgresql_include=["flow_id", "order_id", "revenue"],
        ),
    )


class ConversionOrder(Base):
    """A paid order some scenario touched, once however many did (engine/attribution.py keeps it
    with the ``conversions`` rows): ``age_days`` is the fewest days from any scenario's touch to
    the payment, so the order counts in a window of W days exactly when ``age_days ≤ W`` — one
    index range, no grouping of a period's conversions by order (~2.4 rows per order in the
    5 M-run bench). ``revenue`` is the largest amount its conversions were attributed with."""

    __tablename__ = "conversion_orders"

    order_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    paid_at: Mapped[datetime] = mapped_column(DateTime)
    age_days: Mapped[int] = mapped_column(Integer)
    revenue: Mapped[float] = mapped_column(Float, default=0.0)

    __table_args__ = (
        dialect_options(
            Index("ix_conversion_orders_age_paid", "age_days", "paid_at"), postgresql_include=["revenue"]
        ),
    )


class StatsMark(Base):
    """How far a background pass has read (``attribution``: orders paid up to ``at``)."""

    __tablename__ = "stats_marks"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime)
