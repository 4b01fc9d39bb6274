"""The organisation from the seed document: departments, task forces, and demo users."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

ORG_PATH = Path(__file__).resolve().parent / "org.json"
OFFICE_DEPARTMENT = "supervision_office"


@lru_cache(maxsize=1)
def org_data() -> dict[str, Any]:
    """The org data file, parsed."""
    return json.loads(ORG_PATH.read_text(encoding="utf-8"))


@dataclass(frozen=True)
class DemoUser:
    """A demo account to create with ``seed-demo``."""

    username: str
    display_name: str
    roles: tuple[str, ...]
    department: str | None = None
    taskforce: str | None = None


def demo_users() -> list[DemoUser]:
    """The demo users of API.md: dispatcher, supervisor, one handler and leader per department,
    one leader per task force."""
    data = org_data()
    office = next(d for d in data["departments"] if d["code"] == OFFICE_DEPARTMENT)
    users = [
        DemoUser("dispatcher", f"{office['name']}调度员", ("dispatcher",), OFFICE_DEPARTMENT),
        DemoUser("supervisor", f"{office['name']}督查员", ("supervisor",), OFFICE_DEPARTMENT),
    ]
    for dept in data["departments"]:
        if dept["code"] == OFFICE_DEPARTMENT:
            continue
        users.append(DemoUser(dept["code"], f"{dept['name']}经办人", ("handler",), dept["code"]))
        users.append(
            DemoUser(f"{dept['code']}_leader", f"{dept['name']}负责人", ("dept_leader",), dept["code"])
        )
    for tf in data["taskforces"]:
        users.append(
            DemoUser(f"{tf['code']}_leader", f"{tf['name']}组长", ("taskforce_leader",), None, tf["code"])
        )
    return users
