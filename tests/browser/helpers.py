"""Canvas gestures for the browser tests: HTML5 drag from the palette, handle-to-handle connections."""

from __future__ import annotations

from playwright.sync_api import Locator, Page, expect

NODE_IDS = "els => els.map(e => e.getAttribute('data-id'))"


def node_ids(page: Page) -> list[str]:
    return page.locator(".react-flow__node").evaluate_all(NODE_IDS)


def drop(page: Page, palette_testid: str, x: float, y: float) -> str:
    """Drags a palette item (a real HTML5 drag) onto the canvas pane at (x, y); returns the new node's id."""
    before = set(node_ids(page))
    pane = page.locator(".react-flow__pane")
    page.get_by_test_id(palette_testid).drag_to(pane, target_position={"x": x, "y": y})
    expect(page.locator(".react-flow__node")).to_have_count(len(before) + 1)
    (new,) = set(node_ids(page)) - before
    return new


def center(locator: Locator) -> tuple[float, float]:
    box = locator.bounding_box()
    assert box, f"{locator} has no box"
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def connect(page: Page, source_handle: str, target_handle: str) -> None:
    """Mouse down on a source handle, move across the canvas, release on a target handle."""
    x1, y1 = center(page.get_by_test_id(source_handle))
    x2, y2 = center(page.get_by_test_id(target_handle))
    page.mouse.move(x1, y1)
    page.mouse.down()
    page.mouse.move((x1 + x2) / 2, (y1 + y2) / 2, steps=4)
    page.mouse.move(x2, y2, steps=4)
    page.mouse.up()


def edge(page: Page, source: str, target: str, branch: str | None = None) -> Locator:
    suffix = f":{branch}" if branch else ""
    return page.get_by_test_id(f"rf__edge-e:{source}->{target}{suffix}")


def assert_in_viewport(page: Page, *locators: Locator) -> None:
    """Each element is visible and entirely inside the viewport, and the page has no horizontal scroll."""
    vw, vh = page.viewport_size["width"], page.viewport_size["height"]
    for loc in locators:
        expect(loc).to_be_visible()
        box = loc.bounding_box()
        assert box and box["x"] >= 0 and box["y"] >= 0, (loc, box)
        assert box["x"] + box["width"] <= vw and box["y"] + box["height"] <= vh, (loc, box, vw, vh)
    scroll_width, client_width = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert scroll_width <= client_width, f"horizontal scroll: {scroll_width} > {client_width}"
