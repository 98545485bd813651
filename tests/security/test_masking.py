"""The one masker (plugin/masking.py): every spelling of a secret, nothing else, and log records."""

from __future__ import annotations

import base64
import json
import logging
from urllib.parse import quote

import pytest

from plugin.masking import SECRET_PLACEHOLDER, install_log_masking, mask, remember
from tests.fakes._http import spellings

SECRET = "tok/en+Zé 9:Ab"


@pytest.mark.parametrize("name", sorted(spellings(SECRET, "AC123")))
def test_every_spelling_of_a_secret_is_masked(name):
    spelled = spellings(SECRET, "AC123")[name]
    text = f"answer: {spelled} (end)"
    masked = mask(text, [SECRET])
    assert spelled not in masked and SECRET_PLACEHOLDER in masked, masked
    assert masked.endswith(" (end)")


@pytest.mark.parametrize(
    "spelled",
    [
        json.dumps(json.dumps(SECRET)),  # JSON inside JSON
        quote(quote(SECRET, safe=""), safe=""),  # %25-doubled
        "".join(f"&#{ord(c)};" for c in SECRET),  # HTML references
        "".join(f"&#x{ord(c):X};" for c in SECRET),
        base64.b64encode(f"\0user\0{SECRET}".encode()).decode(),  # SMTP AUTH PLAIN
        base64.urlsafe_b64encode(b"xy:" + SECRET.encode()).decode(),
        SECRET.encode().hex().upper(),
    ],
)
def test_nested_and_mixed_spellings_are_masked(spelled):
    masked = mask(spelled, [SECRET])
    assert SECRET not in masked and spelled not in masked and SECRET_PLACEHOLDER in masked, masked


def test_short_values_and_innocent_text_are_left_alone():
    text = "HTTP 401 from api.example.com: token abc rejected"
    assert mask(text, ["abc", "12345"]) == text
    assert mask({"k": [text, 5, None]}, [SECRET]) == {"k": [text, 5, None]}


def test_the_parts_of_a_secret_url_are_masked_alone():
    url = "https://hooks.slack.com/services/T0AAA1111/B0BBB2222/xyzSecretPart1234"
    masked = mask(
        "no_service for /services/T0AAA1111/B0BBB2222/xyzSecretPart1234 and xyzSecretPart1234", [url]
    )
    assert "xyzSecretPart1234" not in masked and "T0AAA1111/B0BBB2222" not in masked


def test_a_log_record_never_carries_a_known_secret(caplog):
    install_log_masking()
    remember(["log-secret-" + "q" * 8])
    caplog.set_level(logging.INFO)
    log = logging.getLogger("plugin.test")
    log.info("calling %s with %s", "x", quote("log-secret-qqqqqqqq", safe=""))
    try:
        raise ValueError(base64.b64encode(b"u:log-secret-qqqqqqqq").decode())
    except ValueError:
        log.exception("failed")
    blob = base64.b64encode(b"u:log-secret-qqqqqqqq").decode()
    assert "log-secret" not in caplog.text and blob[4:-4] not in caplog.text
    assert SECRET_PLACEHOLDER in caplog.records[0].getMessage()
