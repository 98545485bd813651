"""Condition «roistat_param»: the value of ``roistat_param_<index>`` (index 1–5)."""

from plugin.nodes.conditions._visit import visit_condition

EVENTS = None
evaluate = visit_condition(lambda params: f"roistat_param_{int(params['index'])}")
