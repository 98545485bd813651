"""The process runtime as the API's request handlers reach it."""

from __future__ import annotations

from flask import current_app

from plugin.runtime import Runtime


def rt() -> Runtime:
    return current_app.extensions["automation"]
