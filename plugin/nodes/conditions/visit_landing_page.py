"""Condition «Посадочная страница»: the visit's landing page."""

from plugin.nodes.conditions._condition import TEXT, Condition, Entry

CONDITION = Condition(Entry("visit", "landing_page"), TEXT)
EVENTS, evaluate, prepare, access = CONDITION.hooks()
