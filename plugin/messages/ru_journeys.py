"""The Russian of the journey problems (issue #20): wait nodes and the exit event."""

from __future__ import annotations

from typing import Any

CATALOGUE: dict[str, Any] = {
    "wait.timeout": lambda a: "Ждать можно от 1 минуты до 90 дней — задайте дни, часы или минуты",
    "wait.name": lambda a: "Укажите название пользовательского события, которое ждать",
    "wait.per": lambda a: f"Событие «{a['event']}» нельзя ждать для {a['per']}: только для {a['allowed']}",
    "wait.status_only": lambda a: "Статус и группу статусов задают, только когда ждут смену статуса сделки",
    "exit.to_group": lambda a: (
        "Группу статусов («В работе», «Оплачено», «Отменено») задают только у условия выхода "
        "«Смена статуса сделки»"
    ),
}
