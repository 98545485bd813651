"""The Russian catalogue, continued: branches of edges, condition groups and A/B splits
(:mod:`plugin.engine.node_checks`)."""

from __future__ import annotations

from typing import Any

CATALOGUE: dict[str, Any] = {
    "edge.branch": lambda a: (
        "Ветку задают только у связи, которая выходит из условия («да» или «нет») или из A/B-теста (вариант)"
    ),
    "edge.condition_branch": lambda a: f"У связи из условия ветка — «да» или «нет», а не «{a['branch']}»",
    "edge.variant_missing": lambda a: (
        f"Связь из A/B-теста должна вести из одного из вариантов: {a['variants']} — выберите вариант"
    ),
    "edge.variant_unknown": lambda a: (
        f"В A/B-тесте нет варианта «{a['branch']}»; есть: {a['variants']} — выберите один из них"
    ),
    "group.unknown_condition": lambda a: f"Неизвестный тип условия «{a['type']}» в группе условий",
    "group.depth": lambda a: (
        f"Группы условий вкладываются не глубже {a['limit']} уровней, а эта была бы на уровне "
        f"{a['level']} — вынесите её условия на уровень выше"
    ),
    "split.duplicate_key": lambda a: f"Вариант «{a['key']}» назван дважды: у каждого варианта своё название",
}
