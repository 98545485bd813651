"""Condition «Дата создания заказа»: the order is older / newer than N days."""

from plugin.nodes.conditions._condition import Condition
from plugin.nodes.conditions._order import AGE, ORDER_EVENTS, OrderAge

CONDITION = Condition(OrderAge("created_at"), AGE, events=ORDER_EVENTS)
EVENTS, evaluate, prepare, access = CONDITION.hooks()
