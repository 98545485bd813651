"""Condition «Дата оплаты заказа»: the order was paid more / less than N days ago."""

from plugin.nodes.conditions._order import ORDER_EVENTS, age_condition, age_prepare

EVENTS = ORDER_EVENTS
evaluate = age_condition("paid_at")
prepare = age_prepare("paid_at")
