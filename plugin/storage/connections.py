"""Shared connections at rest: their params sealed and masked as an action's, and the lookup the
engine resolves a node's ``connection`` with at send time (SPEC §11).

A connection of type T holds the fields that the ``x-connections`` rule of T names in its
action's schema (``plugin/schemas/actions/*.json``); those params are sealed, masked and opened
through the action's own secret rules, as the params of a one-node flow.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from plugin.storage.models import Connection
from plugin.storage.secrets import mask_nodes, open_params, seal_nodes


def _node(action_type: str, params: dict | None) -> dict:
    return {"id": "connection", "type": action_type, "params": dict(params or {})}


def seal(registry, box, action_type: str, params: dict, previous: dict | None) -> dict:
    """``params`` for storage: secrets encrypted; a placeholder keeps the ``previous`` value."""
    before = [_node(action_type, previous)] if previous is not None else None
    return seal_nodes(registry, box, [_node(action_type, params)], before)[0]["params"]


def mask(registry, action_type: str, params: dict) -> dict:
    """``params`` as every answer shows them: each secret as the placeholder."""
    return mask_nodes(registry, [_node(action_type, params)])[0]["params"]


def opened(registry, box, action_type: str, params: dict) -> dict:
    """``params`` with the secrets decrypted, for a connection check."""
    return open_params(registry, box, _node(action_type, params))


class ConnectionLookup:
    """``lookup(id)`` → ``(type, sealed params)`` or None, read fresh from the database each time
    (one primary-key read, and only for a node that names a connection)."""

    def __init__(self, new_session: Callable[[], Session]):
        self.new_session = new_session

    def __call__(self, connection_id: str) -> tuple[str, dict] | None:
        with self.new_session() as session:
            row = session.get(Connection, connection_id)
            return (row.type, dict(row.params or {})) if row is not None else None


def session_lookup(session: Session) -> Callable[[str], Any]:
    """The same lookup over a session that is already open (the API's request session)."""

    def lookup(connection_id: str):
        row = session.get(Connection, connection_id)
        return (row.type, dict(row.params or {})) if row is not None else None

    return lookup
