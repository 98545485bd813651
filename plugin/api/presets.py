"""Templates («шаблоны»): saved trigger (event + conditions) and action presets."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from plugin.api.common import json_body
from plugin.api.context import rt
from plugin.api.extensions import db
from plugin.api.openapi import ok
from plugin.engine import flows as store
from plugin.errors import NotFound
from plugin.messages import msg
from plugin.storage.models import Preset

blp = Blueprint("presets", __name__, url_prefix="/api/v1/presets", description="Templates (шаблоны)")

PRESET_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["name", "kind", "nodes"],
                "properties": {
                    "name": {"type": "string"},
                    "kind": {"enum": ["trigger", "action"]},
                    "nodes": {"type": "array", "items": {"type": "object"}},
                    "edges": {"type": "array", "items": {"type": "object"}},
                },
            }
        }
    },
}


def _get(preset_id: str) -> Preset:
    preset = db.session.get(Preset, preset_id)
    if preset is None:
        raise NotFound(msg("notfound.preset", f"no preset {preset_id!r}", id=preset_id))
    return preset


@blp.route("")
class PresetList(MethodView):
    @blp.doc(summary="List templates")
    @blp.doc(responses=ok("PresetList", 200))
    @blp.response(200)
    def get(self):
        registry = rt().registry
        presets = db.session.query(Preset).order_by(Preset.created_at, Preset.id).all()
        return {"presets": [store.preset_document(registry, p) for p in presets]}

    @blp.doc(summary="Save a template", requestBody=PRESET_BODY)
    @blp.doc(responses=ok("Preset", 201))
    @blp.response(201)
    def post(self):
        runtime = rt()
        preset = store.save_preset(db.session, runtime.registry, runtime.secrets, json_body())
        db.session.commit()
        return store.preset_document(runtime.registry, preset)


@blp.route("/<string:preset_id>")
class PresetItem(MethodView):
    @blp.doc(summary="One template")
    @blp.doc(responses=ok("Preset", 200))
    @blp.response(200)
    def get(self, preset_id: str):
        return store.preset_document(rt().registry, _get(preset_id))

    @blp.doc(summary="Replace a template", requestBody=PRESET_BODY)
    @blp.doc(responses=ok("Preset", 200))
    @blp.response(200)
    def put(self, preset_id: str):
        runtime = rt()
        preset = store.save_preset(
            db.session, runtime.registry, runtime.secrets, json_body(), _get(preset_id)
        )
        db.session.commit()
        return store.preset_document(runtime.registry, preset)

    @blp.doc(summary="Delete a template")
    @blp.response(204)
    def delete(self, preset_id: str):
        db.session.delete(_get(preset_id))
        db.session.commit()
