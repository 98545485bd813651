"""A small Python client of the HTTP API (SPEC §7), built on requests; it needs nothing else from the server.

    from plugin.client import ApiError, Client

    api = Client("http://127.0.0.1:8080", token)
    flow = api.import_flows(doc)[0]
    api.put_order("4821", {"price": 154000, "status": "Новая"})
    for run in api.iter_runs(flow_id=flow["id"], status="failed"):
        api.retry_run(run["id"])

Every error answer raises :class:`ApiError` carrying the RFC 9457 problem document; network
failures stay ``requests`` exceptions (the server never answered).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import Any, Self
from urllib.parse import quote

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from plugin import __version__

log = logging.getLogger(__name__)

API_PREFIX = "/api/v1"
# Safe to repeat: the server treats these as idempotent (SPEC §7); POSTs are never re-sent blindly.
RETRY_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE"})


class ApiError(Exception):
    """The server answered with an error; ``problem`` is its problem document (RFC 9457)."""

    def __init__(self, method: str, url: str, status: int, problem: dict[str, Any], headers=None):
        self.method = method
        self.url = url
        self.status = status
        self.problem = problem
        self.title: str = problem.get("title") or ""
        self.detail: str = problem.get("detail") or problem.get("title") or f"HTTP {status}"
        self.errors: list[dict[str, Any]] = list(problem.get("errors") or [])
        self.type: str | None = problem.get("type")
        self.retry_after: str | None = (headers or {}).get("Retry-After")
        super().__init__(str(self))

    def __str__(self) -> str:
        lines = [f"{self.method} {self.url} → {self.status}: {self.detail}"]
        lines += [f"  {e.get('path', '')}: {e.get('message', '')}" for e in self.errors]
        return "\n".join(lines)


def _segment(value: Any) -> str:
    return quote(str(value), safe="")


class Client:
    """The API of one server: ``Client("http://host:8080", token)``; the base may include ``/api/v1``."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        timeout: float = 30.0,
        retries: int = 2,
        session: requests.Session | None = None,
    ):
        if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must be an http(s) URL, got {base_url!r}")
        self.root = base_url.rstrip("/").removesuffix(API_PREFIX)
        self.timeout = timeout
        self.session = session or requests.Session()
        self.session.headers.setdefault("User-Agent", f"automation-nodes-client/{__version__}")
        self.session.headers["Accept"] = "application/json, application/problem+json"
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"
        if session is None and retries:
            retry = Retry(
                total=retries,
                backoff_factor=0.3,
                status_forcelist=(502, 503, 504),
                allowed_methods=RETRY_METHODS,
                raise_on_status=False,
            )
            adapter = HTTPAdapter(max_retries=retry)
            self.session.mount("http://", adapter)
            self.session.mount("https://", adapter)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.session.close()

    def __repr__(self) -> str:
        return f"Client({self.root!r})"

    # --- transport ---------------------------------------------------------------------------

    def request(self, method: str, path: str, *, json: Any = None, params: dict | None = None) -> Any:
        """One call; ``path`` starts with ``/`` (``/api/v1/...`` or ``/plugin.json``). JSON in, JSON out."""
        url = self.root + path
        query = {k: v for k, v in (params or {}).items() if v is not None}
        response = self.session.request(method, url, json=json, params=query or None, timeout=self.timeout)
        if response.status_code >= 400:
            raise ApiError(method, url, response.status_code, _problem(response), response.headers)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise ApiError(
                method,
                url,
                response.status_code,
                {"detail": f"the answer is not JSON: {response.text[:300]!r}"},
            ) from None

    def _api(self, method: str, path: str, **kwargs) -> Any:
        return self.request(method, API_PREFIX + path, **kwargs)

    # --- meta --------------------------------------------------------------------------------

    def health(self) -> dict:
        return self._api("GET", "/health")

    def manifest(self) -> dict:
        return self.request("GET", "/plugin.json")

    def openapi(self) -> dict:
        return self._api("GET", "/openapi.json")

    def variables(self) -> list[dict]:
        return self._api("GET", "/variables")["variables"]

    # --- nodes -------------------------------------------------------------------------------

    def list_nodes(self) -> list[dict]:
        return self._api("GET", "/nodes")["nodes"]

    def get_node(self, node_type: str) -> dict:
        return self._api("GET", f"/nodes/{_segment(node_type)}")

    def execute_node(
        self, node_type: str, params: dict, context: dict | None = None, *, event: dict | None = None
    ) -> dict:
        """Run one node: a condition answers ``{"result"}``, an event ``{"matches"}``, an action
        ``{"status", "output"}``."""
        body: dict[str, Any] = {"params": params, "context": context or {}}
        if event is not None:
            body["event"] = event
        return self._api("POST", f"/nodes/{_segment(node_type)}/execute", json=body)

    # --- flows -------------------------------------------------------------------------------

    def list_flows(self) -> list[dict]:
        return self._api("GET", "/flows")["flows"]

    def get_flow(self, flow_id: str) -> dict:
        return self._api("GET", f"/flows/{_segment(flow_id)}")

    def create_flow(self, doc: dict) -> dict:
        return self._api("POST", "/flows", json=doc)

    def update_flow(self, flow_id: str, doc: dict) -> dict:
        """Replace the flow; a secret given as ``"********"`` keeps its stored value."""
        return self._api("PUT", f"/flows/{_segment(flow_id)}", json=doc)

    def patch_flow(self, flow_id: str, *, enabled: bool | None = None, name: str | None = None) -> dict:
        body = {k: v for k, v in (("enabled", enabled), ("name", name)) if v is not None}
        if not body:
            raise ValueError("patch_flow needs enabled= or name=")
        return self._api("PATCH", f"/flows/{_segment(flow_id)}", json=body)

    def enable_flow(self, flow_id: str) -> dict:
        return self.patch_flow(flow_id, enabled=True)

    def disable_flow(self, flow_id: str) -> dict:
        return self.patch_flow(flow_id, enabled=False)

    def delete_flow(self, flow_id: str) -> None:
        self._api("DELETE", f"/flows/{_segment(flow_id)}")

    def export_flow(self, flow_id: str) -> dict:
        return self._api("GET", f"/flows/{_segment(flow_id)}/export")

    def import_flows(self, docs: dict | Iterable[dict], on_conflict: str = "fail") -> list[dict]:
        """Import one document or several (all or nothing); returns the created flows. A document
        whose id or name a flow has: ``fail`` (ApiError 409), ``copy`` or ``replace``."""
        body = docs if isinstance(docs, dict) else {"flows": list(docs)}
        return self._api("POST", f"/flows/import?on_conflict={on_conflict}", json=body)["flows"]

    def test_flow(
        self,
        flow_id: str,
        context: dict | None = None,
        *,
        order_id: str | None = None,
        visit_id: str | None = None,
        custom_event_id: str | None = None,
        event_id: int | None = None,
    ) -> dict:
        """Dry run on a context or a stored order/visit/event: verdicts and rendered messages, nothing sent."""
        body: dict[str, Any] = {}
        if context is not None:
            body["context"] = context
        for key, value in (
            ("order_id", order_id),
            ("visit_id", visit_id),
            ("custom_event_id", custom_event_id),
            ("event_id", event_id),
        ):
            if value is not None:
                body[key] = value
        return self._api("POST", f"/flows/{_segment(flow_id)}/test", json=body)

    def test_document(self, doc: dict, context: dict | None = None) -> dict:
        """Dry run of an unsaved flow document."""
        return self._api("POST", "/flows/test", json={"flow": doc, "context": context or {}})

    # --- presets («шаблоны») -----------------------------------------------------------------

    def list_presets(self) -> list[dict]:
        return self._api("GET", "/presets")["presets"]

    def get_preset(self, preset_id: str) -> dict:
        return self._api("GET", f"/presets/{_segment(preset_id)}")

    def create_preset(self, doc: dict) -> dict:
        return self._api("POST", "/presets", json=doc)

    def update_preset(self, preset_id: str, doc: dict) -> dict:
        return self._api("PUT", f"/presets/{_segment(preset_id)}", json=doc)

    def delete_preset(self, preset_id: str) -> None:
        self._api("DELETE", f"/presets/{_segment(preset_id)}")

    # --- ingestion (202 once durably stored) -------------------------------------------------

    def send_visit(self, visit: dict) -> dict:
        return self._api("POST", "/visits", json=visit)

    def put_client(self, external_id: str, client: dict) -> dict:
        return self._api("PUT", f"/clients/{_segment(external_id)}", json=client)

    def put_order(self, order_id: str, order: dict) -> dict:
        return self._api("PUT", f"/orders/{_segment(order_id)}", json=order)

    def send_event(self, event: dict) -> dict:
        return self._api("POST", "/events", json=event)

    def batch(self, items: Iterable[dict]) -> dict:
        """Up to 1,000 ``{"type": "visit"|"client"|"order"|"event", "data": {...}}`` in one transaction."""
        return self._api("POST", "/batch", json={"items": list(items)})

    # --- runs --------------------------------------------------------------------------------

    def list_runs(
        self,
        *,
        flow_id: str | None = None,
        status: str | None = None,
        order_id: str | None = None,
        client_id: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> dict:
        """One page, newest first: ``{"runs": [...], "next_cursor": str | None}``."""
        params = {
            "flow_id": flow_id,
            "status": status,
            "order_id": order_id,
            "client_id": client_id,
            "limit": limit,
            "cursor": cursor,
        }
        return self._api("GET", "/runs", params=params)

    def iter_runs(self, *, page_size: int = 100, **filters: Any) -> Iterator[dict]:
        """Every run matching the filters, following ``next_cursor`` page by page."""
        cursor = None
        while True:
            page = self.list_runs(limit=page_size, cursor=cursor, **filters)
            yield from page["runs"]
            cursor = page.get("next_cursor")
            if not cursor:
                return

    def get_run(self, run_id: str) -> dict:
        return self._api("GET", f"/runs/{_segment(run_id)}")

    def retry_run(self, run_id: str) -> dict:
        """Replay a failed flow run (failed steps run again; succeeded ones are never re-sent)."""
        return self._api("POST", f"/runs/{_segment(run_id)}/retry")


def _problem(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        return body
    return {"status": response.status_code, "title": response.reason or "", "detail": response.text[:500]}
