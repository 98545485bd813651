"""strict_loads reads with orjson first: it must accept, read and refuse exactly as the stdlib reader.

``_stdlib_read`` is the reference (the rules the API documented before orjson came in), with every
string of what it read checked for text PostgreSQL cannot store (U+0000, lone surrogates, bytes
that are not UTF-8). For every generated document both must give the same value — same types, same
key order, integers of any size exact — or both refuse with the same problem: strict_loads, which
walks the strings only when orjson could not read the body or it holds a ``\\u0000``, must find
every problem the full walk finds.
"""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plugin.errors import ValidationFailed
from plugin.ingest import reading
from plugin.ingest.reading import MalformedJson, strict_loads

SETTINGS = settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def depth_of(value) -> int:
    if isinstance(value, dict):
        value = list(value.values())
    return 1 + max(map(depth_of, value), default=0) if isinstance(value, list) and value else 1


def reference(raw):
    value, bad_bytes = reading._stdlib_read(raw)
    if depth_of(value) > reading.MAX_DEPTH:
        raise MalformedJson(f"the JSON body is nested deeper than {reading.MAX_DEPTH} levels")
    problems = reading.text_problems(value, bad_bytes=bad_bytes)
    if problems:
        raise reading.unstorable(problems)
    return value


def same(a, b) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float):
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    return a == b


def outcome(read, raw):
    try:
        return "ok", read(raw)
    except (MalformedJson, ValidationFailed) as exc:
        return "refused", (type(exc), exc.args, exc.errors)


def assert_read_alike(raw):
    got, want = outcome(strict_loads, raw), outcome(reference, raw)
    assert got[0] == want[0], (raw[:200], got, want)
    if got[0] == "ok":
        assert same(got[1], want[1]), (raw[:200], got[1], want[1])
    else:
        assert got[1] == want[1]


json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**80), max_value=2**80),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=8),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=4), inner, max_size=4)
    ),
    max_leaves=20,
)


@SETTINGS
@given(json_values, st.booleans())
def test_documents_read_alike(value, ascii_only):
    raw = json.dumps(value, ensure_ascii=ascii_only)
    assert_read_alike(raw.encode())
    assert_read_alike(raw)


digits = st.text(alphabet="0123456789", min_size=1, max_size=25)


@SETTINGS
@given(
    st.sampled_from(["", "-"]),
    digits,
    st.one_of(st.none(), digits),
    st.one_of(
        st.none(),
        st.tuples(
            st.sampled_from(["e", "E", "e+", "e-", "E-"]),
            st.text(alphabet="0123456789", min_size=1, max_size=4),
        ),
    ),
)
def test_number_literals_read_alike(sign, whole, fraction, exponent):
    literal = (
        sign
        + whole
        + (f".{fraction}" if fraction is not None else "")
        + ("".join(exponent) if exponent else "")
    )
    assert_read_alike(literal.encode())
    assert_read_alike(f'{{"n": [{literal}]}}'.encode())


@SETTINGS
@given(st.binary(max_size=30))
def test_arbitrary_bytes_read_alike(raw):
    assert_read_alike(raw)


@SETTINGS
@given(
    st.lists(
        st.sampled_from(
            [
                '{"a":',
                "[",
                "]",
                "}",
                ",",
                '"x"',
                "1",
                "1e999",
                "NaN",
                "-Infinity",
                '"\\ud800"',
                '"\\udc00"',
                '"\\u0000"',
                "\x00",
                "\x1f",
                "\ufeff",
                " ",
                "\t",
                "\x0c",
                "true",
                "nul",
                "12345678901234567890",
                "0.1",
                "-0",
                "\xff",
                "\\",
            ]
        ),
        max_size=12,
    )
)
def test_fragments_read_alike(parts):
    raw = "".join(parts)
    assert_read_alike(raw.encode("utf-8", "surrogatepass"))


@pytest.mark.parametrize(
    "raw",
    [
        b"1e999",
        b"-1e999",
        b"NaN",
        b"Infinity",
        b"[1,]",
        b'"\xff"',
        b'"a\x00b"',
        b"\xef\xbb\xbf{}",
        b'"\\ud800"',
        b"123456789012345678901234567890",
        b"18446744073709551616",
        b"-9223372036854775809",
        b"9223372036854775807",
        b'{"a":1,"b":2,"a":3}',
        b'"1234567890123456789"',
        b"[" * 33 + b"]" * 33,
        b"[" * 32 + b"]" * 32,
        b"[" * 2000 + b"]" * 2000,
        b'{"a": [[], {}, [[]]]}',
        b"1e19",
        b"-1e19",
        b"9.3e18",
        b"[9.1e18]",
        '{"a": "é"}'.encode("utf-16"),
        b"1.7976931348623159e308",
        b"4.9e-324",
    ],
)
def test_edge_cases_read_alike(raw):
    assert_read_alike(raw)


MARK = "¤"  # replaced by bytes that are not UTF-8
odd_text = st.text(
    alphabet=st.sampled_from(
        [
            "a",
            "é",
            "😀",
            "\ud800",
            "\udbff",
            "\udc00",
            "\udcff",
            "\udfff",
            "\x00",
            "\ufffd",
            "\uffff",
            "~",
            "/",
            MARK,
        ]
    ),
    max_size=6,
)
odd_values = st.recursive(
    st.one_of(st.integers(), odd_text),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(odd_text, inner, max_size=3)),
    max_leaves=8,
)


@SETTINGS
@given(
    odd_values,
    st.booleans(),
    st.sampled_from([b"\xc2\xa4", b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xe0\x80"]),
)
def test_text_that_is_not_unicode_is_found_alike(value, ascii_only, mark_bytes):
    """Lone surrogates as escapes (ascii_only) or as CESU-8 bytes, NULs, bytes that are not UTF-8."""
    raw = json.dumps(value, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
    raw = raw.replace(json.dumps(MARK, ensure_ascii=ascii_only)[1:-1].encode(), mark_bytes)
    assert_read_alike(raw)


def test_integers_beyond_64_bits_stay_exact():
    assert strict_loads(b'{"n": 123456789012345678901234567890}') == {"n": 123456789012345678901234567890}
    assert strict_loads(b"[18446744073709551616]") == [18446744073709551616]
