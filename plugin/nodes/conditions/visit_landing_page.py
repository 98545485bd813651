"""Condition «Посадочная страница»: the visit's landing page."""

from plugin.nodes.conditions._visit import visit_access, visit_condition, visit_prepare

EVENTS = None
evaluate = visit_condition("landing_page")
prepare = visit_prepare("landing_page")
access = visit_access("landing_page")
