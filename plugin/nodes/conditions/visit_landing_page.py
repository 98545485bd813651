"""Condition «Посадочная страница»: the visit's landing page."""

from plugin.nodes.conditions._visit import visit_condition

EVENTS = None
evaluate = visit_condition("landing_page")
