"""Health, the manifest, template variables and Prometheus metrics."""

from __future__ import annotations

from flask import Flask, Response, jsonify
from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import text

from plugin.api.context import rt
from plugin.api.extensions import db
from plugin.api.openapi import ok
from plugin.engine.variables import VARIABLES

blp = Blueprint("meta", __name__, url_prefix="/api/v1", description="Health and catalog metadata")


@blp.route("/health")
class Health(MethodView):
    @blp.doc(security=[], summary="Liveness of the API, database, Redis and workers")
    @blp.doc(responses=ok("Health", 200))
    @blp.response(200)
    def get(self):
        status = {"status": "ok", "database": "ok", "redis": "ok", "workers": 0}
        try:
            db.session.execute(text("SELECT 1"))
        except Exception as exc:  # noqa: BLE001 - any failure is reported, as "degraded"
            status["database"] = f"error: {exc.__class__.__name__}"
            status["status"] = "degraded"
        try:
            from rq import Worker

            runtime = rt()
            runtime.redis.ping()
            status["workers"] = len(Worker.all(connection=runtime.redis))
        except Exception as exc:  # noqa: BLE001 - any failure is reported, as "degraded"
            status["redis"] = f"error: {exc.__class__.__name__}"
            status["status"] = "degraded"
        return status


@blp.route("/variables")
class Variables(MethodView):
    @blp.doc(summary="Template variables usable as {name} in x-template fields")
    @blp.doc(responses=ok("VariableList", 200))
    @blp.response(200)
    def get(self):
        return {
            "variables": [
                {"name": v["name"], "title": v["title"], "example": v["example"]} for v in VARIABLES
            ]
        }


@blp.route("/plugin.json")
class Manifest(MethodView):
    @blp.doc(security=[], summary="The plugin manifest (the same as /plugin.json)")
    @blp.doc(responses=ok("Manifest", 200))
    @blp.response(200)
    def get(self):
        return manifest()


def manifest() -> dict:
    from plugin.manifest import build_manifest

    return build_manifest(rt().registry)


def register_plain_routes(app: Flask, api=None) -> None:
    """/plugin.json and /metrics live outside /api/v1 but are part of the documented API."""

    @app.get("/plugin.json")
    def plugin_manifest():
        return jsonify(manifest())

    @app.get("/metrics")
    def metrics():
        from plugin.api.metrics import render_metrics

        body, content_type = render_metrics()
        return Response(body, content_type=content_type)

    if api is not None:
        rules = {rule.endpoint: rule for rule in app.url_map.iter_rules()}
        api.spec.path(
            rule=rules["plugin_manifest"],
            operations={
                "get": {
                    "tags": ["meta"],
                    "summary": "The plugin manifest (also plugin.json at the repository root)",
                    "security": [],
                    "responses": {
                        "200": {
                            "description": "The manifest",
                            "content": {
                                "application/json": {"schema": {"$ref": "#/components/schemas/Manifest"}}
                            },
                        }
                    },
                }
            },
        )
        api.spec.path(
            rule=rules["metrics"],
            operations={
                "get": {
                    "tags": ["meta"],
                    "summary": "Prometheus metrics",
                    "responses": {
                        "200": {
                            "description": "Prometheus text exposition format",
                            "content": {"text/plain": {"schema": {"type": "string"}}},
                        }
                    },
                }
            },
        )
