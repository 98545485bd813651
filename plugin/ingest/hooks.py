"""Site-form sources (SPEC §11): their keys, and a form's fields stored as a custom event.

A source's key is the only credential of ``POST /api/v1/hooks/{key}``: it is found by its SHA-256
and kept sealed with the secret box (so the UI can show the URL again, to paste it into Tilda);
revoking it keeps the row. A form's phone, email and name fields (Russian and English names) fill
the event's client: an existing client with that email or phone, else one keyed by the contact.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from typing import Any

from sqlalchemy import func
from sqlalchemy.orm import Session

from plugin.ingest.store import ingest_custom_event, upsert_client
from plugin.masking import remember
from plugin.nodes._services.phones import to_e164
from plugin.storage.models import Client, Event, HookSource, utcnow
from plugin.storage.secrets import ENCRYPTED, SecretBox

KEY_PREFIX = "hk_"

# field names (casefolded, without spaces, dashes or underscores) → the client's field
CONTACT_NAMES = {
    "phone": {
        "phone", "tel", "telephone", "mobile", "mobilephone", "phonenumber", "yourphone", "cellphone",
        "телефон", "тел", "мобильный", "мобильныйтелефон", "номертелефона", "ваштелефон", "контактныйтелефон",
    },
    "email": {
        "email", "mail", "emailaddress", "youremail", "почта", "электроннаяпочта", "емейл", "имейл",
        "вашemail", "вашапочта", "адреспочты",
    },
    "name": {
        "name", "fullname", "yourname", "firstname", "contactname", "fio", "clientname",
        "имя", "фио", "вашеимя", "имяфамилия", "каквасзовут", "контактноелицо",
    },
}  # fmt: skip
_NORMAL = re.compile(r"[\W_]+")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_ROISTAT_COOKIE = re.compile(r"(?:^|[;\s])roistat_visit=([0-9A-Za-z_-]{1,64})")
VISIT_FIELDS = ("roistat_visit", "visit_id")


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()


def create_source(session: Session, box: SecretBox, name: str) -> tuple[HookSource, str]:
    key = KEY_PREFIX + secrets.token_urlsafe(24)
    source = HookSource(
        name=name, key_hash=hash_key(key), key_sealed=box.encrypt(key)[ENCRYPTED], created_at=utcnow()
    )
    session.add(source)
    remember([key])  # never in this process's logs or problem bodies
    return source, key


def open_key(box: SecretBox, source: HookSource) -> str | None:
    """The source's key, or None when no configured secret key opens it (rotated away)."""
    try:
        key = box.decrypt({ENCRYPTED: source.key_sealed})
    except ValueError:
        return None
    remember([key])
    return key


def rotate_keys(session: Session, box: SecretBox) -> int:
    """Re-seal every source's key with the first secret key (``server.py secrets rotate``)."""
    sources = session.query(HookSource).all()
    for source in sources:
        source.key_sealed = box.rotate({ENCRYPTED: source.key_sealed})[ENCRYPTED]
    return len(sources)


def active_sources(session: Session) -> list[HookSource]:
    query = session.query(HookSource).filter(HookSource.revoked.is_(False))
    return query.order_by(HookSource.created_at, HookSource.id).all()


def source_by_key(session: Session, key: str) -> HookSource | None:
    """The active source of ``key``; an unknown and a revoked key are alike (None)."""
    if not key.startswith(KEY_PREFIX) or len(key) > 100:
        return None
    source = session.query(HookSource).filter(HookSource.key_hash == hash_key(key)).one_or_none()
    return source if source is not None and not source.revoked else None


def revoke(session: Session, ref: str) -> bool:
    """Revoke the active source whose id (or key) is ``ref``; False when there is none."""
    source = session.get(HookSource, ref) if len(ref) <= 64 else None
    if source is None or source.revoked:
        source = source_by_key(session, ref)
    if source is None or source.revoked:
        return False
    source.revoked = True
    return True


def store_submission(
    session: Session, source: HookSource, fields: dict[str, Any]
) -> tuple[bool, list[Event]]:
    """Store the form as a custom event named by the source (the caller commits)."""
    source.last_used_at = utcnow()
    transaction = _first_text(fields.get("tranid"))  # Tilda's id of a submission: its retries fire once
    event = {
        "id": f"hook-{hash_key(source.id + ':' + transaction)[:32]}" if transaction else None,
        "name": source.name,
        "visit_id": visit_id(fields),
        "client_id": _client_id(session, contact(fields)),
        "data": fields,
    }
    return ingest_custom_event(session, event)


def _first_text(value: Any) -> str | None:
    """A field's text: the first non-empty value of a list; numbers as text; objects ignored."""
    for item in value if isinstance(value, list) else [value]:
        if isinstance(item, bool) or not isinstance(item, str | int | float):
            continue
        text = str(item).strip()
        if text:
            return text
    return None


def contact(fields: dict[str, Any]) -> dict[str, str]:
    """The client's ``phone``, ``email`` and ``name`` found among the form's fields."""
    found: dict[str, str] = {}
    for key, value in fields.items():
        normal = _NORMAL.sub("", key.casefold())
        for target, names in CONTACT_NAMES.items():
            text = _first_text(value)
            if target not in found and normal in names and text:
                found[target] = text
    out = {}
    if (phone := found.get("phone")) and any(c.isdigit() for c in phone):
        out["phone"] = to_e164(phone) or phone[:64]
    if (email := found.get("email")) and len(email) <= 320 and _EMAIL.match(email):
        out["email"] = email
    if name := found.get("name"):
        out["name"] = name[:500]
    return out


def visit_id(fields: dict[str, Any]) -> str | None:
    """Roistat's visit: a ``roistat_visit`` (or ``visit_id``) field, else Tilda's ``COOKIES`` field."""
    for name in VISIT_FIELDS:
        text = _first_text(fields.get(name))
        if text and len(text) <= 64 and "/" not in text:
            return text
    cookies = _first_text(fields.get("COOKIES"))
    found = _ROISTAT_COOKIE.search(cookies or "")
    return found.group(1) if found else None


def _client_id(session: Session, data: dict[str, str]) -> str | None:
    """An existing client with the email (then the phone), its empty fields filled; else a new one."""
    if not data.get("email") and not data.get("phone"):
        return None
    client = None
    if data.get("email"):
        query = session.query(Client).filter(func.lower(Client.email) == data["email"].lower())
        client = query.order_by(Client.updated_at.desc()).first()
    if client is None and data.get("phone"):
        phones = {data["phone"], data["phone"].lstrip("+")}
        client = (
            session.query(Client).filter(Client.phone.in_(phones)).order_by(Client.updated_at.desc()).first()
        )
    if client is None:
        identity = data["email"].lower() if data.get("email") else data["phone"]
        client = _new_client(session, "form-" + hashlib.sha256(identity.encode()).hexdigest()[:24])
    missing = {k: v for k, v in data.items() if not getattr(client, k)}
    if missing:
        upsert_client(session, client.external_id, missing)
    return client.external_id


def _new_client(session: Session, external_id: str) -> Client:
    """INSERT … ON CONFLICT DO NOTHING: two first posts of one contact at once make one client."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    now = utcnow()
    row = {"external_id": external_id, "fields": {}, "created_at": now, "updated_at": now}
    session.connection().execute(insert(Client).values(row).on_conflict_do_nothing())
    return session.get(Client, external_id)
