"""The public one-click unsubscribe link (SPEC §11, RFC 8058): ``GET`` shows a Russian confirmation
page with a button, ``POST`` (the button, or a mail provider's one-click ``List-Unsubscribe=One-Click``)
puts the address on the suppression list (source ``unsubscribe``). No token: the link's signature
(``nodes._services.optout.Links``) is the credential; a forged or altered link is a 403 and
changes nothing."""

from __future__ import annotations

import html
import logging

from flask import Response, request
from flask.views import MethodView
from flask_smorest import Blueprint

from plugin.api.auth import public
from plugin.api.context import rt
from plugin.api.extensions import db
from plugin.api.openapi import problem_response
from plugin.errors import ApiProblem
from plugin.messages import msg
from plugin.storage import suppressions as stored

log = logging.getLogger(__name__)


class InvalidLink(ApiProblem):
    """A link this server did not sign, or one altered since (403: nothing was changed)."""

    status = 403
    title = "Invalid unsubscribe link"
    slug = "invalid-link"


blp = Blueprint(
    "unsubscribe",
    __name__,
    url_prefix="/api/v1/unsubscribe",
    description="One-click unsubscribe links (no token: the link is signed)",
)

TOKEN_PARAMETER = {
    "in": "path",
    "name": "token",
    "required": True,
    "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+$", "maxLength": 1000},
    "description": "The signed token of an unsubscribe link (`{unsubscribe_url}`, `List-Unsubscribe`)",
}
ONE_CLICK_BODY = {
    "required": False,
    "description": "RFC 8058: `List-Unsubscribe=One-Click` (the page's button sends the same)",
    "content": {
        "application/x-www-form-urlencoded": {"schema": {"type": "object"}},
        "multipart/form-data": {"schema": {"type": "object"}},
    },
}
FORGED = "A forged or altered link (a browser asking for HTML gets a Russian page instead)"
PAGE_ANSWER = {"content": {"text/html": {"schema": {"type": "string"}}}}
UNSUBSCRIBED = {
    "description": "Unsubscribed: the page «Вы отписаны», or JSON for a client that asks for it",
    "content": {
        "text/html": {"schema": {"type": "string"}},
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["unsubscribed", "channel", "id"],
                "properties": {
                    "unsubscribed": {"const": True},
                    "channel": {"enum": ["email", "sms"]},
                    "id": {"type": "string", "description": "the suppression-list entry"},
                },
            }
        },
    },
}
CHANNEL_WORDS = {"email": "писем", "sms": "SMS"}
REASON = "отписка по ссылке"
STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#222}"
    "button{font-size:1rem;padding:.6rem 1.4rem;border:0;border-radius:.4rem;background:#c62828;color:#fff;"
    "cursor:pointer}p.en{color:#777;font-size:.9rem}"
)


def _page(title: str, body: str, status: int = 200) -> Response:
    text = (
        f"<!doctype html><html lang=ru><meta charset=utf-8>"
        f'<meta name=viewport content="width=device-width,initial-scale=1"><link rel=icon href="data:,">'
        f"<title>{html.escape(title)}</title><style>{STYLE}</style><h1>{html.escape(title)}</h1>{body}</html>"
    )
    return Response(text, status, mimetype="text/html")


def masked(address: str) -> str:
    """``ivan.petrov@example.ru`` → ``iv…@example.ru``, ``+79123456789`` → ``+7912…89``: enough for the
    recipient to recognise, not the whole address to whoever the link was forwarded to."""
    if "@" in address:
        local, domain = address.split("@", 1)
        return f"{local[:2]}…@{domain}"
    return f"{address[:5]}…{address[-2:]}"


def _verified(token: str) -> tuple[str, str]:
    found = rt().services.unsubscribe.verify(token)
    if found is None:
        log.info("an unsubscribe link with a bad signature was refused")
        raise InvalidLink(
            msg(
                "unsubscribe.invalid",
                "this unsubscribe link is not valid (altered or not issued by this server)",
            )
        )
    return found


def _refused() -> Response:
    return _page(
        "Ссылка недействительна",
        "<p>Эта ссылка для отписки повреждена или не выдавалась этим сервером. Ничего не изменилось.</p>"
        "<p>Откройте ссылку из письма целиком или напишите отправителю.</p>"
        "<p class=en lang=en>This unsubscribe link is not valid; nothing was changed.</p>",
        403,
    )


def _wants_page() -> bool:
    """A browser (it asks for HTML) gets a page for a refused link; anyone else a problem, as every
    error of the API (a mail provider's one-click POST sends ``*/*`` or nothing)."""
    best = request.accept_mimetypes.best_match(["application/problem+json", "text/html", "application/json"])
    return best == "text/html"


def _wants_json() -> bool:
    best = request.accept_mimetypes.best_match(["text/html", "application/json", "application/problem+json"])
    return best in ("application/json", "application/problem+json")


@blp.route("/<string:token>", parameters=[TOKEN_PARAMETER])
class Unsubscribe(MethodView):
    @public
    @blp.doc(
        security=[],
        summary="The confirmation page of an unsubscribe link (Russian), with its button",
        responses={"200": {"description": "The page", **PAGE_ANSWER}, "403": problem_response(403, FORGED)},
    )
    def get(self, token: str):
        try:
            channel, address = _verified(token)
        except InvalidLink:
            if _wants_page():
                return _refused()
            raise
        what = CHANNEL_WORDS.get(channel, "сообщений")
        return _page(
            "Отписка от рассылки",
            f"<p>Больше не присылать {what} на <b>{html.escape(masked(address))}</b>?</p>"
            "<form method=post><input type=hidden name=List-Unsubscribe value=One-Click>"
            "<button type=submit>Отписаться</button></form>"
            f"<p class=en lang=en>Unsubscribe {html.escape(masked(address))} from these messages?</p>",
        )

    @public
    @blp.doc(
        security=[],
        summary="Unsubscribe (RFC 8058 one-click): the address goes on the suppression list",
        requestBody=ONE_CLICK_BODY,
        responses={
            "200": UNSUBSCRIBED,
            "403": problem_response(403, FORGED),
        },
    )
    def post(self, token: str):
        try:
            channel, address = _verified(token)
        except InvalidLink:
            if _wants_page():
                return _refused()
            raise
        kind = "email" if channel == "email" else "phone"
        row, created = stored.add(db.session, kind, address, channel, REASON, "unsubscribe")
        db.session.commit()
        if created:
            log.info("unsubscribed through a one-click link (%s)", channel)
        if _wants_json():
            return {"unsubscribed": True, "channel": channel, "id": row.id}
        return _page(
            "Вы отписаны",
            f"<p>Адрес <b>{html.escape(masked(address))}</b> больше не будет получать "
            f"{CHANNEL_WORDS.get(channel, 'сообщений')} от этой рассылки.</p>"
            "<p class=en lang=en>You have been unsubscribed.</p>",
        )
