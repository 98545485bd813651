"""Condition «UTM-метка»: the value of the UTM tag chosen by the ``tag`` param."""

from plugin.nodes.conditions._visit import visit_condition

EVENTS = None
evaluate = visit_condition(lambda params: params["tag"])
