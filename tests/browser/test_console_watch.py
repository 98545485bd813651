"""The console guard itself: it must catch what it promises to, or every other browser test proves less."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.conftest import TOKEN

pytestmark = pytest.mark.browser


def test_console_errors_page_errors_and_unexpected_4xx_are_caught(ui):
    ui.open()
    page = ui.page
    page.evaluate("() => console.error('boom from the test')")
    page.evaluate("() => setTimeout(() => { throw new Error('uncaught from the test'); }, 0)")
    page.evaluate(
        "token => fetch('/api/v1/flows/no-such-flow', {headers: {Authorization: 'Bearer ' + token}})", TOKEN
    )
    expect(ui.by("flow-table")).to_be_visible()
    page.wait_for_function("() => new Promise(r => setTimeout(() => r(true), 200))")
    found = "\n".join(ui.console.check())
    assert "boom from the test" in found
    assert "uncaught from the test" in found
    assert "Failed to load resource: 404" in found

    ui.console.allow(404)
    assert "404" not in "\n".join(ui.console.check())
    ui.console.problems.clear()  # all seen: let the fixture's own check pass
