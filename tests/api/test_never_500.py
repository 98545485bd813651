"""Never a 500 for bad input, never an HTML page from /api (SPEC §7): junk sent to every route."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import unquote_to_bytes

FLOWS = Path(__file__).resolve().parent.parent / "fixtures" / "flows"
JUNK = [
    [],
    "x",
    0,
    None,
    True,
    {},
    {
        "params": None,
        "context": None,
        "flow": None,
        "items": None,
        "nodes": None,
        "edges": None,
        "name": None,
    },
    {"params": {"operator": {"$gt": ""}}, "context": {"visit": {"city": ["a"]}}, "flow": {"nodes": [{}]}},
    {"items": [{"type": "visit", "data": {"id": {"nested": [1, {"deeper": None}]}}}]},
    {
        "name": "x" * 100_000,
        "nodes": [{"id": "a" * 1000, "type": "event." + "x" * 1000, "params": {}}],
        "edges": [],
    },
    {
        "event_id": -1,
        "order_id": [],
        "visit_id": {},
        "context": {"order": {"price": "NaN", "created_at": "soon"}},
    },
    # NUL characters: PostgreSQL text cannot hold them
    {"id": "v\x00", "city": "Мос\x00ква", "name": "n\x00", "status": "\x00", "data": {"k\x00": "v\x00"}},
    {
        "items": [
            {"type": "visit", "data": {"id": "v\x00"}},
            {"type": "client", "data": {"external_id": "c\x00"}},
        ]
    },
]
RAW = [b"{", b"\x00\x01", b'{"a": Infinity}', '{"a": "\ud800"}'.encode("utf-8", "surrogatepass"), b"[" * 5000]


def concrete_paths(app, client) -> list[tuple[str, str]]:
    doc = json.loads((FLOWS / "big_order_slack.json").read_text(encoding="utf-8"))
    flow_id = client.post("/api/v1/flows", json=doc).get_json()["id"]
    preset = {"name": "p", "kind": "action", "nodes": [doc["nodes"][2]]}
    preset_id = client.post("/api/v1/presets", json=preset).get_json()["id"]
    token_id = client.post("/api/v1/tokens", json={"name": "t", "scope": "read"}).get_json()["id"]
    entry_id = client.post("/api/v1/suppressions", json={"email": "junk@example.ru"}).get_json()["id"]
    values = {
        "flow_id": flow_id,
        "preset_id": preset_id,
        "run_id": "no-such-run",
        "external_id": "c-junk",
        "order_id": "o-junk",
        "visit_id": "v-junk",
        "number": "1",  # a flow version (a restore of the current one is a 409)
        "node_id": "start",  # send-test of the event node: junk is refused, nothing is ever sent
        "filename": "x.js",
        "token_id": str(token_id),
        "key": "hk_no-such-key",
        "connection_id": "no-such-connection",
        "entry_id": entry_id,
        "token": "ZTpqdW5rQGV4YW1wbGUucnU.not-signed",  # an unsubscribe link's token, not signed
    }
    out = []
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            if "type_id" in rule.arguments:
                for type_id in (
                    "condition.visit_city",
                    "event.order_status_changed",
                    "action.webhook",
                    "flow.delay",
                ):
                    out.append((method, rule.rule.replace("<string:type_id>", type_id)))
                continue
            path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", lambda m: values[m.group(1)], rule.rule)
            out.append((method, path))
    return out


def test_junk_to_every_route_is_never_a_500_and_api_errors_are_problems(app, client):
    failures = []
    for method, path in concrete_paths(app, client):
        if path in ("/", "/favicon.svg") or path.startswith("/assets/"):
            continue
        attempts = [{"json": body} for body in JUNK] + [
            {"data": raw, "content_type": "application/json"} for raw in RAW
        ]
        if method == "GET":
            attempts = [
                {"query_string": {"limit": "-1", "status": "x", "cursor": "%%", "flow_id": "\x00"}},
                {},
            ]
        for kwargs in attempts:
            resp = client.open(path, method=method, **kwargs)
            if resp.status_code >= 500:
                failures.append(f"{method} {path} {str(kwargs)[:80]}: {resp.status_code}")
            elif resp.status_code >= 400 and resp.mimetype != "application/problem+json":
                failures.append(f"{method} {path}: {resp.status_code} as {resp.mimetype}")
    assert not failures, "\n".join(failures)


def test_nul_characters_are_422_with_their_paths_on_every_backend(client, anon):
    """PostgreSQL text cannot hold U+0000: the API refuses it up front instead of failing mid-write."""
    doc = json.loads((FLOWS / "big_order_slack.json").read_text(encoding="utf-8"))
    cases = [
        ("post", "/api/v1/visits", {"id": "v1", "city": "Мос\x00ква"}, ["/city"]),
        ("put", "/api/v1/clients/c1", {"name": "a\x00", "fields": {"k\x00": 1}}, ["/name", "/fields/k\x00"]),
        ("put", "/api/v1/orders/o1", {"status": "\x00"}, ["/status"]),
        ("post", "/api/v1/events", {"name": "form", "data": {"list": ["ok", "b\x00d"]}}, ["/data/list/1"]),
        (
            "post",
            "/api/v1/batch",
            {"items": [{"type": "visit", "data": {"id": "v\x00"}}]},
            ["/items/0/data/id"],
        ),
        ("post", "/api/v1/flows", {**doc, "name": "a\x00"}, ["/name"]),
        (
            "post",
            "/api/v1/presets",
            {"name": "p\x00", "kind": "action", "nodes": [doc["nodes"][2]]},
            ["/name"],
        ),
    ]
    for method, url, body, paths in cases:
        resp = getattr(client, method)(url, json=body)
        assert resp.status_code == 422, f"{method} {url}: {resp.status_code}"
        assert resp.mimetype == "application/problem+json"
        assert sorted(e["path"] for e in resp.get_json()["errors"]) == sorted(paths), resp.get_json()
    urls = (
        "/api/v1/flows/a%00",
        "/api/v1/runs/a%00",
        "/api/v1/runs?flow_id=a%00",
        "/api/v1/runs?flow_id=%FF",
        "/api/v1/flows/%ED%A0%80",
    )
    for url in urls:
        path, _, query = url.partition("?")
        raw_path = unquote_to_bytes(path).decode(
            "latin-1"
        )  # the path's bytes as a server gives them (PEP 3333)
        resp = client.get(path, query_string=query, environ_overrides={"PATH_INFO": raw_path})
        assert resp.status_code == 422 and resp.mimetype == "application/problem+json", url
    assert client.get("/api/v1/flows").get_json()["flows"] == []
    # auth still comes first
    assert anon.post("/api/v1/visits", json={"id": "v\x00"}).status_code == 401


def test_text_that_is_not_unicode_is_422_with_its_path_on_every_json_route(client):
    """A lone surrogate (as a \\uXXXX escape or as CESU-8 bytes) or bytes that are not UTF-8, in any
    string of any JSON body: a 422 naming its path, before the view reads it — never a 500, a 200
    computed on it, or a flow stored with it."""
    lone, mark = "\ud800", "<BAD>"
    doc = json.loads((FLOWS / "big_order_slack.json").read_text(encoding="utf-8"))
    flow_id = client.post("/api/v1/flows", json=doc).get_json()["id"]
    preset = {"name": "p", "kind": "action", "nodes": [doc["nodes"][2]]}
    preset_id = client.post("/api/v1/presets", json=preset).get_json()["id"]
    exported = client.get(f"/api/v1/flows/{flow_id}/export").get_json()
    visit = {"context": {"visit": {"id": "v1", "city": mark}}}
    routes = [
        ("post", "/api/v1/flows", {**doc, "name": mark}, "/name"),
        ("put", f"/api/v1/flows/{flow_id}", {**doc, "name": mark}, "/name"),
        ("patch", f"/api/v1/flows/{flow_id}", {"name": mark}, "/name"),
        # on_conflict=copy: the valid control imports a copy beside the flow it was exported from
        ("post", "/api/v1/flows/import?on_conflict=copy", {**exported, "name": mark}, "/name"),
        (
            "post",
            "/api/v1/flows/import?on_conflict=copy",
            {"flows": [exported, {**exported, mark: 1}]},
            "/flows/1/\ufffd",
        ),
        ("post", "/api/v1/presets", {**preset, "name": mark}, "/name"),
        ("put", f"/api/v1/presets/{preset_id}", {**preset, "name": mark}, "/name"),
        ("post", f"/api/v1/flows/{flow_id}/test", visit, "/context/visit/city"),
        ("post", "/api/v1/flows/test", {"flow": doc, **visit}, "/context/visit/city"),
        (
            "post",
            "/api/v1/nodes/condition.visit_city/execute",
            {"params": {"operator": "equals", "value": "Москва"}, **visit},
            "/context/visit/city",
        ),
        (
            "post",
            "/api/v1/nodes/action.webhook/execute",
            {"params": {"url": "http://127.0.0.1:9/" + mark, "method": "POST"}},
            "/params/url",
        ),
    ]
    text = lambda d: json.dumps(d, ensure_ascii=False)
    encodings = [  # (name, how, U+FFFDs standing for the bad character in a key's pointer)
        ("escape", lambda d: json.dumps(d).replace(mark, "\\ud800").encode(), 1),
        ("cesu", lambda d: text(d).replace(mark, lone).encode("utf-8", "surrogatepass"), 3),
        ("bytes", lambda d: text(d).encode().replace(mark.encode(), b"\xc0\xaf\xff"), 3),
    ]
    failures = []
    for method, url, body, path in routes:
        for name, encode, replaced in encodings:
            resp = client.open(url, method=method.upper(), data=encode(body), content_type="application/json")
            paths = [e["path"] for e in (resp.get_json(silent=True) or {}).get("errors", [])]
            want = path.replace("\ufffd", "\ufffd" * replaced)
            if resp.status_code != 422 or resp.mimetype != "application/problem+json" or paths != [want]:
                failures.append(f"{method} {url} ({name}): {resp.status_code} {resp.get_data()[:300]!r}")
        # the same body with valid text is taken: it is the text that was refused
        control = json.dumps(body, ensure_ascii=False).replace(mark, "x").encode()
        resp = client.open(url, method=method.upper(), data=control, content_type="application/json")
        if resp.status_code >= 300:
            failures.append(f"{method} {url} (valid text): {resp.status_code} {resp.get_data()[:300]!r}")
    assert not failures, "\n".join(failures)
    names = [f["name"] for f in client.get("/api/v1/flows").get_json()["flows"]]
    names += [p["name"] for p in client.get("/api/v1/presets").get_json()["presets"]]
    assert len(names) == 7  # 5 flows, 2 presets: the first ones and the valid controls
    assert not [n for n in names if "\ufffd" in n or any("\ud800" <= c <= "\udfff" for c in n)]
