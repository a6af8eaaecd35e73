"""The Plan's 85 actions and how dapsim models each (``data/actions.toml``)."""

from __future__ import annotations

from dataclasses import dataclass

from ._toml import load_data


@dataclass(frozen=True)
class Action:
    """One action of the Plan: the levers that model it and how, or why it is out of scope."""

    number: int
    priority: str
    section: str
    title: str
    levers: tuple[str, ...]
    mechanism: str
    out_of_scope: str


ACTIONS: tuple[Action, ...] = tuple(
    Action(
        number=int(a["action"]),
        priority=str(a["priority"]),
        section=str(a.get("section", "")),
        title=a["title"],
        levers=tuple(a["levers"]),
        mechanism=a.get("mechanism", ""),
        out_of_scope=a.get("out_of_scope", ""),
    )
    for a in load_data("actions.toml")["action"]
)
"""All 85 actions, in the Plan's order."""
