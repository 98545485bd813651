"""Condition «UTM-метка»: the value of the UTM tag chosen by the ``tag`` param."""

from plugin.nodes.conditions._condition import TEXT, Condition, ParamEntry

CONDITION = Condition(ParamEntry("visit", lambda params: params["tag"]), TEXT)
EVENTS, evaluate, prepare, access = CONDITION.hooks()
