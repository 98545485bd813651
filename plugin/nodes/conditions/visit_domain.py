"""Condition «Домен»: the site's domain of the visit."""

from plugin.nodes.conditions._visit import visit_access, visit_condition, visit_prepare

EVENTS = None
evaluate = visit_condition("domain")
prepare = visit_prepare("domain")
access = visit_access("domain")
