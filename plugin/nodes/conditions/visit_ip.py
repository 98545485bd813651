"""Condition «IP-адрес»: the visitor's IP; equals / any_of also take CIDR ranges (IPv4 and IPv6)."""

from plugin.nodes.conditions._condition import Condition, Entry, TextOperators
from plugin.nodes.conditions._visit import ip_match

CONDITION = Condition(Entry("visit", "ip"), TextOperators(item_match=ip_match))
EVENTS, evaluate, prepare, access = CONDITION.hooks()
