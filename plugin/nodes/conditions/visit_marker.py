"""Condition «Источник (маркер)»: the visit's channel marker."""

from plugin.nodes.conditions._visit import visit_condition

EVENTS = None
evaluate = visit_condition("marker")
