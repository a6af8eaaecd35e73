"""Scenarios: TOML files that schedule levers, place shocks and override parameters.

A scenario says what changes relative to the policy as it stood in 2020. It can extend another scenario;
the child's lever entries replace the parent's for the same lever, its shocks are added to the parent's, and
its overrides win. Everything is checked on load, so a run never starts from a file it would misread: each
problem is one line naming the file, the key, what was expected and what was found.

Example::

    name = "Scanner rollout at the 10 largest ports"
    extends = "baseline.toml"

    [levers.port_scanning]
    target = 0.25
    from = "2023-01"
    ramp_months = 24
    where = ["BE", "NL", "DE", "ES", "FR", "IT"]

    [[shocks]]
    kind = "afghan_opium_ban"
    at = "2022-04"
"""

from __future__ import annotations

import json
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from types import MappingProxyType

import numpy as np

from .dims import MEMBER_STATES, MS_INDEX
from .errors import ScenarioError, reject_unknown_keys
from .levers import LEVERS
from .params import PARAMETERS
from .shocks import SHOCKS
from .timeline import format_month, month_range, parse_month

DEFAULT_HORIZON = ("2015-01", "2030-12")
TOP_LEVEL_KEYS = ("name", "description", "extends", "horizon", "levers", "shocks", "overrides")
LEVER_KEYS = ("target", "from", "ramp_months", "where", "note")
SHOCK_KEYS = ("kind", "at", "duration_months", "magnitude", "where", "note")


@dataclass(frozen=True)
class LeverChange:
    """Move a lever to ``target`` from month ``start``, linearly over ``ramp_months``, in ``where``."""

    key: str
    target: float
    start: np.datetime64
    ramp_months: int
    where: tuple[str, ...] | None = None
    note: str = ""


@dataclass(frozen=True)
class Shock:
    """A named exogenous event starting at ``at``; ``duration_months == 0`` means it persists."""

    kind: str
    at: np.datetime64
    duration_months: int
    magnitude: float
    where: tuple[str, ...] | None = None
    note: str = ""

    def active(self, month: np.datetime64) -> bool:
        """Whether the shock is in force in ``month``."""
        if month < self.at:
            return False
        return self.duration_months == 0 or month < self.at + np.timedelta64(self.duration_months, "M")


@dataclass(frozen=True)
class Scenario:
    """A validated scenario. Build it with :func:`load_scenario` or :meth:`Scenario.from_dict`."""

    name: str
    description: str
    path: str
    start: np.datetime64
    end: np.datetime64
    levers: tuple[LeverChange, ...] = ()
    shocks: tuple[Shock, ...] = ()
    overrides: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    extends: tuple[str, ...] = ()

    @property
    def months(self) -> np.ndarray:
        """Every month of the horizon."""
        return month_range(self.start, self.end)

    @property
    def stem(self) -> str:
        """File name without extension: the name of the run's outputs."""
        return Path(self.path).stem if self.path else "scenario"

    def lever_schedule(self, key: str, months: np.ndarray | None = None) -> np.ndarray:
        """The lever's value per month and Member State, shape ``(months, 27)``.

        Starts from the 2020 baseline; each change ramps linearly from the value in force the month before it
        to its target.
        """
        months = self.months if months is None else months
        spec = LEVERS[key]
        values = np.tile(spec.baseline_values(), (len(months), 1))
        for change in sorted((c for c in self.levers if c.key == key), key=lambda c: c.start):
            cols = np.arange(values.shape[1]) if change.where is None else np.array([MS_INDEX[m] for m in change.where])
            since = (months - change.start).astype(int)  # months since the change began
            rows = np.flatnonzero(since >= 0)
            if rows.size == 0:
                continue
            before = values[max(rows[0] - 1, 0), cols]
            if change.ramp_months > 0:
                share = np.minimum(1.0, (since[rows] + 1) / change.ramp_months)[:, None]
            else:
                share = np.ones((rows.size, 1))
            values[np.ix_(rows, cols)] = before + (change.target - before) * share
        return values

    def to_dict(self) -> dict:
        """A JSON-able record of the scenario as resolved (stored in every output's attributes)."""
        return {
            "name": self.name,
            "description": self.description,
            "path": self.path,
            "extends": list(self.extends),
            "horizon": {"start": format_month(self.start), "end": format_month(self.end)},
            "levers": [
                {"key": c.key, "target": c.target, "from": format_month(c.start), "ramp_months": c.ramp_months,
                 "where": list(c.where) if c.where else None}
                for c in self.levers
            ],
            "shocks": [
                {"kind": s.kind, "at": format_month(s.at), "duration_months": s.duration_months,
                 "magnitude": s.magnitude, "where": list(s.where) if s.where else None}
                for s in self.shocks
            ],
            "overrides": dict(self.overrides),
        }

    def __reduce__(self):
        """Pickle support (a MappingProxyType does not pickle), so scenarios travel to ensemble workers."""
        state = {f.name: getattr(self, f.name) for f in fields(self)}
        state["overrides"] = dict(self.overrides)
        return (_restore_scenario, (state,))

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, raw: Mapping, source: str = "<scenario>") -> "Scenario":
        """Validate a parsed scenario table that does not use ``extends``."""
        if "extends" in raw:
            raise ScenarioError(source, "extends", "no extends in an in-memory scenario", repr(raw["extends"]))
        return _build([(source, dict(raw))], source)


def _restore_scenario(state: dict) -> Scenario:
    return Scenario(**{**state, "overrides": MappingProxyType(state["overrides"])})


# --------------------------------------------------------------------------------------------- loading


def load_scenario(path: str | Path) -> Scenario:
    """Read, resolve ``extends`` and validate a scenario file.

    Raises:
        ScenarioError: with one line naming the file, the key, what was expected and what was found.
    """
    chain: list[tuple[str, dict]] = []
    seen: list[Path] = []
    current = Path(path)
    shown = str(path)
    while True:
        resolved = current.resolve()
        if resolved in seen:
            cycle = " -> ".join(p.name for p in [*seen, resolved])
            raise ScenarioError(shown, "extends", "a chain of scenarios without a cycle", f"the cycle {cycle}")
        seen.append(resolved)
        raw = _read(current, shown)
        chain.append((shown, raw))
        parent = raw.get("extends")
        if parent is None:
            break
        if not isinstance(parent, str) or not parent:
            raise ScenarioError(shown, "extends", "the path of another scenario file", repr(parent))
        nxt = current.parent / parent
        if not nxt.is_file():
            raise ScenarioError(shown, "extends", "an existing scenario file", f"{parent!r}, which does not exist")
        current, shown = nxt, str(nxt)
    chain.reverse()  # root first; children override
    return _build(chain, str(path))


def _read(path: Path, shown: str) -> dict:
    if not path.is_file():
        raise ScenarioError(shown, "", "an existing scenario file", "no such file")
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(shown, "", "valid TOML", f"a syntax error ({exc})") from None
    except OSError as exc:
        raise ScenarioError(shown, "", "a readable file", exc.strerror or str(exc)) from None


def _build(chain: list[tuple[str, dict]], path: str) -> Scenario:
    name = description = ""
    horizon = {"start": DEFAULT_HORIZON[0], "end": DEFAULT_HORIZON[1]}
    horizon_src = {"start": ("", ""), "end": ("", "")}
    levers: dict[str, list[tuple[str, dict]]] = {}
    shocks: list[tuple[str, int, dict]] = []
    overrides: dict[str, tuple[str, object]] = {}
    for source, raw in chain:
        reject_unknown_keys(raw, TOP_LEVEL_KEYS, source, error=ScenarioError)
        if "name" in raw:
            name = _string(source, "name", raw["name"])
        if "description" in raw:
            description = _string(source, "description", raw["description"])
        if "horizon" in raw:
            h = raw["horizon"]
            if not isinstance(h, dict) or set(h) - {"start", "end"}:
                raise ScenarioError(source, "horizon", 'a table { start = "YYYY-MM", end = "YYYY-MM" }', repr(h))
            for k in ("start", "end"):
                if k in h:
                    horizon[k] = h[k]
                    horizon_src[k] = (source, f"horizon.{k}")
        for key, entry in _table(source, "levers", raw.get("levers", {})).items():
            if key not in LEVERS:
                raise ScenarioError(source, f"levers.{key}", "a lever listed by `dapsim levers`", f"unknown lever {key!r}")
            entries = entry if isinstance(entry, list) else [entry]
            levers[key] = [(source, e) for e in entries]
        raw_shocks = raw.get("shocks", [])
        if not isinstance(raw_shocks, list):
            raise ScenarioError(source, "shocks", "an array of tables [[shocks]]", repr(raw_shocks))
        shocks.extend((source, i, s) for i, s in enumerate(raw_shocks))
        for key, value in _table(source, "overrides", raw.get("overrides", {})).items():
            overrides[key] = (source, value)

    start = _month(*horizon_src["start"], horizon["start"]) if horizon_src["start"][0] else parse_month(horizon["start"])
    end = _month(*horizon_src["end"], horizon["end"]) if horizon_src["end"][0] else parse_month(horizon["end"])
    if end < start:
        src, key = horizon_src["end"] if horizon_src["end"][0] else horizon_src["start"]
        raise ScenarioError(src, key, f"an end month not before the start {format_month(start)}", format_month(end))

    changes = []
    for key, entries in levers.items():
        for i, (source, e) in enumerate(entries):
            label = f"levers.{key}" if len(entries) == 1 else f"levers.{key}[{i}]"
            changes.append(_lever_change(source, label, key, e, start, end))
    shock_list = [_shock(source, f"shocks[{i}]", s, start, end) for source, i, s in shocks]
    resolved_overrides = {k: _override(src, k, v) for k, (src, v) in overrides.items()}
    return Scenario(
        name=name or Path(path).stem,
        description=description,
        path=path,
        start=start,
        end=end,
        levers=tuple(changes),
        shocks=tuple(shock_list),
        overrides=MappingProxyType(resolved_overrides),
        extends=tuple(src for src, _ in chain[:-1]),
    )


def _string(source: str, key: str, value: object) -> str:
    if not isinstance(value, str):
        raise ScenarioError(source, key, "a string", repr(value))
    return value


def _table(source: str, key: str, value: object) -> dict:
    if not isinstance(value, dict):
        raise ScenarioError(source, key, "a table", repr(value))
    return value


def _month(source: str, key: str, value: object) -> np.datetime64:
    try:
        return parse_month(value)
    except ValueError:
        raise ScenarioError(source, key, 'a month "YYYY-MM"', repr(value)) from None


def _number(source: str, key: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ScenarioError(source, key, "a number", repr(value))
    return float(value)


def _count(source: str, key: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ScenarioError(source, key, "a whole number of months >= 0", repr(value))
    return value


def _where(source: str, key: str, value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise ScenarioError(source, key, "a non-empty list of Member State codes", repr(value))
    for code in value:
        if code not in MS_INDEX:
            raise ScenarioError(source, key, f"Member State codes ({' '.join(MEMBER_STATES)})", f"unknown Member State {code!r}")
    return tuple(value)


def _within(source: str, key: str, month: np.datetime64, start: np.datetime64, end: np.datetime64) -> None:
    if not start <= month <= end:
        raise ScenarioError(source, key, f"a month within the horizon {format_month(start)}..{format_month(end)}",
                            repr(format_month(month)))


def _lever_change(source, label, key, e, start, end) -> LeverChange:
    if not isinstance(e, dict):
        raise ScenarioError(source, label, "a table with target and from", repr(e))
    reject_unknown_keys(e, LEVER_KEYS, source, f"{label}.", ScenarioError)
    spec = LEVERS[key]
    for k in ("target", "from"):
        if k not in e:
            raise ScenarioError(source, f"{label}.{k}", f"a {'number' if k == 'target' else 'month'}", "nothing")
    target = _number(source, f"{label}.target", e["target"])
    if not spec.min <= target <= spec.max:
        raise ScenarioError(source, f"{label}.target", f"a value in [{spec.min:g}, {spec.max:g}] {spec.symbol}", f"{target:g}")
    when = _month(source, f"{label}.from", e["from"])
    _within(source, f"{label}.from", when, start, end)
    ramp = _count(source, f"{label}.ramp_months", e.get("ramp_months", spec.ramp_months))
    where = None
    if "where" in e:
        if spec.scope == "eu":
            raise ScenarioError(source, f"{label}.where", "no where: this lever has one EU-wide value", repr(e["where"]))
        where = _where(source, f"{label}.where", e["where"])
    return LeverChange(key, target, when, ramp, where, str(e.get("note", "")))


def _shock(source, label, s, start, end) -> Shock:
    if not isinstance(s, dict):
        raise ScenarioError(source, label, "a table with kind and at", repr(s))
    reject_unknown_keys(s, SHOCK_KEYS, source, f"{label}.", ScenarioError)
    kind = s.get("kind")
    if kind not in SHOCKS:
        raise ScenarioError(source, f"{label}.kind", f"one of the shocks {', '.join(SHOCKS)}", f"unknown shock {kind!r}")
    spec = SHOCKS[kind]
    if "at" not in s:
        raise ScenarioError(source, f"{label}.at", 'a month "YYYY-MM"', "nothing")
    at = _month(source, f"{label}.at", s["at"])
    _within(source, f"{label}.at", at, start, end)
    duration = _count(source, f"{label}.duration_months", s.get("duration_months", spec.duration_months))
    magnitude = _number(source, f"{label}.magnitude", s.get("magnitude", spec.magnitude))
    lo, hi = spec.magnitude_range
    if not lo <= magnitude <= hi:
        raise ScenarioError(source, f"{label}.magnitude", f"a value in [{lo:g}, {hi:g}] ({spec.magnitude_unit})", f"{magnitude:g}")
    where = _where(source, f"{label}.where", s["where"]) if "where" in s else None
    return Shock(kind, at, duration, magnitude, where, str(s.get("note", "")))


def _override(source: str, key: str, value: object) -> float:
    label = f"overrides.{key}"
    if key not in PARAMETERS:
        raise ScenarioError(source, label, "a parameter listed by `dapsim params`", f"unknown parameter {key!r}")
    number = _number(source, label, value)
    lo, hi = PARAMETERS[key].prior.support()
    if not lo <= number <= hi:
        raise ScenarioError(source, label, f"a value in [{lo:g}, {hi:g}] {PARAMETERS[key].unit}".rstrip(), f"{number:g}")
    return number
