"""Condition «UTM-метка»: the value of the UTM tag chosen by the ``tag`` param."""

from plugin.nodes.conditions._visit import visit_access, visit_condition, visit_prepare

EVENTS = None
evaluate = visit_condition(lambda params: params["tag"])
prepare = visit_prepare(lambda params: params["tag"])
access = visit_access(lambda params: params["tag"])
