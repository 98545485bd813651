"""A site form's body as fields (SPEC §11): JSON, ``application/x-www-form-urlencoded`` or multipart.

Text is read strictly, like JSON bodies (:mod:`plugin.ingest.reading`): bytes that are not in the
declared charset, U+0000 and lone surrogates are a 422 naming each field, never a silent U+FFFD.
A repeated field becomes a list (as does a ``name[]`` one); files of a multipart form are not
stored, their field names are returned so the answer can say so.
"""

from __future__ import annotations

import codecs
from typing import Any
from urllib.parse import parse_qsl

from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.sansio.multipart import Data, Epilogue, Field, File, MultipartDecoder, NeedData

from plugin.errors import ApiProblem, ValidationFailed
from plugin.ingest.reading import pointer, strict_loads, text_problems, unstorable
from plugin.messages import msg

MAX_FIELDS = 500
MAX_KEY = 200
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class UnsupportedMediaType(ApiProblem):
    status = 415
    title = "Unsupported media type"
    slug = "unsupported-media-type"


def read_form(raw: bytes, mimetype: str, options: dict[str, str]) -> tuple[dict[str, Any], list[str]]:
    """``(fields, file field names)`` of a body; every problem at once as a 4xx problem."""
    if mimetype == "application/json" or mimetype.endswith("+json"):
        body = strict_loads(raw) if raw.strip() else {}
        if not isinstance(body, dict):
            raise ValidationFailed(
                msg("body.object", "the body must be a JSON object"),
                [{"path": "/", "message": msg("body.expected_object", "expected an object")}],
            )
        return body, []
    if mimetype == "application/x-www-form-urlencoded" or (not mimetype and not raw.strip()):
        pairs, files = _urlencoded(raw, _charset(options)), []
    elif mimetype == "multipart/form-data":
        pairs, files = _multipart(raw, options.get("boundary", ""))
    else:
        english = (
            f"expected Content-Type application/json, {' or '.join(FORM_TYPES)}, got {mimetype or 'none'!r}"
        )
        raise UnsupportedMediaType(
            msg("body.media_types", english, types=("application/json", *FORM_TYPES), got=mimetype)
        )
    return _fields(pairs), files


def _charset(options: dict[str, str]) -> str:
    name = options.get("charset", "utf-8").strip() or "utf-8"
    try:
        return codecs.lookup(name).name
    except LookupError:
        raise UnsupportedMediaType(
            msg("form.charset", f"unknown charset {name!r}; send UTF-8", name=name)
        ) from None


def _urlencoded(raw: bytes, charset: str) -> list[tuple[str, str]]:
    if raw.count(b"&") >= MAX_FIELDS:
        raise _too_many()
    # latin-1 keeps every byte as one character, so the charset decodes the bytes themselves
    pairs = parse_qsl(raw.decode("latin-1"), keep_blank_values=True, encoding="latin-1")

    def text(part: str) -> str:
        return part.encode("latin-1").decode(charset, "surrogateescape")

    return [(text(k), text(v)) for k, v in pairs]


def _multipart(raw: bytes, boundary: str) -> tuple[list[tuple[str, str]], list[str]]:
    if not boundary:
        raise ApiProblem(
            msg("form.boundary", "a multipart body needs the boundary parameter of its Content-Type")
        )
    decoder = MultipartDecoder(boundary.encode("latin-1", "replace"), max_form_memory_size=len(raw) + 1)
    try:
        decoder.receive_data(raw)
        decoder.receive_data(None)
        return _parts(decoder)
    except UnicodeDecodeError:
        raise ValidationFailed(
            msg("form.part_headers", "a part's headers are not valid UTF-8"),
            [{"path": "/", "message": msg("form.names_utf8", "field names must be UTF-8")}],
        ) from None
    except (ValueError, RequestEntityTooLarge) as exc:
        raise ApiProblem(
            msg("form.unreadable", f"the multipart body cannot be read: {exc}"),
            [{"path": "/", "message": msg("form.unreadable_why", str(exc), why=str(exc))}],
        ) from None


def _parts(decoder: MultipartDecoder) -> tuple[list[tuple[str, str]], list[str]]:
    """The fields' raw text (bytes kept as surrogates, judged later) and the files' field names."""
    pairs, files, part, chunks = [], [], None, []
    event = decoder.next_event()
    while not isinstance(event, Epilogue):
        if isinstance(event, NeedData):
            raise ValueError("the body ends before its closing boundary")
        if isinstance(event, Field | File):
            part, chunks = event, []
        elif isinstance(event, Data):
            chunks.append(event.data)
            if not event.more_data and isinstance(part, Field):
                pairs.append((part.name, b"".join(chunks).decode("utf-8", "surrogateescape")))
            elif not event.more_data:
                files.append(part.name)
        if len(pairs) + len(files) > MAX_FIELDS:
            raise _too_many()
        event = decoder.next_event()
    return pairs, files


def _too_many() -> ValidationFailed:
    return ValidationFailed(
        msg("form.too_many", f"a form may have at most {MAX_FIELDS} fields", max=MAX_FIELDS),
        [{"path": "/", "message": msg("form.fields_over", f"more than {MAX_FIELDS} fields", max=MAX_FIELDS)}],
    )


def _fields(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Pairs → an object: a repeated key (or ``key[]``) becomes a list of its values."""
    grouped: dict[str, list[str]] = {}
    listed: set[str] = set()
    for key, value in pairs:
        name = key[:-2] if key.endswith("[]") and len(key) > 2 else key
        if name != key:
            listed.add(name)
        grouped.setdefault(name, []).append(value)
    fields = {k: v if len(v) > 1 or k in listed else v[0] for k, v in grouped.items()}
    problems = text_problems(fields, "", bad_bytes=True)
    problems += [
        {
            "path": pointer("", k),
            "message": msg("form.key_length", f"a field name has at most {MAX_KEY} characters", max=MAX_KEY),
        }
        for k in fields
        if len(k) > MAX_KEY
    ]
    if problems:
        raise unstorable(problems)
    return fields
