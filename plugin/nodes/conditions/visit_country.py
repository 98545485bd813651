"""Condition «Страна»: the visitor's country."""

from plugin.nodes.conditions._visit import visit_access, visit_condition, visit_prepare

EVENTS = None
evaluate = visit_condition("country")
prepare = visit_prepare("country")
access = visit_access("country")
