"""Condition «Реферер»: the page the visitor came from."""

from plugin.nodes.conditions._condition import TEXT, Condition, Entry

CONDITION = Condition(Entry("visit", "referrer"), TEXT)
EVENTS, evaluate, prepare, access = CONDITION.hooks()
