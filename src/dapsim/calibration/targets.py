"""Calibration targets: the published EU series the model is fitted to and validated against.

A target file is a CSV with one row per published figure::

    indicator,variable,geography,year,value,lower,upper,unit,source_url,note
    5,drug_induced_deaths,EU-27,2022,6400,5440,7360,count per year,https://...,"published as 'around 6 400' ..."

How a row maps onto the model (the aggregation is part of the row, so every number is traceable):

* ``variable`` names an output variable of :data:`dapsim.indicators.INDICATORS`, optionally with a selection
  in brackets: ``seizures_kg[substance=cocaine]``, ``users_last_year[substance=cannabis,age_group=15-64]``.
  ``substance`` and ``age_group`` must be selected when the variable has them, because summing over them
  would count a person twice (age bands overlap, people use several drugs); ``substance=all`` sums over
  substances where that is meaningful (kilograms, euros). Terms in the same units may be added with ``+``
  where a published figure is a sum of model variables: the people treated during a year are the stock at its
  start plus the year's entrants, ``treatment_clients+treatment_entrants``.
* ``geography`` is ``EU-27`` (or ``EU`` for EU-wide series such as early-warning notifications): the sum over
  ``member_state``; or a Member State code (``DE``), which selects it.
* Dimensions left over (``sex``, ``entry_point``, ``lever``) are summed, and only additive units (people,
  counts, kilograms, euros) may be summed.
* ``year`` is the calendar year of :func:`dapsim.annual`: sums over the year for flows, the annual mean of the
  monthly stock for people (clients, users).
* ``unit`` must equal the annual unit of the variable (``count per year``, ``kg per year``, ``people``,
  ``EUR per year``), so that a file in tonnes cannot slip through.
* ``lower`` and ``upper`` bound the observation: a published range, the spread between vintages, or a
  documented relative uncertainty (the ``note`` says which). They are read as two standard deviations either
  side of ``value`` (a ~95% interval), so the calibration distance is asymmetric where the range is.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import numpy as np
import xarray as xr

from ..dims import AGE_GROUPS, MEMBER_STATES, SEXES, SUBSTANCES
from ..errors import InputError
from ..indicators import INDICATORS

COLUMNS = ("indicator", "variable", "geography", "year", "value", "lower", "upper", "unit", "source_url", "note")
"""The columns of a target file, in this order."""

EU_GEOGRAPHIES = ("EU-27", "EU")
"""Geographies that mean 'sum over the Member States'."""

ADDITIVE_UNITS = ("count", "people", "kg", "EUR")
"""Units that may be summed over Member States, sexes or entry points."""

SUMMED_DIMS = ("sex", "entry_point", "lever")
"""Dimensions summed when a target does not select them."""

MUST_SELECT = {"substance": SUBSTANCES, "age_group": AGE_GROUPS}
"""Dimensions a target must select (or, for substance, sum with ``all``), with their labels."""

MIN_RELATIVE_SIGMA = 0.025
"""Floor on a target's standard deviation, as a share of its value (a published 'at least X' has lower == value;
without a floor the distance would be infinite just below it)."""

DEFAULT_TARGETS_DIR = "calibration/targets"
"""Where the shipped targets live (relative to the repository root, the working directory of the CLI)."""

_VARIABLE = re.compile(r"^([a-z0-9_]+)(?:\[([^\]]*)\])?$")


@dataclass(frozen=True)
class Target:
    """One published figure and how to compute it from a run."""

    file: str
    line: int
    indicator: int
    variable: str
    name: str
    selection: Mapping[str, str]
    geography: str
    year: int
    value: float
    lower: float
    upper: float
    unit: str
    source_url: str
    note: str = ""
    more: tuple[tuple[str, Mapping[str, str]], ...] = ()
    """Further ``(variable, selection)`` terms added to the first, for a published figure that is a sum of two
    model variables (people treated during a year = ``treatment_clients + treatment_entrants``)."""

    @property
    def terms(self) -> tuple[tuple[str, Mapping[str, str]], ...]:
        """Every ``(variable, selection)`` the target adds up."""
        return ((self.name, self.selection), *self.more)

    @property
    def names(self) -> set[str]:
        """The output variables the target needs."""
        return {name for name, _ in self.terms}

    @property
    def id(self) -> str:
        """Unique label, e.g. ``seizures_kg[substance=cocaine]|EU-27|2021``."""
        return f"{self.variable}|{self.geography}|{self.year}"

    @property
    def series(self) -> str:
        """The series the target belongs to (the label without the year), for tables and plots."""
        return f"{self.variable}|{self.geography}"

    @property
    def sigma_below(self) -> float:
        """Standard deviation used when the simulation falls below ``value``."""
        return max((self.value - self.lower) / 2.0, MIN_RELATIVE_SIGMA * abs(self.value), 1e-12)

    @property
    def sigma_above(self) -> float:
        """Standard deviation used when the simulation lies above ``value``."""
        return max((self.upper - self.value) / 2.0, MIN_RELATIVE_SIGMA * abs(self.value), 1e-12)

    def z(self, simulated: float | np.ndarray) -> np.ndarray:
        """Standardised error ``(simulated - value) / sigma`` with the sigma of the side it falls on."""
        sim = np.asarray(simulated, dtype=float)
        return np.where(sim >= self.value, (sim - self.value) / self.sigma_above, (sim - self.value) / self.sigma_below)

    def statistic(self, yearly: xr.Dataset) -> float:
        """The model's value for this target from an annual dataset (:func:`dapsim.annual`); NaN if absent."""
        if "year" not in yearly.coords or self.year not in yearly["year"].values:
            return math.nan
        total = 0.0
        for name, selection in self.terms:
            if name not in yearly:
                return math.nan
            da = yearly[name].sel(year=self.year)
            for dim, label in selection.items():
                if dim in da.dims:
                    da = da.sum(dim) if label == "all" else da.sel({dim: label})
            if "member_state" in da.dims:
                da = (da.sum("member_state", skipna=False) if self.geography in EU_GEOGRAPHIES
                      else da.sel(member_state=self.geography))
            for dim in list(da.dims):
                da = da.sum(dim, skipna=False)
            total += float(da.values)
        return total


@dataclass(frozen=True)
class TargetSet(Sequence[Target]):
    """An ordered, validated collection of targets."""

    targets: tuple[Target, ...]
    sources: tuple[str, ...] = field(default=())

    def __getitem__(self, i):
        return self.targets[i]

    def __len__(self) -> int:
        return len(self.targets)

    def __iter__(self) -> Iterator[Target]:
        return iter(self.targets)

    @property
    def ids(self) -> list[str]:
        return [t.id for t in self.targets]

    @property
    def variables(self) -> set[str]:
        """Output variables the targets need."""
        return set().union(*(t.names for t in self.targets)) if self.targets else set()

    @property
    def last_year(self) -> int:
        return max(t.year for t in self.targets)

    @property
    def first_year(self) -> int:
        return min(t.year for t in self.targets)

    def where(self, predicate) -> "TargetSet":
        """The targets for which ``predicate(target)`` holds."""
        return TargetSet(tuple(t for t in self.targets if predicate(t)), self.sources)

    def up_to(self, year: int) -> "TargetSet":
        """Targets of ``year`` and earlier (the fitting set of an out-of-sample validation)."""
        return self.where(lambda t: t.year <= year)

    def after(self, year: int) -> "TargetSet":
        """Targets after ``year`` (the test set)."""
        return self.where(lambda t: t.year > year)

    def split_by_variables(self, available: Iterable[str]) -> tuple["TargetSet", "TargetSet"]:
        """(targets whose variable the model fills, targets it cannot compute yet)."""
        have = set(available)
        return self.where(lambda t: t.names <= have), self.where(lambda t: not t.names <= have)

    def statistics(self, yearly: xr.Dataset) -> dict[str, float]:
        """Every target's simulated value from an annual dataset, by target id."""
        return {t.id: t.statistic(yearly) for t in self.targets}

    def to_records(self) -> list[dict]:
        return [{"id": t.id, "series": t.series, **{c: getattr(t, c) for c in COLUMNS}, "file": t.file,
                 "line": t.line} for t in self.targets]


def annual_unit(name: str) -> str:
    """The unit a target on variable ``name`` must state (the unit of :func:`dapsim.annual`)."""
    var = INDICATORS[name]
    return f"{var.units} per year" if var.aggregation == "sum" else var.units


def _parse_variable(text: str, file: str, key: str) -> tuple[str, dict[str, str]]:
    m = _VARIABLE.match(text.strip())
    if not m:
        raise InputError(file, key, "an output variable, optionally with a selection, e.g. seizures_kg[substance=cocaine]",
                         repr(text))
    name, inner = m.group(1), m.group(2)
    if name not in INDICATORS:
        raise InputError(file, key, "an output variable listed by `dapsim indicators`", repr(name))
    dims = INDICATORS[name].dims
    selection: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in (inner or "").split(","))):
        if "=" not in part:
            raise InputError(file, key, "selections written dim=label", repr(part))
        dim, label = (s.strip() for s in part.split("=", 1))
        if dim not in dims or dim in ("time", "member_state"):
            allowed = [d for d in dims if d not in ("time", "member_state")]
            raise InputError(file, key, f"a dimension of {name} to select, one of {allowed} (member states go in geography)",
                             repr(dim))
        labels = {"substance": (*SUBSTANCES, "all"), "age_group": AGE_GROUPS, "sex": SEXES}.get(dim)
        if labels is not None and label not in labels:
            raise InputError(file, key, f"{dim} one of {list(labels)}", repr(label))
        if dim in selection:
            raise InputError(file, key, f"{dim} selected once", f"{dim} selected twice")
        selection[dim] = label
    for dim in MUST_SELECT:
        if dim in dims and dim not in selection:
            raise InputError(file, key, f"a selection of {dim} (summing over {dim} counts people twice)",
                             f"{text!r} without [{dim}=...]")
    summed = [d for d in dims if d in SUMMED_DIMS and d not in selection] + \
             (["substance"] if selection.get("substance") == "all" else []) + \
             (["member_state"] if "member_state" in dims else [])
    unit = INDICATORS[name].units
    if summed and unit not in ADDITIVE_UNITS:
        raise InputError(file, key, f"a variable in additive units {list(ADDITIVE_UNITS)} when summing over {summed}",
                         f"{name} in {unit!r}")
    return name, selection


def _number(file: str, key: str, text: str) -> float:
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise InputError(file, key, "a number", repr(text)) from None
    if not math.isfinite(value):
        raise InputError(file, key, "a finite number", repr(text))
    return value


def _parse_row(row: dict[str, str], file: str, line: int) -> Target:
    where = f"line {line}"
    try:
        indicator = int(row["indicator"])
    except (TypeError, ValueError):
        raise InputError(file, f"{where}: indicator", "an indicator number 1-11", repr(row["indicator"])) from None
    if not 1 <= indicator <= 11:
        raise InputError(file, f"{where}: indicator", "an indicator number 1-11", str(indicator))
    terms = [_parse_variable(part, file, f"{where}: variable") for part in (row["variable"] or "").split("+")]
    name, selection = terms[0]
    for other, _ in terms[1:]:
        if INDICATORS[other].units != INDICATORS[name].units:
            raise InputError(file, f"{where}: variable", f"terms in the units of {name} ({INDICATORS[name].units!r})",
                             f"{other} in {INDICATORS[other].units!r}")
    if INDICATORS[name].indicator != indicator:
        raise InputError(file, f"{where}: indicator", f"{INDICATORS[name].indicator} (the indicator of {name})",
                         str(indicator))
    geography = (row["geography"] or "").strip()
    if geography not in EU_GEOGRAPHIES and geography not in MEMBER_STATES:
        raise InputError(file, f"{where}: geography", f"one of {list(EU_GEOGRAPHIES)} or a Member State code", repr(geography))
    if geography in MEMBER_STATES and "member_state" not in INDICATORS[name].dims:
        raise InputError(file, f"{where}: geography", f"EU (the variable {name} has no member_state dimension)",
                         repr(geography))
    try:
        year = int(row["year"])
    except (TypeError, ValueError):
        raise InputError(file, f"{where}: year", "a calendar year such as 2021", repr(row["year"])) from None
    if not 1990 <= year <= 2100:
        raise InputError(file, f"{where}: year", "a calendar year between 1990 and 2100", str(year))
    value = _number(file, f"{where}: value", row["value"])
    lower = _number(file, f"{where}: lower", row["lower"])
    upper = _number(file, f"{where}: upper", row["upper"])
    if not lower <= value <= upper or not lower < upper:
        raise InputError(file, f"{where}: lower/upper", "lower <= value <= upper with lower < upper",
                         f"lower {lower:g}, value {value:g}, upper {upper:g}")
    unit = (row["unit"] or "").strip()
    expected_unit = annual_unit(name)
    if unit != expected_unit:
        raise InputError(file, f"{where}: unit", f"{expected_unit!r} (the annual unit of {name})", repr(unit))
    url = (row["source_url"] or "").strip()
    if not re.match(r"^https?://\S+$", url):
        raise InputError(file, f"{where}: source_url", "the source URL (http or https)", repr(url))
    return Target(file=file, line=line, indicator=indicator, variable=row["variable"].strip(), name=name,
                  selection=MappingProxyType(selection), geography=geography, year=year, value=value, lower=lower,
                  upper=upper, unit=unit, source_url=url, note=(row.get("note") or "").strip(),
                  more=tuple((n, MappingProxyType(sel)) for n, sel in terms[1:]))


def read_target_file(path: str | Path) -> list[Target]:
    """Read and validate one target CSV; any problem is an :class:`~dapsim.errors.InputError`."""
    path = Path(path)
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(file, "", "a readable UTF-8 CSV file", str(getattr(exc, "strerror", None) or exc)) from None
    reader = csv.reader(text.splitlines())
    header = next(reader, None)
    if header is None or tuple(h.strip() for h in header) != COLUMNS:
        raise InputError(file, "header", ",".join(COLUMNS), ",".join(header or []) or "an empty file")
    targets = []
    for line, cells in enumerate(reader, start=2):
        if not cells or all(not c.strip() for c in cells):
            continue
        if len(cells) != len(COLUMNS):
            raise InputError(file, f"line {line}", f"{len(COLUMNS)} fields", f"{len(cells)}")
        targets.append(_parse_row(dict(zip(COLUMNS, cells)), file, line))
    if not targets:
        raise InputError(file, "", "at least one target row", "none")
    return targets


def load_targets(path: str | Path = DEFAULT_TARGETS_DIR, option: str = "--targets") -> TargetSet:
    """Load every ``*.csv`` in a folder (or one file) into a :class:`TargetSet`.

    Raises:
        InputError: a missing folder, a folder without CSV files, a bad row, or the same target twice.
    """
    path = Path(path)
    if path.is_dir():
        files = sorted(path.glob("*.csv"))
        if not files:
            raise InputError(str(path), "", "a folder with target CSV files", "no *.csv files")
    elif path.is_file():
        files = [path]
    else:
        raise InputError(option, "", "a folder of target CSV files or one CSV file", f"{str(path)!r}, which does not exist")
    targets: list[Target] = []
    seen: dict[str, Target] = {}
    for f in files:
        for t in read_target_file(f):
            if t.id in seen:
                first = seen[t.id]
                raise InputError(t.file, f"line {t.line}", f"one row per target (first at {first.file} line {first.line})",
                                 f"a second row for {t.id}")
            seen[t.id] = t
            targets.append(t)
    return TargetSet(tuple(targets), tuple(str(f) for f in files))
