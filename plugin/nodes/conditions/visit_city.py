"""Condition «Город»: the visitor's city."""

from plugin.nodes.conditions._visit import visit_access, visit_condition, visit_prepare

EVENTS = None
evaluate = visit_condition("city")
prepare = visit_prepare("city")
access = visit_access("city")
