"""Process-wide runtime: registry, secret box, Redis, the RQ queue and action services."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from redis import Redis
from rq import Queue
from rq.serializers import JSONSerializer

from plugin.masking import install_log_masking
from plugin.nodes._services import Services, Settings
from plugin.nodes._services.optout import Links
from plugin.registry import Registry, get_registry
from plugin.storage.redisconn import redis_from_config
from plugin.storage.secrets import SecretBox

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    registry: Registry
    secrets: SecretBox
    redis: Redis
    queue: Queue
    services: Services
    config: dict[str, Any]


def settings_from_config(config: dict[str, Any]) -> Settings:
    return Settings(
        http_timeout=float(config.get("HTTP_TIMEOUT", 15.0)),
        smtp_timeout=float(config.get("SMTP_TIMEOUT", 30.0)),
        smtp_verify_tls=bool(config.get("SMTP_VERIFY_TLS", True)),
        outbound_allowlist=tuple(config.get("OUTBOUND_ALLOWLIST") or ()),
        email_cap_per_client=int(config.get("EMAIL_CAP", 5)),
        sms_cap_per_client=int(config.get("SMS_CAP", 5)),
        cap_window_seconds=int(config.get("CAP_WINDOW_HOURS", 24)) * 3600,
        rate_limits_enabled=bool(config.get("RATE_LIMITS", True)),
        extra=dict(config.get("SERVICES_EXTRA", {})),
    )


def public_url(config: dict[str, Any]) -> str:
    """The server as recipients and sites reach it: ``AUTOMATION_PUBLIC_URL``, else this host's port."""
    return (config.get("PUBLIC_URL") or f"http://localhost:{config.get('PORT', 8080)}").rstrip("/")


def build_runtime(config: dict[str, Any]) -> Runtime:
    """The runtime of one process (the API keeps it in ``app.extensions["automation"]``)."""
    install_log_masking()
    redis = redis_from_config(config)
    secrets = SecretBox.from_config(config["SECRET_KEY_ENV"], config["DATA_DIR"])
    links = Links(
        secrets.derived_keys("unsubscribe-links"), public_url(config), config.get("UNSUBSCRIBE_MAILTO", "")
    )
    return Runtime(
        registry=get_registry(),
        secrets=secrets,
        redis=redis,
        queue=Queue(config["QUEUE_NAME"], connection=redis, serializer=JSONSerializer),
        services=Services(settings=settings_from_config(config), redis=redis, unsubscribe=links),
        config=config,
    )
