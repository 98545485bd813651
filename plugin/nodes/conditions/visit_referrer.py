"""Condition «Реферер»: the page the visitor came from."""

from plugin.nodes.conditions._visit import visit_condition

EVENTS = None
evaluate = visit_condition("referrer")
