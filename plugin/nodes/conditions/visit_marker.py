"""Condition «Источник (маркер)»: the visit's channel marker."""

from plugin.nodes.conditions._condition import TEXT, Condition, Entry

CONDITION = Condition(Entry("visit", "marker"), TEXT)
EVENTS, evaluate, prepare, access = CONDITION.hooks()
