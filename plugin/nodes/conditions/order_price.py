"""Condition «Сумма заказа»: a numeric comparison on the order's price."""

from plugin.nodes.conditions._condition import NUMERIC, Condition, Entry
from plugin.nodes.conditions._order import ORDER_EVENTS

CONDITION = Condition(Entry("order", "price"), NUMERIC, events=ORDER_EVENTS)
EVENTS, evaluate, prepare, access = CONDITION.hooks()
