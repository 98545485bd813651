"""Export a scenario as a JSON download and import it back from the file and from pasted text."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
FLOW = {
    "format": "automation-flow/1",
    "name": "Вебхук в CRM",
    "enabled": False,
    "nodes": [
        {
            "id": "start",
            "type": "event.order_status_changed",
            "params": {"to": ["Оплачено"], "from": []},
            "position": {"x": 0, "y": 0},
        },
        {
            "id": "hook",
            "type": "action.webhook",
            "position": {"x": 0, "y": 160},
            "params": {
                "url": "http://127.0.0.1:9/crm",
                "method": "POST",
                "headers": {},
                "signing_secret": SECRET,
            },
        },
    ],
    "edges": [{"from": "start", "to": "hook"}],
}


def _graph(doc: dict) -> list:
    return sorted((n["type"], json.dumps(n["params"], sort_keys=True)) for n in doc["nodes"])


def test_export_downloads_the_json_and_import_brings_it_back_from_file_and_paste(ui, tmp_path):
    page = ui.page
    flow_id = ui.api.post("/api/v1/flows", json=FLOW).json()["id"]
    exported = ui.api.get(f"/api/v1/flows/{flow_id}/export").json()
    ui.open()

    with page.expect_download() as info:
        ui.by(f"flow-export-{flow_id}").click()
    download = info.value
    assert download.suggested_filename == "Вебхук в CRM.json"
    path = tmp_path / download.suggested_filename
    download.save_as(path)
    text = path.read_text(encoding="utf-8")
    assert json.loads(text) == exported
    assert SECRET not in text  # secrets leave as placeholders
    (hook,) = (n for n in exported["nodes"] if n["type"] == "action.webhook")
    assert hook["params"]["url"] == "http://127.0.0.1:9/crm" and hook["params"]["signing_secret"] != SECRET

    # import from the file
    ui.by("import-open").click()
    dialog = ui.by("import-dialog")
    expect(dialog).to_be_visible()
    ui.by("import-file").set_input_files(path)
    expect(ui.by("import-text")).to_have_value(text)
    ui.console.allow(409)  # the same scenario is there: the dialog asks «Копия / Заменить / Отмена»
    ui.by("import-submit").click()
    expect(ui.by("import-conflict")).to_contain_text("Уже есть сценарий «Вебхук в CRM»")
    ui.by("import-copy").click()
    expect(dialog).to_have_count(0)
    rows = ui.by("flow-table").locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.filter(has_text="Вебхук в CRM")).to_have_count(2)

    # import by pasting: bad JSON is caught in the page, a bad document by the server (with its path)
    ui.console.allow(422)
    ui.by("import-open").click()
    ui.by("import-text").fill("{")
    ui.by("import-submit").click()
    expect(ui.by("import-errors")).to_be_visible()
    broken = {**exported, "nodes": [exported["nodes"][0], {**exported["nodes"][1], "type": "action.nope"}]}
    ui.by("import-text").fill(json.dumps(broken))
    ui.by("import-submit").click()
    expect(ui.by("import-errors")).to_contain_text("/nodes/1/type")
    ui.by("import-text").fill(json.dumps({**exported, "name": "Вебхук в CRM (вставка)"}, ensure_ascii=False))
    ui.by("import-submit").click()
    ui.by("import-copy").click()  # its id is taken: a copy
    expect(dialog).to_have_count(0)
    expect(rows).to_have_count(3)
    pasted_row = rows.filter(has_text="Вебхук в CRM (вставка)")
    expect(pasted_row).to_have_count(1)

    # a copy too many: «Удалить» asks, then the row goes
    extra = rows.filter(has_text="Вебхук в CRM").filter(has_not_text="вставка").last
    extra_id = extra.get_attribute("data-testid").removeprefix("flow-row-")
    ui.by(f"flow-delete-{extra_id}").click()
    expect(ui.by("confirm-dialog")).to_contain_text("Вебхук в CRM")
    ui.by("confirm-ok").click()
    expect(rows).to_have_count(2)
    expect(ui.by(f"flow-row-{extra_id}")).to_have_count(0)
    assert ui.api.get(f"/api/v1/flows/{extra_id}").status_code == 404

    flows = ui.api.get("/api/v1/flows").json()["flows"]
    assert sorted(f["name"] for f in flows) == ["Вебхук в CRM", "Вебхук в CRM (вставка)"]
    for f in flows:
        again = ui.api.get(f"/api/v1/flows/{f['id']}/export").json()
        assert _graph(again) == _graph(exported)

    # the imported copy opens in the editor, asks for the secret it lacks, and exports the same JSON
    pasted_id = pasted_row.get_attribute("data-testid").removeprefix("flow-row-")
    pasted_row.get_by_role("link").click()
    expect(ui.by("missing-secrets")).to_be_visible()
    ui.by("node-hook").click()
    expect(ui.by("root_signing_secret__missing")).to_be_visible()
    expect(ui.by("dirty-mark")).to_have_count(0)
    with page.expect_download() as info:
        ui.by("editor-export").click()
    from_editor = json.loads(info.value.path().read_text(encoding="utf-8"))
    assert from_editor == ui.api.get(f"/api/v1/flows/{pasted_id}/export").json()
    assert from_editor["name"] == "Вебхук в CRM (вставка)"
