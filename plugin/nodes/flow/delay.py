"""Flow node «Задержка»: wait ``amount`` minutes / hours / days, durably, before the rest of the path."""

from __future__ import annotations

from typing import Any

UNIT_SECONDS = {"minutes": 60, "hours": 3600, "days": 86400}


def delay_seconds(params: dict[str, Any]) -> int:
    unit = params.get("unit", "minutes")
    if unit not in UNIT_SECONDS:
        raise ValueError(f"unknown delay unit {unit!r}, expected one of {tuple(UNIT_SECONDS)}")
    amount = int(params["amount"])
    if amount < 0:
        raise ValueError(f"delay amount must not be negative, got {amount!r}")
    return amount * UNIT_SECONDS[unit]
