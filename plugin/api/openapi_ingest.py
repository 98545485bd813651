"""The ingestion schemas as the OpenAPI document states them, exactly as they are read:
an ``Id`` is a string or an integer (never null unless the field allows it, never an object),
and a batch item's ``data`` is the schema of its ``type``."""

from __future__ import annotations

from apispec import BasePlugin

from plugin.ingest import schemas

# the characters Python's str.strip() removes (ECMA's \s differs: it takes U+FEFF, leaves U+001C–U+001F)
BLANK = "\\t\\n\\u000b\\u000c\\r\\u001c-\\u001f \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000"
NOT_BLANK = f"[^{BLANK}]"  # a pattern: the text has something besides blanks (it is stripped, then checked)
ID_STRING = {"type": "string", "minLength": 1, "maxLength": 64, "pattern": f"^[^/]*[^/{BLANK}][^/]*$"}
ITEM_COMPONENTS = {
    "visit": "VisitIn",
    "client": "ClientWithId",
    "order": "OrderWithId",
    "event": "CustomEventIn",
}


def id_property(self, field, ret, **kwargs) -> dict:
    """An apispec attribute function: what :class:`plugin.ingest.schemas.Id` accepts."""
    if not isinstance(field, schemas.Id):
        return {}
    types = ["string", "integer", *(["null"] if field.allow_none else [])]
    return {
        "type": types,
        "minLength": ID_STRING["minLength"],
        "maxLength": ID_STRING["maxLength"],
        "pattern": ID_STRING["pattern"],
        "description": ret.get("description", "A string or an integer; 1–64 characters, no '/'"),
    }


class BatchItemPlugin(BasePlugin):
    """``BatchItem``: one of the four item kinds, its ``data`` checked by that kind's schema."""

    def schema_helper(self, name, definition, **kwargs):
        if name != "BatchItem":
            return None
        return {
            "oneOf": [
                {
                    "type": "object",
                    "properties": {
                        "type": {"const": kind},
                        "data": {"$ref": f"#/components/schemas/{component}"},
                    },
                }
                for kind, component in ITEM_COMPONENTS.items()
            ]
        }


def register(api) -> None:
    """The Id mapping, and the item schemas a batch refers to (before the blueprints)."""
    api.ma_plugin.converter.add_attribute_function(id_property)
    for kind, component in ITEM_COMPONENTS.items():
        if kind in ("client", "order"):
            api.spec.components.schema(component, schema=schemas.ITEM_SCHEMAS[kind])
