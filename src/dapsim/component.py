"""The one lifecycle every part of the model follows.

A component is built once per run, steps once per month in a fixed order, and records its outputs::

    component = Component(model, params)   # read parameters and data, allocate state
    component.step(t)                      # month t: read the shared state and levers, update own state
    component.record(t, out)               # write this month's outputs: out["drug_induced_deaths"][t] = ...

Components declare what they read and what they fill, so the registries can tell which component uses a
parameter or lever and which fills an output variable. They talk only through ``model.state`` (the shared
market and risk signals) and never reach into each other.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar

from .params import ParameterSet

if TYPE_CHECKING:
    from .indicators import Recorder
    from .model import ActionPlanModel


class Component(ABC):
    """Base class: subclass it, declare the class attributes, implement ``step`` and ``record``.

    Attributes:
        name: short name used in tables and random-stream names.
        parameters: registry keys it reads through ``self.params``.
        levers: lever keys it reads through ``model.lever``.
        shocks: shock kinds it responds to.
        fills: output variables it writes in ``record``.
    """

    name: ClassVar[str] = ""
    parameters: ClassVar[tuple[str, ...]] = ()
    levers: ClassVar[tuple[str, ...]] = ()
    shocks: ClassVar[tuple[str, ...]] = ()
    fills: ClassVar[tuple[str, ...]] = ()

    def __init__(self, model: "ActionPlanModel", params: ParameterSet):
        self.model = model
        self.params = params.view(self.parameters, type(self).__name__)
        self.rng = model.stream(self.name)

    def coords(self) -> Mapping[str, tuple[str, ...]]:
        """Extra output coordinates this component defines (for example ``entry_point``)."""
        return {}

    @abstractmethod
    def step(self, t: int) -> None:
        """Advance one month."""

    @abstractmethod
    def record(self, t: int, out: "Recorder") -> None:
        """Write month ``t``'s outputs into ``out``."""
