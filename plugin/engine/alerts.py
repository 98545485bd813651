"""Failure alerts (issue #19): when a scenario's share of failed runs over its window reaches
``settings.alert.failure_share`` (with at least ``min_runs`` finished runs), one message goes
through the chosen connection (Slack, Telegram or e-mail), and with ``pause`` the scenario is
switched off.

Checked by a periodic job (``jobs.worker.alerts``, every ``AUTOMATION_ALERT_INTERVAL`` s), not
where runs settle: the hot path stays as it is, and the check reads the window of recent runs
once per distinct window length through ``ix_runs_created`` (one range scan for every scenario
with an alert), whatever the number of runs settled meanwhile. A Redis key set with ``NX`` and
the window as its lifetime makes it one message per scenario per window, across workers; a
message that could not be sent clears the key, so the next check tries again.
"""

from __future__ import annotations

import html
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plugin.engine.dispatch import bump_generation
from plugin.messages import msg
from plugin.storage.connections import opened
from plugin.storage.models import NOT_SUCCEEDED, Connection, Flow, Run, new_id, utcnow

log = logging.getLogger(__name__)

# connection type → the action whose params (and secret rules) it holds
CHANNELS = {"slack": "action.slack", "telegram": "action.telegram", "smtp": "action.email"}
NEEDS_TO = {"telegram": "the Telegram chat id", "smtp": "the e-mail address"}
KEY = "alert:{flow_id}"


def problems(session: Session, settings, base: str = "") -> list[dict]:
    """What is wrong with ``settings.alert`` beyond its schema: the connection exists, is Slack,
    Telegram or SMTP, and ``to`` is given where the channel needs it."""
    alert = settings.get("alert") if isinstance(settings, dict) else None
    if not isinstance(alert, dict) or not isinstance(alert.get("connection"), str):
        return []
    at = base + "/settings/alert"
    row = session.get(Connection, alert["connection"])
    if row is None:
        said = msg("alert.no_connection", f"no connection {alert['connection']!r}", id=alert["connection"])
        return [{"path": at + "/connection", "message": said}]
    if row.type not in CHANNELS:
        english = f"the connection {row.name!r} is of type {row.type}; an alert goes through slack, telegram or smtp"
        return [
            {
                "path": at + "/connection",
                "message": msg("alert.channel", english, name=row.name, type=row.type),
            }
        ]
    if row.type in NEEDS_TO and not alert.get("to"):
        english = f"{NEEDS_TO[row.type]} to send the alert to is required"
        return [{"path": at + "/to", "message": msg("alert.to", english, channel=row.type)}]
    return []


@dataclass
class Share:
    finished: int = 0
    failed: int = 0


def _windows(flows: list[Flow]) -> dict[int, list[Flow]]:
    out: dict[int, list[Flow]] = {}
    for flow in flows:
        out.setdefault(int(_alert(flow)["window_minutes"]), []).append(flow)
    return out


def _alert(flow: Flow) -> dict:
    alert = dict((flow.definition.get("settings") or {}).get("alert") or {})
    alert.setdefault("window_minutes", 60)
    alert.setdefault("min_runs", 10)
    return alert


def _shares(session: Session, flow_ids: list[str], since: datetime) -> dict[str, Share]:
    shares: dict[str, Share] = {fid: Share() for fid in flow_ids}
    rows = session.execute(
        select(Run.flow_id, Run.status, func.count())
        .where(Run.created_at >= since, Run.flow_id.in_(flow_ids), Run.status.in_(("succeeded", "failed")))
        .where(Run.trigger != "test")  # a test message (api/sendtest.py) is not the scenario failing
        .group_by(Run.flow_id, Run.status)
    )
    for flow_id, status, count in rows:
        shares[flow_id].finished += count
        if status == "failed":
            shares[flow_id].failed += count
    return shares


def check(
    session: Session, engine, redis, *, public_url: str = "", now: datetime | None = None
) -> list[dict]:
    """Send the alerts that are due; returns what was sent (flow id, counts, paused)."""
    now = now or utcnow()
    flows = [
        f
        for f in session.scalars(select(Flow).where(Flow.enabled.is_(True)))
        if isinstance((f.definition.get("settings") or {}).get("alert"), dict)
    ]
    sent = []
    for minutes, group in _windows(flows).items():
        since = now - timedelta(minutes=minutes)
        shares = _shares(session, [f.id for f in group], since)
        for flow in group:
            alert, share = _alert(flow), shares[flow.id]
            if share.finished < alert["min_runs"] or share.failed < alert["failure_share"] * share.finished:
                continue
            if not redis.set(KEY.format(flow_id=flow.id), now.isoformat(), nx=True, ex=minutes * 60):
                continue  # told already in this window
            done = _raise(session, engine, redis, flow, alert, share, since, public_url)
            if done is not None:
                sent.append(done)
    return sent


def _raise(session, engine, redis, flow: Flow, alert: dict, share: Share, since, public_url: str):
    last_error = session.scalar(
        select(Run.error)
        .where(Run.flow_id == flow.id, Run.status == "failed", NOT_SUCCEEDED, Run.created_at >= since)
        .where(Run.trigger != "test")
        .order_by(Run.created_at.desc())
        .limit(1)
    )
    paused = bool(alert.get("pause"))
    text = message(flow.name, share, alert, last_error, paused, link(public_url, flow.id))
    try:
        send(engine, alert, text)
    except Exception as exc:  # noqa: BLE001 - any failure of the channel: logged, tried again next check
        redis.delete(KEY.format(flow_id=flow.id))
        log.warning("the failure alert of flow %s could not be sent: %s", flow.id, exc)
        return None
    if paused:
        flow.enabled = False
        session.commit()
        bump_generation(redis)  # the workers' flow index drops it at once
    log.warning("failure alert sent for flow %s (%d of %d failed)", flow.id, share.failed, share.finished)
    return {"flow_id": flow.id, "failed": share.failed, "finished": share.finished, "paused": paused}


def link(public_url: str, flow_id: str) -> str:
    return f"{public_url.rstrip('/')}/#/flows/{flow_id}" if public_url else f"/#/flows/{flow_id}"


def message(name: str, share: Share, alert: dict, last_error, paused: bool, url: str) -> str:
    percent = round(100 * share.failed / share.finished) if share.finished else 0
    lines = [
        (
            f"Сценарий «{name}»: {share.failed} из {share.finished} запусков с ошибкой ({percent} %) "
            f"за последние {alert['window_minutes']} мин. (порог {round(alert['failure_share'] * 100)} %)."
        ),
        f"Последняя ошибка: {(last_error or '—')[:300]}",
    ]
    if paused:
        lines.append("Сценарий остановлен: включите его снова, когда причина устранена.")
    lines.append(f"Открыть сценарий: {url}")
    return "\n".join(lines)


def send(engine, alert: dict, text: str) -> None:
    """One message through the alert's connection, with its secrets opened as its action's are."""
    from plugin.nodes._services import slack, telegram

    found = engine.connections(alert["connection"]) if engine.connections else None
    if found is None or found[0] not in CHANNELS:
        raise LookupError(f"no slack, telegram or smtp connection {alert['connection']!r}")
    kind, sealed = found
    params = opened(engine.registry, engine.secrets, CHANNELS[kind], sealed)
    if kind == "slack":
        slack.post(engine.services, params["webhook_url"], text)
    elif kind == "telegram":
        telegram.send(
            engine.services, params.get("base_url"), params["bot_token"], alert["to"], html.escape(text)
        )
    else:
        _email(engine, params, alert["to"], text)


def _email(engine, params: dict, to: str, text: str) -> None:
    from plugin.nodes._services import smtp

    security = params.get("security") or "ssl"
    port = int(params.get("smtp_port") or smtp.DEFAULT_PORTS[security])
    sender = params.get("username") if "@" in (params.get("username") or "") else to
    msg = smtp.build_message(
        from_email=sender,
        from_name="Сценарии",
        to_email=to,
        to_name=None,
        subject=text.split("\n", 1)[0][:150],
        html="<pre>" + html.escape(text) + "</pre>",
        message_id=smtp.message_id("alert-" + new_id(), sender),
    )
    settings = engine.services.settings
    pinned = smtp.check_host(params["smtp_host"], port, settings)
    smtp.send(
        settings,
        host=params["smtp_host"],
        port=port,
        security=security,
        username=params.get("username"),
        password=params.get("password"),
        msg=msg,
        pinned_ip=pinned,
    )
