"""Marshmallow schemas of the ingestion input (SPEC §2): they validate what ``plugin.api.ingest`` and the
lean path ``plugin.api.fastpath`` accept, and document it in the OpenAPI document."""

from __future__ import annotations

from marshmallow import RAISE, Schema, ValidationError, validate
from marshmallow import fields as mf


class Id(mf.Field):
    """An id given as a string or an integer; stored as a string of 1–64 characters."""

    def _deserialize(self, value, attr, data, **kwargs):
        if type(value) is str:  # the common case first: the same rules as below
            text = value.strip()
            if 0 < len(text) <= 64 and "/" not in text:
                return text
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise ValidationError(f"must be a string or an integer, got {type(value).__name__}")
        text = str(value).strip()
        if not 1 <= len(text) <= 64:
            raise ValidationError("must be 1–64 characters long")
        if "/" in text:  # ids are path segments of /orders/{id} and /clients/{external_id}
            raise ValidationError("must not contain '/'")
        return text

    def _jsonschema_type_mapping(self):
        return {"type": ["string", "integer"]}


def _text(max_len: int = 2000):
    return mf.String(allow_none=True, validate=validate.Length(max=max_len))


class Strict(Schema):
    class Meta:
        unknown = RAISE


class VisitIn(Strict):
    id = Id(required=True, metadata={"description": "The visit id (Roistat visit number)"})
    ip = _text(64)
    marker = _text(500)
    city = _text(200)
    country = _text(200)
    referrer = _text()
    domain = _text(500)
    landing_page = _text()
    utm_source = _text(500)
    utm_medium = _text(500)
    utm_campaign = _text(500)
    utm_term = _text(500)
    utm_content = _text(500)
    roistat_param_1 = _text(500)
    roistat_param_2 = _text(500)
    roistat_param_3 = _text(500)
    roistat_param_4 = _text(500)
    roistat_param_5 = _text(500)
    client_id = Id(allow_none=True)
    created_at = mf.AwareDateTime(default_timezone=None, allow_none=True)


class ClientIn(Strict):
    name = _text(500)
    company = _text(500)
    phone = _text(64)
    email = mf.String(allow_none=True, validate=validate.Length(max=320))
    fields = mf.Dict(allow_none=True)


class ClientWithId(ClientIn):
    external_id = Id(required=True)


class OrderIn(Strict):
    price = mf.Float(allow_none=True, allow_nan=False)
    cost = mf.Float(allow_none=True, allow_nan=False)
    status = _text(200)
    status_group = mf.String(allow_none=True, validate=validate.OneOf(["in_work", "paid", "cancelled"]))
    created_at = mf.DateTime(allow_none=True)
    paid_at = mf.DateTime(allow_none=True)
    client_id = Id(allow_none=True)
    visit_id = Id(allow_none=True)
    responsible_user_id = Id(allow_none=True)
    fields = mf.Dict(allow_none=True)
    client = mf.Nested(ClientWithId, allow_none=True, metadata={"description": "Upsert the client inline"})


class OrderWithId(OrderIn):
    id = Id(required=True)


class CustomEventIn(Strict):
    id = Id(metadata={"description": "Idempotency key; generated when absent"})
    name = mf.String(required=True, validate=validate.Length(min=1, max=200))
    visit_id = Id(allow_none=True)
    client_id = Id(allow_none=True)
    data = mf.Dict(load_default=dict)
    created_at = mf.DateTime(allow_none=True)


class BatchItem(Strict):
    type = mf.String(required=True, validate=validate.OneOf(["visit", "client", "order", "event"]))
    data = mf.Dict(required=True)


class BatchIn(Strict):
    items = mf.List(mf.Nested(BatchItem), required=True, validate=validate.Length(min=1, max=1000))


class Accepted(Schema):
    accepted = mf.Boolean()
    created = mf.Boolean()
    events = mf.Integer(metadata={"description": "How many engine events this fired"})


class BatchAccepted(Schema):
    accepted = mf.Integer()
    events = mf.Integer()


ITEM_SCHEMAS = {"visit": VisitIn, "client": ClientWithId, "order": OrderWithId, "event": CustomEventIn}
ITEM_LOADERS = {
    kind: schema() for kind, schema in ITEM_SCHEMAS.items()
}  # built once: a schema per item costs more than its load
