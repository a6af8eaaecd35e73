"""The parameter registry: every number the model uses, with its unit, prior and source.

Parameters live in ``data/parameters/<component>.toml``, one file per part of the model, so that a reader finds
a component's numbers next to each other. Each entry is a table::

    [overdose.fatality_without_intervention]
    value = 0.06
    unit = "fraction of overdoses"
    prior = { dist = "beta", a = 6.0, b = 94.0 }
    source = "https://..."          # or: assumption = "why this value, and why the prior is wide"
    description = "..."

The full key is the table's dotted path (``overdose.fatality_without_intervention``). ``prior`` is what
calibration and uncertainty analysis sample from; ``value`` is the point value a single run uses.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
from scipy import stats

from ._toml import data_path, load_data

PRIOR_KINDS = {
    "fixed": (),
    "uniform": ("low", "high"),
    "loguniform": ("low", "high"),
    "normal": ("mean", "sd"),
    "lognormal": ("median", "sigma"),
    "beta": ("a", "b"),
    "triangular": ("low", "mode", "high"),
}


@dataclass(frozen=True)
class Prior:
    """A prior distribution, in the registry's vocabulary, backed by ``scipy.stats``."""

    dist: str
    args: Mapping[str, float]

    def frozen(self):
        """The ``scipy.stats`` frozen distribution (``None`` for a fixed parameter)."""
        a = self.args
        if self.dist == "uniform":
            return stats.uniform(loc=a["low"], scale=a["high"] - a["low"])
        if self.dist == "loguniform":
            return stats.loguniform(a["low"], a["high"])
        if self.dist == "normal":
            lo, hi = a.get("low", -math.inf), a.get("high", math.inf)
            return stats.truncnorm((lo - a["mean"]) / a["sd"], (hi - a["mean"]) / a["sd"], loc=a["mean"], scale=a["sd"])
        if self.dist == "lognormal":
            return stats.lognorm(s=a["sigma"], scale=a["median"])
        if self.dist == "beta":
            return stats.beta(a["a"], a["b"])
        if self.dist == "triangular":
            width = a["high"] - a["low"]
            return stats.triang(c=(a["mode"] - a["low"]) / width, loc=a["low"], scale=width)
        return None

    def support(self) -> tuple[float, float]:
        """The values a draw can take."""
        dist = self.frozen()
        if dist is None:
            return (-math.inf, math.inf)
        lo, hi = dist.support()
        return float(lo), float(hi)

    def ppf(self, q: np.ndarray, value: float) -> np.ndarray:
        """Quantile function (a fixed parameter maps every quantile to its value)."""
        dist = self.frozen()
        if dist is None:
            return np.full(np.shape(q), value, dtype=float)
        return dist.ppf(q)

    def describe(self) -> str:
        """Short text such as ``beta(a=6, b=94)``."""
        if self.dist == "fixed":
            return "fixed"
        inner = ", ".join(f"{k}={v:g}" for k, v in self.args.items())
        return f"{self.dist}({inner})"


@dataclass(frozen=True)
class Parameter:
    """One entry of the registry."""

    key: str
    value: float
    unit: str
    prior: Prior
    source: str
    assumption: str
    description: str
    file: str

    @property
    def uncertain(self) -> bool:
        """Whether calibration and uncertainty analysis vary it."""
        return self.prior.dist != "fixed"

    @property
    def evidence(self) -> str:
        """The source URL, or ``assumption: <reason>``."""
        return self.source if self.source else f"assumption: {self.assumption}"


def _walk(table: dict, prefix: str) -> Iterator[tuple[str, dict]]:
    for key, value in table.items():
        full = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict) and "value" in value:
            yield full, value
        elif isinstance(value, dict):
            yield from _walk(value, full)


def _parse_prior(key: str, raw: object, file: str) -> Prior:
    if not isinstance(raw, dict) or raw.get("dist") not in PRIOR_KINDS:
        raise ValueError(f"{file}: {key}.prior: expected a table with dist in {sorted(PRIOR_KINDS)}, got {raw!r}")
    needed = PRIOR_KINDS[raw["dist"]]
    missing = [n for n in needed if n not in raw]
    if missing:
        raise ValueError(f"{file}: {key}.prior: expected {', '.join(needed)}, got no {', '.join(missing)}")
    args = {k: float(v) for k, v in raw.items() if k != "dist"}
    return Prior(raw["dist"], MappingProxyType(args))


def _load() -> Mapping[str, Parameter]:
    registry: dict[str, Parameter] = {}
    folder = data_path("parameters")
    for path in sorted(folder.glob("*.toml")):
        file = f"data/parameters/{path.name}"
        for key, entry in _walk(load_data(f"parameters/{path.name}"), ""):
            if key in registry:
                raise ValueError(f"{file}: {key}: expected a key unique across the registry, got a second definition")
            prior = _parse_prior(key, entry.get("prior"), file)
            source, assumption = entry.get("source", ""), entry.get("assumption", "")
            if not (source or assumption):
                raise ValueError(f"{file}: {key}: expected a source URL or an assumption, got neither")
            value = float(entry["value"])
            lo, hi = prior.support()
            if not lo <= value <= hi:
                raise ValueError(f"{file}: {key}.value: expected a value inside the prior's support [{lo}, {hi}], got {value}")
            registry[key] = Parameter(
                key=key,
                value=value,
                unit=entry.get("unit", ""),
                prior=prior,
                source=source,
                assumption=assumption,
                description=entry.get("description", ""),
                file=file,
            )
    return MappingProxyType(registry)


PARAMETERS: Mapping[str, Parameter] = _load()
"""Every registered parameter, by dotted key."""


class ParameterSet(Mapping[str, float]):
    """The parameter values one run uses: registry values, then scenario overrides, then a posterior draw.

    Components receive a view limited to the keys they declare, so an undeclared read fails loudly and the
    registry can tell which component uses which number.
    """

    def __init__(self, values: Mapping[str, float], allowed: frozenset[str] | None = None):
        self._values = dict(values)
        self._allowed = allowed

    @classmethod
    def defaults(cls) -> "ParameterSet":
        return cls({k: p.value for k, p in PARAMETERS.items()})

    def updated(self, changes: Mapping[str, float]) -> "ParameterSet":
        """A copy with some values replaced (keys must be registered)."""
        unknown = set(changes) - set(PARAMETERS)
        if unknown:
            raise KeyError(f"unknown parameters {sorted(unknown)}")
        return ParameterSet({**self._values, **{k: float(v) for k, v in changes.items()}})

    def view(self, keys: tuple[str, ...], owner: str) -> "ParameterSet":
        """The subset a component declared; reading anything else raises ``KeyError``."""
        missing = [k for k in keys if k not in self._values]
        if missing:
            raise KeyError(f"{owner} declares parameters missing from the registry: {missing}")
        return ParameterSet({k: self._values[k] for k in keys}, frozenset(keys))

    def __getitem__(self, key: str) -> float:
        if self._allowed is not None and key not in self._allowed:
            raise KeyError(f"parameter {key!r} is not declared by this component")
        return self._values[key]

    def __iter__(self):
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)
