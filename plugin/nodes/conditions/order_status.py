"""Condition «Статус»: the order's status name is (not) in a list; case-insensitive."""

from plugin.nodes.conditions._condition import Condition, Entry
from plugin.nodes.conditions._order import ORDER_EVENTS, STATUS

CONDITION = Condition(Entry("order", "status"), STATUS, events=ORDER_EVENTS)
EVENTS, evaluate, prepare, access = CONDITION.hooks()
