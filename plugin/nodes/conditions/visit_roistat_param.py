"""Condition «roistat_param»: the value of ``roistat_param_<index>`` (index 1–5)."""

from plugin.nodes.conditions._condition import TEXT, Condition, ParamEntry

CONDITION = Condition(ParamEntry("visit", lambda params: f"roistat_param_{int(params['index'])}"), TEXT)
EVENTS, evaluate, prepare, access = CONDITION.hooks()
