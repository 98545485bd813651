"""Condition «Дата создания заказа»: the order is older / newer than N days."""

from plugin.nodes.conditions._order import ORDER_EVENTS, age_condition, age_prepare

EVENTS = ORDER_EVENTS
evaluate = age_condition("created_at")
prepare = age_prepare("created_at")
