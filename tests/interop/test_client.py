"""plugin.client.Client against a live server, and examples/import_scenarios.py which uses it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from plugin.client import ApiError, Client
from plugin.manifest import build_manifest
from plugin.registry import get_registry
from tests.conftest import ROOT, TOKEN, wait_for
from tests.e2e.helpers import webhook_flow

SCENARIOS = sorted((ROOT / "examples" / "scenarios").glob("*.json"))
IMPORT_SCRIPT = ROOT / "examples" / "import_scenarios.py"


@pytest.fixture
def api(live):
    with Client(live.url, TOKEN) as client:
        yield client


def slack_flow(hook_url: str, name: str = "Крупный заказ → Slack") -> dict:
    return {
        "format": "automation-flow/1",
        "name": name,
        "enabled": False,
        "nodes": [
            {"id": "start", "type": "event.order_created", "params": {}},
            {"id": "big", "type": "condition.order_price", "params": {"operator": "gte", "value": 1000}},
            {
                "id": "slack",
                "type": "action.slack",
                "params": {"text": "Заказ {order_id}", "webhook_url": hook_url},
            },
        ],
        "edges": [{"from": "start", "to": "big"}, {"from": "big", "to": "slack"}],
    }


def test_base_url_may_include_the_api_prefix_and_must_be_http(live):
    assert Client(live.url + "/api/v1/").health()["status"] in ("ok", "degraded")
    with pytest.raises(ValueError, match="got 'ftp://x'"):
        Client("ftp://x")


def test_public_endpoints_need_no_token(live):
    anon = Client(live.url)
    assert anon.health()["database"] == "ok"
    assert anon.manifest() == build_manifest(get_registry())
    assert anon.openapi()["openapi"].startswith("3.1")
    with pytest.raises(ApiError) as caught:
        anon.list_flows()
    assert caught.value.status == 401
    assert caught.value.problem["status"] == 401


def test_variables_and_node_catalog(api):
    assert "client_name" in {v["name"] for v in api.variables()}
    nodes = api.list_nodes()
    assert {n["type"] for n in nodes} == {n.type for n in get_registry()}
    assert api.get_node("action.slack")["schema"]["properties"]["webhook_url"]["x-secret"] is True
    with pytest.raises(ApiError) as caught:
        api.get_node("action.nope")
    assert caught.value.status == 404


def test_execute_condition_event_and_action_nodes(api, fake_slack):
    context = {"visit": {"utm_source": "yandex"}, "order": {"id": "7", "price": 5000}}
    assert api.execute_node(
        "condition.visit_utm", {"tag": "utm_source", "operator": "equals", "value": "yandex"}, context
    ) == {"result": True}
    assert api.execute_node(
        "event.custom",
        {"name": "form_submit"},
        event={"type": "custom_event", "data": {"name": "form_submit"}},
    ) == {"matches": True}
    done = api.execute_node(
        "action.slack", {"text": "Заказ {order_id}", "webhook_url": fake_slack.hook_url}, context
    )
    assert done["status"] == "succeeded"
    assert fake_slack.messages == ["Заказ 7"]


def test_execute_with_bad_params_raises_the_problem_with_every_error(api):
    with pytest.raises(ApiError) as caught:
        api.execute_node("condition.order_price", {"operator": "bigger", "value": "much"})
    error = caught.value
    assert error.status == 422
    assert {e["path"] for e in error.errors} == {"/params/operator", "/params/value"}
    assert "/params/operator" in str(error) and error.detail


def test_flow_lifecycle(api, fake_slack):
    created = api.create_flow(slack_flow(fake_slack.hook_url))
    flow_id = created["id"]
    assert created["nodes"][2]["params"]["webhook_url"] == "********"
    assert [f["id"] for f in api.list_flows()] == [flow_id]

    renamed = api.update_flow(flow_id, {**api.get_flow(flow_id), "name": "Крупный заказ → Slack (v2)"})
    assert renamed["name"] == "Крупный заказ → Slack (v2)" and renamed["version"] == 2
    assert api.enable_flow(flow_id)["enabled"] is True
    assert api.patch_flow(flow_id, name="Крупный заказ")["name"] == "Крупный заказ"
    assert api.disable_flow(flow_id)["enabled"] is False

    result = api.test_flow(flow_id, {"order": {"id": "42", "price": 5000}})
    assert result["status"] == "would_trigger"
    assert result["steps"][-1]["output"]["body"] == {"text": "Заказ 42"}
    assert api.test_document(slack_flow(fake_slack.hook_url), {"order": {"id": "1", "price": 1}})[
        "status"
    ] == ("not_triggered")

    exported = api.export_flow(flow_id)
    (copy,) = api.import_flows({**exported, "name": "Копия"}, on_conflict="copy")
    assert copy["enabled"] is False and copy["needs_secrets"] == ["/nodes/2/params/webhook_url"]
    two = api.import_flows([slack_flow(fake_slack.hook_url, "A"), slack_flow(fake_slack.hook_url, "B")])
    assert [f["name"] for f in two] == ["A", "B"]

    api.delete_flow(flow_id)
    with pytest.raises(ApiError) as caught:
        api.get_flow(flow_id)
    assert caught.value.status == 404
    assert fake_slack.messages == [], "nothing is sent by dry runs"
    with pytest.raises(ValueError):
        api.patch_flow(copy["id"])


def test_invalid_flow_raises_validation_problem(api):
    doc = slack_flow("https://hooks.slack.com/services/T0/B0/X")
    doc["nodes"][2]["params"]["text"] = "Привет, {clinet_name}"
    with pytest.raises(ApiError) as caught:
        api.create_flow(doc)
    assert caught.value.status == 422
    assert caught.value.errors[0]["path"] == "/nodes/2/params/text"
    assert caught.value.type.endswith("/validation")


def test_presets(api):
    preset = api.create_preset(
        {
            "name": "Крупные сделки",
            "kind": "trigger",
            "nodes": [
                {"id": "start", "type": "event.order_created", "params": {}},
                {
                    "id": "big",
                    "type": "condition.order_price",
                    "params": {"operator": "gte", "value": 100000},
                },
            ],
            "edges": [{"from": "start", "to": "big"}],
        }
    )
    assert [p["id"] for p in api.list_presets()] == [preset["id"]]
    updated = api.update_preset(preset["id"], {**api.get_preset(preset["id"]), "name": "Очень крупные"})
    assert updated["name"] == "Очень крупные"
    api.delete_preset(preset["id"])
    assert api.list_presets() == []


def test_ingestion_feeds_a_dry_run_on_stored_data(api):
    assert api.send_visit({"id": "v1", "utm_source": "yandex", "client_id": "c1"})["accepted"] is True
    assert api.put_client("c1", {"name": "Анна", "email": "anna@example.com"})["accepted"] is True
    assert (
        api.put_order("o-1 #", {"price": 150000, "status": "Новая", "client_id": "c1", "visit_id": "v1"})[
            "created"
        ]
        is True
    )
    assert (
        api.send_event({"id": "e1", "name": "form_submit", "visit_id": "v1", "data": {"a": 1}})["created"]
        is True
    )
    batch = api.batch(
        [
            {"type": "visit", "data": {"id": "v2"}},
            {"type": "order", "data": {"id": "o2", "price": 1, "client_id": "c1"}},
        ]
    )
    assert batch["accepted"] == 2

    flow = api.create_flow(slack_flow("https://hooks.slack.com/services/T0/B0/X"))
    result = api.test_flow(flow["id"], order_id="o-1 #")
    assert result["status"] == "would_trigger"
    assert result["context"]["client"]["name"] == "Анна"
    assert result["context"]["visit"]["utm_source"] == "yandex"
    with pytest.raises(ApiError) as caught:
        api.put_order("o3", {"price": "много"})
    assert caught.value.status == 422 and caught.value.errors


def test_runs_pages_filters_and_retry_of_a_direct_run(api, fake_receiver):
    run_ids = [
        api.execute_node("action.webhook", {"url": fake_receiver.url + f"/h{i}"}, {"order": {"id": f"o{i}"}})[
            "run_id"
        ]
        for i in range(5)
    ]
    first = api.list_runs(limit=2)
    assert len(first["runs"]) == 2 and first["next_cursor"]
    assert [r["id"] for r in api.iter_runs(page_size=2)] == run_ids[::-1]
    assert [r["id"] for r in api.iter_runs(order_id="o3")] == [run_ids[3]]
    assert list(api.iter_runs(status="failed")) == []
    run = api.get_run(run_ids[0])
    assert run["direct"] is True and run["steps"][0]["type"] == "action.webhook"
    with pytest.raises(ApiError) as caught:
        api.retry_run(run_ids[0])
    assert caught.value.status == 409


def test_retry_of_a_failed_flow_run_delivers(api, procs, fake_receiver):
    procs.start("worker")
    fake_receiver.respond_with(400)
    flow = api.create_flow(webhook_flow(fake_receiver.url + "/h"))
    api.put_order("900", {"price": 1})
    try:
        failed = wait_for(lambda: list(api.iter_runs(flow_id=flow["id"], status="failed")), timeout=15)[0]
    except AssertionError:
        raise AssertionError(f"no failed run: {list(api.iter_runs())}\n{procs.logs()}") from None
    retried = api.retry_run(failed["id"])
    assert retried["status"] == "queued"
    wait_for(
        lambda: fake_receiver.deliveries, timeout=15, message="delivery after the retry\n" + procs.logs()
    )
    wait_for(
        lambda: api.get_run(failed["id"])["status"] == "succeeded", timeout=10, message="the run to succeed"
    )


def run_script(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(IMPORT_SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd="/",
    )


def test_import_scenarios_script_imports_every_example_once(live, api):
    done = run_script("--url", live.url, "--token", TOKEN)
    assert done.returncode == 0, done.stderr
    flows = api.list_flows()
    assert sorted(f["name"] for f in flows) == sorted(json.loads(p.read_text())["name"] for p in SCENARIOS)
    assert not any(f["enabled"] for f in flows)
    assert f"{len(SCENARIOS)} scenario(s) imported" in done.stdout

    again = run_script("--url", live.url, "--token", TOKEN)
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("skip ") == len(SCENARIOS)
    assert len(api.list_flows()) == len(SCENARIOS)


def test_import_scenarios_script_reports_problems_by_file(live, api, tmp_path):
    (tmp_path / "good.json").write_text(SCENARIOS[0].read_text(encoding="utf-8"), encoding="utf-8")
    bad = json.loads(SCENARIOS[1].read_text(encoding="utf-8"))
    bad["nodes"][-1]["params"]["subject"] = "{clinet_name}"
    (tmp_path / "bad.json").write_text(json.dumps(bad, ensure_ascii=False), encoding="utf-8")

    done = run_script("--url", live.url, "--token", TOKEN, "--dir", str(tmp_path))

    assert done.returncode == 1
    assert "bad.json /nodes/2/params/subject" in done.stderr
    assert api.list_flows() == [], "all or nothing"
    denied = run_script("--url", live.url, "--token", "wrong-token", "--dir", str(tmp_path))
    assert denied.returncode == 1 and "401" in denied.stderr
