"""Condition «Домен»: the site's domain of the visit."""

from plugin.nodes.conditions._condition import TEXT, Condition, Entry

CONDITION = Condition(Entry("visit", "domain"), TEXT)
EVENTS, evaluate, prepare, access = CONDITION.hooks()
