"""Frequency rules (SPEC §11 ``settings.frequency``): at most ``limit`` runs of a flow per client,
order or visitor in ``window_hours`` (null: ever).

A run whose conditions hold takes one of its subject's ``limit`` slots (``frequency_slots``) in
the very transaction that stores it (batch.py): a slot not yet inserted, or one last used before
the window. The claim is one INSERT … ON CONFLICT DO UPDATE … WHERE per slot tried (DO NOTHING
for a rule over all time): two dispatchers racing for the same subject serialise on the slot's
row (PostgreSQL makes the second wait for the first's commit and then re-reads the row; SQLite
has one writer), so exactly ``limit`` runs pass. A run that finds no free slot is stored ``suppressed`` with the
rule as its reason. A run without the subject (no client on a visit) is not limited.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from plugin.storage import bulk
from plugin.storage.models import Flow, FrequencySlot

_SUBJECTS = {"client": ("client", "external_id"), "order": ("order", "id"), "visitor": ("visit", "id")}
_WHOM = {
    "client": ("клиента", "client"),
    "order": ("заказ", "order"),
    "visitor": ("посетителя", "visitor"),
}
_SLOTS = FrequencySlot.__table__


def subject_of(rule: dict, context: dict) -> str | None:
    """Whom the rule counts a run of ``context`` against: ``"client:42"``, or None (not limited)."""
    record, field = _SUBJECTS[rule["per"]]
    value = ((context or {}).get(record) or {}).get(field)
    if value in (None, ""):
        return None
    return f"{rule['per']}:{value}"[:200]


def reason(rule: dict) -> str:
    """The rule in words, Russian then English, as the run's ``error`` of a suppressed run."""
    limit, hours = rule["limit"], rule.get("window_hours")
    ru_whom, en_whom = _WHOM[rule["per"]]
    ru_span = f"за {hours} ч" if hours else "за всё время"
    en_span = f"in {hours} h" if hours else "ever"
    times = "раза" if limit % 10 == 1 and limit % 100 != 11 else "раз"
    return (
        f"подавлен: правило частоты — не чаще {limit} {times} на {ru_whom} {ru_span} "
        f"(frequency rule: at most {limit} run(s) per {en_whom} {en_span})"
    )


def would_suppress(session: Session, flow_id: str, rule: dict, context: dict, now) -> str | None:
    """The reason a run of ``context`` would be stored ``suppressed`` now, or None: no free slot
    among the subject's ``limit`` (free: not inserted, or last used before the window), as
    :func:`claim` decides it; takes nothing (a dry run asks)."""
    subject = subject_of(rule, context)
    if subject is None or not flow_id:
        return None
    busy = select(func.count()).where(
        _SLOTS.c.flow_id == flow_id, _SLOTS.c.subject == subject, _SLOTS.c.slot < int(rule["limit"])
    )
    if rule.get("window_hours"):
        busy = busy.where(_SLOTS.c.used_at > now - timedelta(hours=rule["window_hours"]))
    return reason(rule) if session.execute(busy).scalar_one() >= int(rule["limit"]) else None


def claim(session: Session, claims: list[tuple], now) -> set[str]:
    """Take a slot for each ``(run_id, flow_id, subject, rule)`` in this transaction (not
    committed); returns the run ids that found none. Claims of one subject keep their order (the
    earlier event wins); subjects go in key order, so concurrent batches lock rows alike."""
    lost = set()
    for run_id, flow_id, subject, rule in sorted(claims, key=lambda c: (c[1], c[2])):
        if not _take(session, run_id, flow_id, subject, rule, now):
            lost.add(run_id)
    return lost


def _take(session: Session, run_id: str, flow_id: str, subject: str, rule: dict, now) -> bool:
    """One statement per slot tried: the slot inserted, or (with a window) taken over when it was
    last used before the window — an upsert whose update is conditional, atomic on both databases
    (PostgreSQL waits for a concurrent claim of the row and re-reads it). RETURNING tells whether
    it was taken (psycopg's pipelined connections report -1 as the rowcount here)."""
    hours = rule.get("window_hours")
    connection = session.connection()
    for slot in range(int(rule["limit"])):
        row = {"flow_id": flow_id, "subject": subject, "slot": slot, "used_at": now, "run_id": run_id}
        statement = bulk.dialect_insert(session, _SLOTS).values(**row)
        if hours:
            statement = statement.on_conflict_do_update(
                index_elements=[_SLOTS.c.flow_id, _SLOTS.c.subject, _SLOTS.c.slot],
                set_={"used_at": now, "run_id": run_id},
                where=_SLOTS.c.used_at <= now - timedelta(hours=hours),
            )
        else:
            statement = statement.on_conflict_do_nothing()
        if connection.execute(statement.returning(_SLOTS.c.slot)).first() is not None:
            return True
    return False


def prune_slots(session: Session, now) -> None:
    """Delete the slots that hold nothing back any more — used before their flow's window, or of a
    flow deleted or without a rule — and commit. A free slot and a missing one count alike, so this
    changes no verdict; it keeps the table to the subjects seen within the windows (and to every
    subject of the rules over all time, which never forget)."""
    windows = {}
    for flow_id, definition in session.execute(select(Flow.id, Flow.definition)):
        rule = ((definition or {}).get("settings") or {}).get("frequency")
        if rule:
            windows[flow_id] = rule.get("window_hours")
    session.execute(delete(_SLOTS).where(_SLOTS.c.flow_id.not_in(list(windows))))
    for flow_id, hours in sorted(windows.items()):
        if hours:
            cutoff = now - timedelta(hours=hours)
            session.execute(delete(_SLOTS).where(_SLOTS.c.flow_id == flow_id, _SLOTS.c.used_at < cutoff))
    session.commit()
