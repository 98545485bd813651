"""Condition «Поле сделки»: a text or numeric operator on a custom field of the order (its ``fields``)."""

from plugin.nodes.conditions._condition import EITHER, Condition
from plugin.nodes.conditions._fields import CustomField
from plugin.nodes.conditions._order import ORDER_EVENTS

CONDITION = Condition(CustomField("order"), EITHER, events=ORDER_EVENTS)
EVENTS, evaluate, prepare, access = CONDITION.hooks()
