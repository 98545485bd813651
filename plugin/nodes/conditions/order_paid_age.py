"""Condition «Дата оплаты заказа»: the order was paid more / less than N days ago."""

from plugin.nodes.conditions._condition import Condition
from plugin.nodes.conditions._order import AGE, ORDER_EVENTS, OrderAge

CONDITION = Condition(OrderAge("paid_at"), AGE, events=ORDER_EVENTS)
EVENTS, evaluate, prepare, access = CONDITION.hooks()
