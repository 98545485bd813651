"""Condition «Город»: the visitor's city."""

from plugin.nodes.conditions._condition import TEXT, Condition, Entry

CONDITION = Condition(Entry("visit", "city"), TEXT)
EVENTS, evaluate, prepare, access = CONDITION.hooks()
