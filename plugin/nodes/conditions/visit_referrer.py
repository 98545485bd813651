"""Condition «Реферер»: the page the visitor came from."""

from plugin.nodes.conditions._visit import visit_access, visit_condition, visit_prepare

EVENTS = None
evaluate = visit_condition("referrer")
prepare = visit_prepare("referrer")
access = visit_access("referrer")
