"""Condition «Страна»: the visitor's country."""

from plugin.nodes.conditions._visit import visit_condition

EVENTS = None
evaluate = visit_condition("country")
