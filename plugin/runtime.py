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


def build_runtime(config: dict[str, Any]) -> Runtime:
    """The runtime of one process (the API keeps it in ``app.extensions["automation"]``)."""
    install_log_masking()
    redis = redis_from_config(config)
    return Runtime(
        registry=get_registry(),
        secrets=SecretBox.from_config(config["SECRET_KEY_ENV"], config["DATA_DIR"]),
        redis=redis,
        queue=Queue(config["QUEUE_NAME"], connection=redis, serializer=JSONSerializer),
        services=Services(settings=settings_from_config(config), redis=redis),
        config=config,
    )
