"""Condition «Источник (маркер)»: the visit's channel marker."""

from plugin.nodes.conditions._visit import visit_access, visit_condition, visit_prepare

EVENTS = None
evaluate = visit_condition("marker")
prepare = visit_prepare("marker")
access = visit_access("marker")
