"""Condition «Страна»: the visitor's country."""

from plugin.nodes.conditions._condition import TEXT, Condition, Entry

CONDITION = Condition(Entry("visit", "country"), TEXT)
EVENTS, evaluate, prepare, access = CONDITION.hooks()
