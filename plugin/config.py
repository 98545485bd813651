"""Configuration from environment variables (SPEC §9), and the processes' stop and read timeouts."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


def _split(value: str | None) -> tuple[str, ...]:
    return tuple(item.strip() for item in (value or "").split(",") if item.strip())


def _int(name: str, default: int, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {raw!r}")
    return value


def switch(name: str) -> bool:
    """An on/off environment variable, on unless set to 0, false, no or off."""
    return os.environ.get(name, "1").strip().lower() not in ("0", "false", "no", "off")


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw in (None, ""):
        return default
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {raw!r}") from None


def _timezone() -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    name = (os.environ.get("AUTOMATION_TIMEZONE") or "Europe/Moscow").strip()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a folder ("Europe")
        raise ValueError(
            f"AUTOMATION_TIMEZONE must be an IANA time zone (Europe/Moscow), got {name!r}"
        ) from None
    return name


def _language() -> str:
    """``AUTOMATION_LANGUAGE``: the language of problem details when a request asks for none."""
    raw = (os.environ.get("AUTOMATION_LANGUAGE") or "ru").strip().lower()
    if raw not in ("ru", "en"):
        raise ValueError(f"AUTOMATION_LANGUAGE must be ru or en, got {raw!r}")
    return raw


def from_env() -> dict:
    """Build the Flask config mapping from the process environment."""
    data_dir = Path(os.environ.get("AUTOMATION_DATA_DIR") or Path.cwd() / "data").resolve()
    database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{data_dir / 'automation.db'}"
    if database_url.startswith("postgres://"):
        database_url = "postgresql://" + database_url[len("postgres://") :]
    return {
        "DATA_DIR": str(data_dir),
        "SQLALCHEMY_DATABASE_URI": database_url,
        "REDIS_URL": os.environ.get("REDIS_URL") or "",
        "SECRET_KEY_ENV": os.environ.get("AUTOMATION_SECRET_KEY") or "",
        "API_TOKEN": os.environ.get("AUTOMATION_API_TOKEN") or "",
        "OUTBOUND_ALLOWLIST": _split(os.environ.get("AUTOMATION_OUTBOUND_ALLOWLIST")),
        "PORT": _int("PORT", 8080),
        "QUEUE_NAME": os.environ.get("AUTOMATION_QUEUE", "automation"),
        "EMAIL_CAP": _int("AUTOMATION_EMAIL_CAP", 5),
        "SMS_CAP": _int("AUTOMATION_SMS_CAP", 5),
        "CAP_WINDOW_HOURS": _int("AUTOMATION_CAP_WINDOW_HOURS", 24),
        "MAX_CONTENT_LENGTH": _int("AUTOMATION_MAX_BODY_BYTES", 5 * 1024 * 1024),
        "INGEST_RATE": _float("AUTOMATION_INGEST_RATE", 2000.0),
        "INGEST_BURST": _int("AUTOMATION_INGEST_BURST", 4000),
        # site-form sources (POST /api/v1/hooks/{key}): posts per second and burst, per source
        "HOOK_RATE": _float("AUTOMATION_HOOK_RATE", 1.0),
        "HOOK_BURST": _int("AUTOMATION_HOOK_BURST", 30, minimum=1),
        # the server's address as sites reach it (behind a proxy), for the sources' URLs
        "PUBLIC_URL": os.environ.get("AUTOMATION_PUBLIC_URL", "").strip(),
        # a mailbox that also takes unsubscribe requests (List-Unsubscribe's mailto:); empty: none
        "UNSUBSCRIBE_MAILTO": os.environ.get("AUTOMATION_UNSUBSCRIBE_MAILTO", "").strip(),
        "SMTP_VERIFY_TLS": switch("AUTOMATION_SMTP_VERIFY_TLS"),
        "STATUS_GROUPS": os.environ.get("AUTOMATION_STATUS_GROUPS", ""),
        # the time zone of send windows that name none (flow settings, SPEC §11)
        "TIMEZONE": _timezone(),
        # problem details follow Accept-Language (ru, en); this is the default (SPEC §11)
        "LANGUAGE": _language(),
        "SWEEP_INTERVAL": _int("AUTOMATION_SWEEP_INTERVAL", 10),
        # seconds between checks of the scenarios' failure alerts (plugin/engine/alerts.py); 0: never
        "ALERT_INTERVAL": _int("AUTOMATION_ALERT_INTERVAL", 60, minimum=0),
        # seconds between passes attributing paid orders to scenarios (plugin/engine/attribution.py); 0: never
        "ATTRIBUTION_INTERVAL": _int("AUTOMATION_ATTRIBUTION_INTERVAL", 60, minimum=0),
        # retention (plugin/engine/retention.py): 0 keeps forever; PRUNE_INTERVAL 0 = only `server.py prune`
        "EVENT_RETENTION_HOURS": _int("AUTOMATION_EVENT_RETENTION_HOURS", 72, minimum=0),
        "RUN_RETENTION_DAYS": _int("AUTOMATION_RUN_RETENTION_DAYS", 30, minimum=0),
        "PRUNE_INTERVAL": _int("AUTOMATION_PRUNE_INTERVAL", 300, minimum=0),
        "LEASE_SECONDS": _int("AUTOMATION_LEASE_SECONDS", 120),
        "MAX_ATTEMPTS": _int("AUTOMATION_MAX_ATTEMPTS", 8),
        "RETRY_BASE_SECONDS": _float("AUTOMATION_RETRY_BASE_SECONDS", 5.0),
        "HTTP_TIMEOUT": _float("AUTOMATION_HTTP_TIMEOUT", 15.0),
        "FAST_INGEST": switch("AUTOMATION_FAST_INGEST"),
        "GROUP_COMMIT": switch("AUTOMATION_GROUP_COMMIT"),
        "RATE_LIMITS": switch("AUTOMATION_RATE_LIMITS"),
        "DISPATCH_GATHER_MS": max(0.0, _float("AUTOMATION_DISPATCH_GATHER_MS", 40.0)),
        # dense ingestion: the group commit waits this long for more rows (plugin/ingest/groupcommit.py)
        "INGEST_GATHER_MS": max(0.0, _float("AUTOMATION_INGEST_GATHER_MS", 10.0)),
        # request threads per API process (plugin/wsgi.py; set by `server.py serve --threads`)
        "API_THREADS": _int("AUTOMATION_API_THREADS", 8, minimum=1),
    }


@dataclass(frozen=True)
class RetentionPolicy:
    """How long to keep engine rows; 0 keeps them forever."""

    event_hours: int
    run_days: int

    @classmethod
    def from_config(cls, config) -> RetentionPolicy:
        return cls(int(config.get("EVENT_RETENTION_HOURS", 72)), int(config.get("RUN_RETENTION_DAYS", 30)))

    @property
    def enabled(self) -> bool:
        return self.event_hours > 0 or self.run_days > 0


# every process is gone this long after its SIGTERM (README: AUTOMATION_STOP_GRACE_SECONDS)
STOP_SECONDS = 10.0


def stop_grace() -> float:
    """Seconds a stopping process lets its current work finish before it cuts it short
    (``AUTOMATION_STOP_GRACE_SECONDS``, default 6): a worker's job, the API server's requests."""
    raw = os.environ.get("AUTOMATION_STOP_GRACE_SECONDS", "6").strip()
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"AUTOMATION_STOP_GRACE_SECONDS must be a number of seconds, got {raw!r}") from None
    if not 1 <= value <= STOP_SECONDS - 2:
        raise ValueError(
            f"AUTOMATION_STOP_GRACE_SECONDS must be at least 1 and at most {STOP_SECONDS - 2:g}, got {raw!r}"
        )
    return value


def read_timeout() -> float:
    """Seconds a request may take to send its headers, and its body once the headers are in
    (``AUTOMATION_REQUEST_READ_TIMEOUT``, default 10): past it, 408 and the connection closed."""
    raw = os.environ.get("AUTOMATION_REQUEST_READ_TIMEOUT", "10").strip()
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(
            f"AUTOMATION_REQUEST_READ_TIMEOUT must be a number of seconds, got {raw!r}"
        ) from None
    if not 0.5 <= value <= 60:
        raise ValueError(f"AUTOMATION_REQUEST_READ_TIMEOUT must be between 0.5 and 60 seconds, got {raw!r}")
    return value
