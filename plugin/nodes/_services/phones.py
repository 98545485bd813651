"""Phone normalisation to E.164 with ``phonenumbers`` (default region Russia).

phonenumbers (~1 MB, 58 modules) is imported by the first number to normalise, not with the
node registry: a worker that sends no SMS does not load it.
"""

from __future__ import annotations

DEFAULT_REGION = "RU"


def to_e164(raw: str | None, region: str = DEFAULT_REGION) -> str | None:
    """``"8 (912) 345-67-89"`` → ``"+79123456789"``; ``None`` for an invalid or unparsable number."""
    if not raw or not str(raw).strip():
        return None
    import phonenumbers

    text = str(raw).strip()
    candidates = [text]
    # Roistat stores phones as bare digits ("79012223344"): also try them as an international number.
    if text.isdigit():
        candidates.append("+" + text)
    for candidate in candidates:
        try:
            number = phonenumbers.parse(candidate, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return None


def digits(e164: str) -> str:
    """``"+79123456789"`` → ``"79123456789"`` (what SMS.ru wants)."""
    return e164.lstrip("+")
