"""HTTP layer: blueprints registered from one list; no business rules here."""

from __future__ import annotations

from flask import Flask
from flask_smorest import Api


def register_blueprints(app: Flask, api: Api) -> None:
    from flask_smorest import Blueprint

    from plugin.api import flows, ingest, meta, nodes, presets, runs
    from plugin.api.common import install_strict_json

    install_strict_json(Blueprint.ARGUMENTS_PARSER)  # no NaN/Infinity or depth bombs via @blp.arguments

    api.spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer"})
    api.spec.options["security"] = [{"bearerAuth": []}]
    flows.register_schema(api)
    for module in (meta, nodes, flows, presets, ingest, runs):
        api.register_blueprint(module.blp)
    meta.register_plain_routes(app, api)
