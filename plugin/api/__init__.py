"""HTTP layer: blueprints registered from one list; no business rules here."""

from __future__ import annotations

from flask import Flask
from flask_smorest import Api


def register_blueprints(app: Flask, api: Api) -> None:
    from flask_smorest import Blueprint

    from plugin.api import (
        flows,
        hooks,
        ingest,
        meta,
        nodes,
        presets,
        runs,
        statuses,
        suppressions,
        tokens,
        unsubscribe,
    )
    from plugin.api.common import install_strict_json, reject_nul_input

    install_strict_json(Blueprint.ARGUMENTS_PARSER)  # no NaN/Infinity or depth bombs via @blp.arguments

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
    flows.register_schema(api)
    hooks.register_schema(api)
    suppressions.register_schema(api)
    hooks.install(app)
    for module in (
        meta,
        nodes,
        flows,
        presets,
        ingest,
        runs,
        hooks,
        tokens,
        suppressions,
        statuses,
        unsubscribe,
    ):
        # a blueprint hook runs after the app's auth hook; the blueprints outlive one app (tests)
        if reject_nul_input not in module.blp.before_request_funcs.get(None, []):
            module.blp.before_request(reject_nul_input)
        api.register_blueprint(module.blp)
    meta.register_plain_routes(app, api)
