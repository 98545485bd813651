"""Condition «Поле клиента»: a text or numeric operator on a custom field of the client (any event)."""

from plugin.nodes.conditions._condition import EITHER, Condition
from plugin.nodes.conditions._fields import CustomField

CONDITION = Condition(CustomField("client"), EITHER)
EVENTS, evaluate, prepare, access = CONDITION.hooks()
