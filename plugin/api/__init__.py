"""HTTP layer: blueprints registered from one list; no business rules here."""

from __future__ import annotations

from flask import Flask
from flask_smorest import Api


def register_blueprints(app: Flask, api: Api) -> None:
    from flask_smorest import Blueprint

    from plugin.api import (
        connections,
        flow_bulk,
        flows,
        hooks,
        ingest,
        meta,
        nodes,
        presets,
        records,
        runs,
        sendtest,
        stats,
        statuses,
        suppressions,
        tokens,
        unsubscribe,
        versions,
    )
    from plugin.api.common import install_strict_json, reject_nul_input

    install_strict_json(Blueprint.ARGUMENTS_PARSER)  # no NaN/Infinity or depth bombs via @blp.arguments
    _register_schemas(api)
    for schemas in (flows, connections, hooks, suppressions, versions):
        schemas.register_schema(api)
    hooks.install(app)
    for module in (meta, nodes, flows, presets, connections, ingest, runs, hooks, tokens):
        _register(api, module.blp, reject_nul_input)
    for module in (suppressions, statuses, unsubscribe, records, sendtest, versions, flow_bulk, stats):
        _register(api, module.blp, reject_nul_input)
    meta.register_plain_routes(app, api)


def _register_schemas(api: Api) -> None:
    """The bearer scheme, the problem and ingestion schemas every blueprint's documentation refers to."""
    api.spec.components.security_scheme(
        "bearerAuth",
        {
            "type": "http",
            "scheme": "bearer",
            "description": "A token has one scope: ingest (the ingestion endpoints only), read (every GET) "
            "or admin (everything); a route outside it answers 403 (plugin/api/auth.py, docs/security.md)",
        },
    )
    api.spec.options["security"] = [{"bearerAuth": []}]
    from plugin.api import openapi

    openapi.register(api)
    from plugin.api import openapi_ingest

    openapi_ingest.register(api)


def _register(api: Api, blp, reject_nul_input) -> None:
    # a blueprint hook runs after the app's auth hook; the blueprints outlive one app (tests)
    if reject_nul_input not in blp.before_request_funcs.get(None, []):
        blp.before_request(reject_nul_input)
    api.register_blueprint(blp)
