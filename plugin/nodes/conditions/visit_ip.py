"""Condition «IP-адрес»: the visitor's IP; equals / any_of also take CIDR ranges (IPv4 and IPv6)."""

from plugin.nodes.conditions._visit import ip_match, visit_access, visit_condition, visit_prepare

EVENTS = None
evaluate = visit_condition("ip", item_match=ip_match)
prepare = visit_prepare("ip", item_match=ip_match)
access = visit_access("ip", item_match=ip_match)
