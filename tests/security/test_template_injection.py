"""Template injection (SPEC §4): every payload is refused at save time or renders inertly and fast."""

from __future__ import annotations

import time

import pytest

from plugin.engine import templating
from tests.conftest import TOKEN
from tests.security.conftest import leaks

SLACK_SECRET = "https://hooks.slack.com/services/T0SECRET/B0SECRET/injectionsecret42"
SECRET_KEY = "0Nq0kxJ7m3y0n4U3hCz8y2W3x9mQm0mX4nOa3JcZ6eA="  # the test app's AUTOMATION_SECRET_KEY

CONTEXT = {
    "visit": {"id": "1", "city": "Москва", "ip": "10.0.0.1"},
    "order": {"id": "100", "price": 120.0, "status": "Новая", "fields": {"note": "{{ 7*7 }}"}},
    "client": {"external_id": "2", "name": "{{ 7*7 }}", "email": "a@example.com", "phone": "79000000000"},
    "event": None,
}

PAYLOADS = [
    # Python internals
    "{{ ''.__class__.__mro__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ ().__class__.__bases__[0].__subclasses__() }}",
    "{{ [].__class__.__base__.__subclasses__() }}",
    "{{ (1).__class__.__mro__ }}",
    "{{ order.__dict__ }}",
    "{{ order.__class__.__subclasses__() }}",
    "{{ order.items.__self__ }}",
    "{{ event.data.__class__ }}",
    "{{ roistat.__class__ }}",
    "{{ range.__globals__ }}",
    "{{ range.__closure__ }}",
    "{{ ''['__class__'] }}",
    "{{ ''['\\x5f\\x5fclass\\x5f\\x5f'] }}",
    "{{ ''|attr('__class__') }}",
    "{{ ''|attr('__class__')|attr('__mro__') }}",
    "{{ order|attr('__class__') }}",
    "{{ [1, 2]|map(attribute='__class__')|list }}",
    "{{ client.name.__len__() }}",
    "{{ (1).to_bytes(1000000000, 'big') }}",
    # Jinja and Flask globals
    "{{ cycler.__init__.__globals__ }}",
    "{{ joiner.__init__.__globals__.os }}",
    "{{ namespace.__init__.__globals__ }}",
    "{{ lipsum.__globals__ }}",
    "{{ lipsum.__globals__['os'].popen('id').read() }}",
    "{{ self }}",
    "{{ self._TemplateReference__context }}",
    "{{ self.__dict__ }}",
    "{{ config }}",
    "{{ config.items() }}",
    "{{ request }}",
    "{{ request.application.__globals__ }}",
    "{{ url_for.__globals__ }}",
    "{{ g }}",
    "{{ __import__('os') }}",
    "{{ secrets }}",
    "{{ params }}",
    "{% set x = namespace() %}{% set x.y = 1 %}{{ x.y }}",
    "{% set x = namespace(a=order) %}{{ x.__class__ }}",
    "{% include '/etc/passwd' %}",
    "{% import 'os' as os %}",
    "{% extends '/etc/passwd' %}",
    # mutation of the context
    "{{ order.pop('id') }}",
    "{{ order.update({'id': 1}) }}",
    # format-string tricks
    "{{ '{0.__class__}'.format(order) }}",
    "{{ '{0.__class__.__init__.__globals__}'.format(order) }}",
    "{{ '{:>999999999}'.format(1) }}",
    "{{ '{0:{1}}'.format(1, 999999999) }}",
    "{{ ''.format_map }}",
    "{{ '%s'|format(order.__class__) }}",
    "{{ '%s'|format(''.upper) }}",
    "{{ '%.1000000000f'|format(1.0) }}",
    "{{ '%0999999999d'|format(1) }}",
    "{{ '%*d' % (999999999, 1) }}",
    "{{ '%(a)999999999s' % {'a': 1} }}",
    "{client_name.__class__}",
    "{client_name!r}",
    "{order_id.__init__.__globals__}",
    # loop and macro tricks
    "{% for i in range(3) %}{{ loop.cycle.__globals__ }}{% endfor %}",
    "{% for i in range(3) %}{{ loop.__class__.__init__.__globals__ }}{% endfor %}",
    "{% for i in range(3) %}{{ loop.cycle(*range(1000)) }}{{ loop }}{% endfor %}",
    "{% macro m(n) %}{{ m(n) }}{% endmacro %}{{ m(1) }}",
    "{% macro m() %}{{ m() }}{{ m() }}{% endmacro %}{{ m() }}",
    "{% macro d(n) %}{% if n > 0 %}{{ d(n-1) }}{{ d(n-1) }}{% endif %}{% endmacro %}{{ d(40) }}",
    "{% macro m() %}x{% endmacro %}{{ m }}{{ [m]|join }}{{ m|string }}",
    # CPU and memory
    "{{ range(10**9)|list }}",
    "{{ range(10**9)|length }}",
    "{% for a in range(1000) %}{% for b in range(1000) %}{% for c in range(1000) %}{% endfor %}{% endfor %}{% endfor %}",
    "{% for a in range(1000) %}{% for b in range(1000) %}x{% endfor %}{% endfor %}",
    "{% set s = 'x'*500000 %}{% for a in s %}{% for b in s %}{% endfor %}{% endfor %}",
    "{{ 'a'*10**9 }}",
    "{{ 9**9**9 }}",
    "{{ 10**100000 }}",
    "{% set a = 10**64 %}{{ ((a**64)**64)**64 }}",
    "{% set a = 2**64 %}" + "{% set a = a*a %}" * 30 + "{{ a }}",
    "{{ [0]*100000000 }}",
    "{{ range(1000)|join('x'*1000) }}",
    "{% set s = 'x'*500000 %}{{ s ~ s ~ s ~ s }}",
    "{% set s = 'x'*500000 %}{{ [s, s, s, s]|join }}",
    "{% set s = 'x'*500000 %}" + "{% set s %}{{ s }}{{ s }}{% endset %}" * 30 + "{{ s|length }}",
    "{% set l = [1] %}" + "{% set l = [l, l] %}" * 40 + "{{ l|length }}",
    "{% set t = (1,) %}" + "{% set t = (t, t) %}" * 40 + "{{ {t: 1} }}",
    "{{ 'x'|replace('x', 'x'*100000)|replace('x', 'x'*100000) }}",
    "{{ ('a'*100000)|center(1000000000) }}",
    "{{ 'a'|indent(1000000000) }}",
    "{{ range(1000)|slice(1000000000)|list }}",
    "{{ [1]|batch(1000000000, 'x'*1000)|list }}",
    "{% set l = [[1]*100000]*2 %}{{ l|sum(start=[])|length }}",
    "{{ order|tojson(indent=1000000000) }}",
    "{{ 'x'.center(1000000000) }}",
    "{{ ','.join(['x'*500000]*1000) }}",
    "{{ 'x'.translate({120: 'y'*500000}) }}",
    # reprs
    "{{ ''.upper }}",
    "{{ [''.upper]|join }}",
    "{{ range(3)|map('upper') }}",
    "{{ '%s %s' % (loop, range) }}",
    "{{ roistat.items() }}",
]


def slack_flow(text: str) -> dict:
    return {
        "format": "automation-flow/1",
        "name": "injection",
        "enabled": False,
        "nodes": [
            {"id": "start", "type": "event.order_created", "params": {}},
            {"id": "say", "type": "action.slack", "params": {"text": text, "webhook_url": SLACK_SECRET}},
        ],
        "edges": [{"from": "start", "to": "say"}],
    }


def inert(text: str, payload: str) -> list[str]:
    """Leak markers in ``text`` that the payload's own literal text does not explain."""
    return [m for m in leaks(text, SLACK_SECRET, SECRET_KEY, TOKEN) if m not in payload]


def test_there_are_at_least_forty_payloads():
    assert len(PAYLOADS) >= 40
    assert len(set(PAYLOADS)) == len(PAYLOADS)


@pytest.mark.parametrize("payload", PAYLOADS, ids=range(len(PAYLOADS)))
def test_payload_is_refused_at_save_time_or_renders_inertly(api, payload):
    response = api.post("/api/v1/flows", json=slack_flow(payload))
    if response.status_code == 422:
        body = response.get_json()
        assert response.mimetype == "application/problem+json"
        assert "/nodes/1/params/text" in [e["path"] for e in body["errors"]], body
        text = response.get_data(as_text=True)  # the message may quote the template, never a secret
        assert SLACK_SECRET not in text and SECRET_KEY not in text and " object at 0x" not in text
        return
    assert response.status_code == 201, response.get_data(as_text=True)
    flow_id = response.get_json()["id"]
    started = time.monotonic()
    dry = api.post(f"/api/v1/flows/{flow_id}/test", json={"context": CONTEXT})
    elapsed = time.monotonic() - started
    assert dry.status_code == 200, dry.get_data(as_text=True)
    step = next(s for s in dry.get_json()["steps"] if s["node_id"] == "say")
    if step["status"] == "failed":
        assert "template" in step["error"] or "rendered text" in step["error"], step
    else:
        assert step["status"] == "would_send", step
        assert len(step["output"]["body"]["text"]) <= templating.MAX_OUTPUT
    assert not inert(dry.get_data(as_text=True), payload), step
    assert elapsed < 2.0, f"the dry run took {elapsed:.2f} s"


@pytest.mark.parametrize("payload", PAYLOADS, ids=range(len(PAYLOADS)))
def test_payload_renders_or_fails_within_its_time_bound(payload):
    for channel in ("text", "html"):
        started = time.perf_counter()
        try:
            out = templating.render(payload, CONTEXT, channel)
        except templating.TemplateError as exc:
            out = str(exc)
        elapsed = time.perf_counter() - started
        assert elapsed < 5.0, (
            f"{elapsed:.3f} s"
        )  # a safety net, as in test_template_bombs: the budget is 0.5 s
        assert not inert(out, payload), out[:300]


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("Привет, {client_name}!", "Привет, {{ 7*7 }}!"),
        ("{{ client.name }}", "{{ 7*7 }}"),
        ("{{ client.name }} {client_name}", "{{ 7*7 }} {{ 7*7 }}"),
        ("{{ order.fields.note }}", "{{ 7*7 }}"),
        ("Заказ {order_id}", "Заказ {client_name}"),
        ("{{ order.id }}", "{client_name}"),
        ("{client_email}", "{% raw %}{{ 7*7 }}{% endraw %}"),
        ("{{ visit.city }}", "{order_id}{{ 1+1 }}{% for x in range(3) %}x{% endfor %}"),
    ],
)
def test_values_from_data_are_never_evaluated(template, expected):
    context = {
        "visit": {"id": "1", "city": "{order_id}{{ 1+1 }}{% for x in range(3) %}x{% endfor %}"},
        "order": {"id": "{client_name}", "fields": {"note": "{{ 7*7 }}"}},
        "client": {"name": "{{ 7*7 }}", "email": "{% raw %}{{ 7*7 }}{% endraw %}"},
        "event": None,
    }
    assert templating.render(template, context) == expected


def test_data_is_never_evaluated_on_the_dry_run_either(api):
    flow = slack_flow("{client_name} / {{ client.name }} / {order_id}")
    flow_id = api.post("/api/v1/flows", json=flow).get_json()["id"]
    context = {"client": {"name": "{{ 7*7 }}"}, "order": {"id": "{client_phone}"}}
    dry = api.post(f"/api/v1/flows/{flow_id}/test", json={"context": context}).get_json()
    step = next(s for s in dry["steps"] if s["node_id"] == "say")
    assert step["output"]["body"]["text"] == "{{ 7*7 }} / {{ 7*7 }} / {client_phone}"


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ order.price * 0.9 }}", "108"),
        ("{% if client.email %}есть почта{% endif %}", "есть почта"),
        ("{{ client.name|upper }}", "{{ 7*7 }}"),
        ("{% for k, v in order.fields.items() %}{{ k }}={{ v }}{% endfor %}", "note={{ 7*7 }}"),
        ("{{ order.fields }}", '{"note":"{{ 7*7 }}"}'),
        ("{{ [1, 2, 3]|join(', ') }}", "1, 2, 3"),
        ("{{ '%05.1f'|format(order.price) }}", "120.0"),
        ("{{ order.price > 100 }}", "true"),
        ("{% for i in range(3) %}{{ loop.index }}{% endfor %}", "123"),
        (".t-emailBlock { padding: 0 } {client_name}", ".t-emailBlock { padding: 0 } {{ 7*7 }}"),
    ],
)
def test_power_user_templates_still_work(template, expected):
    assert templating.render(template, CONTEXT) == expected
