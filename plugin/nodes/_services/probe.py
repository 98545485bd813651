"""«Проверить подключение»: one harmless call per connection type that proves the access params
work, and what failed in plain Russian (SPEC §11). Nothing is sent to a client or a channel.

Slack has no read call for an incoming webhook: a post without text is refused as ``no_text`` by
a live hook and as ``no_service`` by a dead one, so the hook is proven without a message.
"""

from __future__ import annotations

import smtplib
from typing import Any

from plugin.nodes._services import amocrm, bitrix24, slack, smsru, smtp, telegram, twilio
from plugin.nodes.base import NodeError
from plugin.transport import http

Result = tuple[bool, str]


def check(services: Any, kind: str, params: dict) -> Result:
    """``(ok, message)`` for a connection of type ``kind`` with opened ``params``."""
    try:
        return CHECKS[kind](services, params)
    except NodeError as exc:  # blocked destination, network failure, timeout
        return False, f"Не удалось связаться с сервером: {exc}"


def _status_text(resp) -> str:
    return f"HTTP {resp.status_code} {http.trim(resp.text or '', 120)}".strip()


def _slack(services: Any, p: dict) -> Result:
    resp = http.send(services, "POST", p["webhook_url"], service=slack.SERVICE, json={})
    code = http.trim(resp.text or "", 80)
    if resp.status_code == 400 and code in ("no_text", "missing_text_or_fallback_or_attachments"):
        return True, "Хук Slack работает (пробное сообщение не отправлялось)"
    if resp.status_code == 200:
        return True, "Хук Slack работает"
    if code in ("no_service", "no_service_id", "no_active_hooks"):
        return False, f"Slack не знает этот хук ({code}): ссылка неверна, хук отключён или удалён"
    if code in ("invalid_token", "action_prohibited", "no_team", "team_disabled"):
        return False, f"Slack отказал ({code}): хук отозван или ограничен администратором"
    if code in ("channel_not_found", "channel_is_archived"):
        return False, f"Канал хука недоступен ({code}): он удалён или в архиве"
    return False, f"Slack ответил неожиданно: {_status_text(resp)}"


def _telegram(services: Any, p: dict) -> Result:
    root = (p.get("base_url") or telegram.DEFAULT_BASE_URL).rstrip("/")
    resp = http.send(services, "GET", f"{root}/bot{p['bot_token']}/getMe", service=telegram.SERVICE)
    body = http.json_or_none(resp) or {}
    if resp.status_code == 200 and body.get("ok"):
        name = (body.get("result") or {}).get("username")
        return True, f"Бот Telegram отвечает{f' (@{name})' if name else ''}"
    if resp.status_code in (401, 404):
        return False, "Telegram не принял токен бота (401 Unauthorized): проверьте токен от @BotFather"
    return False, f"Telegram ответил неожиданно: {_status_text(resp)}"


def _smtp(services: Any, p: dict) -> Result:
    settings = services.settings
    security = p.get("security") or "ssl"
    port = int(p.get("smtp_port") or smtp.DEFAULT_PORTS[security])
    host = p["smtp_host"]
    try:
        smtp.login_only(settings, host, port, security, p.get("username"), p.get("password"))
    except smtplib.SMTPAuthenticationError as exc:
        return False, f"SMTP-сервер отклонил логин или пароль ({exc.smtp_code})"
    except smtplib.SMTPNotSupportedError:
        return False, "SMTP-сервер не поддерживает вход по логину (или STARTTLS) на этом порту"
    except smtplib.SMTPException as exc:
        return False, f"SMTP-сервер ответил ошибкой: {exc}"
    except OSError as exc:
        return False, f"Не удалось подключиться к {host}:{port}: {type(exc).__name__} {exc}".strip()
    return True, f"SMTP-сервер {host}:{port} принял подключение" + (" и вход" if p.get("username") else "")


def _amocrm(services: Any, p: dict) -> Result:
    url = f"{p['base_url'].rstrip('/')}/api/v4/account"
    resp = http.send(services, "GET", url, service=amocrm.SERVICE, headers=amocrm._headers(p["token"]))
    if resp.status_code == 200:
        return True, "amoCRM принял токен"
    if resp.status_code == 401:
        return False, "amoCRM не принял токен (401): выпустите долгосрочный токен заново"
    if resp.status_code == 403:
        return False, "amoCRM запретил доступ (403): аккаунт или IP заблокирован"
    return False, f"amoCRM ответил неожиданно: {_status_text(resp)}"


def _bitrix24(services: Any, p: dict) -> Result:
    resp = http.send(
        services, "POST", bitrix24.method_url(p["base_url"], "profile"), service=bitrix24.SERVICE
    )
    body = http.json_or_none(resp) or {}
    if resp.status_code == 200 and "result" in body:
        return True, "Битрикс24 принял вебхук"
    error = body.get("error") or ""
    if resp.status_code == 401 or error in ("INVALID_CREDENTIALS", "NO_AUTH_FOUND"):
        return False, f"Битрикс24 не принял вебхук ({error or 401}): проверьте адрес входящего вебхука"
    return (
        False,
        f"Битрикс24 ответил ошибкой: {error or _status_text(resp)} {body.get('error_description', '')}".strip(),
    )


def _smsru(services: Any, p: dict) -> Result:
    root = (p.get("base_url") or smsru.DEFAULT_BASE_URL).rstrip("/")
    resp = http.send(
        services, "POST", f"{root}/my/balance", service=smsru.SERVICE, data={"api_id": p["api_id"], "json": 1}
    )
    body = http.json_or_none(resp) or {}
    if body.get("status") == "OK":
        return True, f"SMS.ru принял api_id, баланс {body.get('balance')}"
    if body.get("status_code") == 200:
        return False, "SMS.ru не принял api_id (код 200): проверьте ключ в личном кабинете"
    return (
        False,
        f"SMS.ru ответил ошибкой: {body.get('status_code')} {body.get('status_text') or _status_text(resp)}",
    )


def _twilio(services: Any, p: dict) -> Result:
    root = (p.get("base_url") or twilio.DEFAULT_BASE_URL).rstrip("/")
    url = f"{root}/2010-04-01/Accounts/{p['account_sid']}.json"
    resp = http.send(services, "GET", url, service=twilio.SERVICE, auth=(p["account_sid"], p["auth_token"]))
    if resp.status_code == 200:
        return True, "Twilio принял Account SID и Auth Token"
    if resp.status_code in (401, 404):
        return False, f"Twilio не принял Account SID или Auth Token ({resp.status_code})"
    return False, f"Twilio ответил неожиданно: {_status_text(resp)}"


def _webhook(services: Any, p: dict) -> Result:
    resp = http.send(services, "HEAD", p["url"], service="webhook")
    if resp.status_code in (404, 410):
        return False, f"Адрес не найден на сервере (HTTP {resp.status_code})"
    if resp.status_code >= 500:
        return False, f"Сервер по адресу отвечает ошибкой (HTTP {resp.status_code})"
    return True, f"Адрес доступен (HTTP {resp.status_code}); пробные данные не отправлялись"


CHECKS = {
    "slack": _slack,
    "telegram": _telegram,
    "smtp": _smtp,
    "amocrm": _amocrm,
    "bitrix24": _bitrix24,
    "smsru": _smsru,
    "twilio": _twilio,
    "webhook": _webhook,
}
