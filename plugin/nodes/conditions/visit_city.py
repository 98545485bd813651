"""Condition «Город»: the visitor's city."""

from plugin.nodes.conditions._visit import visit_condition

EVENTS = None
evaluate = visit_condition("city")
