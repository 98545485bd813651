"""Condition «Поле клиента»: a text or numeric operator on a custom field of the client (its ``fields``);
every event's context carries the client when there is one."""

from plugin.nodes.conditions._condition import EITHER, Condition
from plugin.nodes.conditions._fields import CustomField

CONDITION = Condition(CustomField("client"), EITHER)
EVENTS, evaluate, prepare, access = CONDITION.hooks()
