"""Condition «Домен»: the site's domain of the visit."""

from plugin.nodes.conditions._visit import visit_condition

EVENTS = None
evaluate = visit_condition("domain")
