"""The signed unsubscribe links (nodes/_services/optout.py): sign, verify, refuse what was altered,
survive a key rotation; the addresses a step looks up; the ``List-Unsubscribe`` header's text."""

from __future__ import annotations

import base64

import pytest

from plugin.nodes._services.optout import Links, addresses_of, normalize_email, normalize_phone
from plugin.storage.secrets import SecretBox, generate_key

OLD, NEW = generate_key(), generate_key()


def _links(*keys: bytes, mailto: str = "") -> Links:
    return Links(SecretBox(list(keys)).derived_keys("unsubscribe-links"), "https://m.example.ru/", mailto)


@pytest.mark.parametrize(("channel", "address"), [("email", "ivan@example.ru"), ("sms", "+79123456789")])
def test_a_link_verifies_to_its_channel_and_address(channel, address):
    links = _links(OLD)
    url = links.url(channel, address)
    assert url.startswith("https://m.example.ru/api/v1/unsubscribe/")
    assert links.verify(url.rsplit("/", 1)[1]) == (channel, address)


def test_rotating_the_secret_key_keeps_old_links_while_the_old_key_is_listed():
    token = _links(OLD).token("email", "ivan@example.ru")
    assert _links(NEW, OLD).verify(token) == ("email", "ivan@example.ru")
    assert _links(NEW).verify(token) is None
    assert _links(NEW, OLD).token("email", "ivan@example.ru") == _links(NEW).token("email", "ivan@example.ru")


def test_the_signing_key_is_not_the_encryption_key():
    box = SecretBox([OLD])
    [derived] = box.derived_keys("unsubscribe-links")
    assert len(derived) == 32 and derived not in (OLD, base64.urlsafe_b64decode(OLD))
    assert derived != box.derived_keys("another-purpose")[0]


def test_altered_tokens_are_refused():
    links = _links(OLD)
    token = links.token("email", "ivan@example.ru")
    payload, signature = token.split(".")
    other_payload = links.token("email", "boss@example.ru").split(".")[0]
    sms_payload = links.token("sms", "ivan@example.ru").split(".")[0]
    for bad in (
        f"{other_payload}.{signature}",
        f"{sms_payload}.{signature}",
        payload,
        f"{payload}.",
        "a.b",
        "",
    ):
        assert links.verify(bad) is None, bad


def test_list_unsubscribe_has_the_url_and_the_mailto_when_configured():
    assert _links(OLD).list_unsubscribe("a@b.ru") == f"<{_links(OLD).url('email', 'a@b.ru')}>"
    with_mailto = _links(OLD, mailto="stop@example.ru").list_unsubscribe("a@b.ru")
    assert with_mailto.endswith(", <mailto:stop@example.ru?subject=unsubscribe>")


def test_addresses_normalised_as_the_steps_read_them():
    assert normalize_email("  Ivan@Example.RU ") == "ivan@example.ru"
    assert normalize_email("no-at-sign") is None and normalize_email(None) is None
    assert normalize_phone("8 (912) 345-67-89") == "+79123456789" and normalize_phone("12") is None
    client = {"email": "Ivan@Example.ru", "phone": "89123456789"}
    assert addresses_of(client, "email") == ["ivan@example.ru"]  # a letter does not load phonenumbers
    assert addresses_of(client, "sms") == ["ivan@example.ru", "+79123456789"]
    assert addresses_of(None, "sms") == []
