"""Condition «roistat_param»: the value of ``roistat_param_<index>`` (index 1–5)."""

from plugin.nodes.conditions._visit import visit_access, visit_condition, visit_prepare

EVENTS = None
evaluate = visit_condition(lambda params: f"roistat_param_{int(params['index'])}")
prepare = visit_prepare(lambda params: f"roistat_param_{int(params['index'])}")
access = visit_access(lambda params: f"roistat_param_{int(params['index'])}")
