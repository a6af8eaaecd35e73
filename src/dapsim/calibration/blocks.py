"""Separable calibration blocks: parameters that act on their own targets only, calibrated on their own.

One ABC distance over every target lets a small, self-contained part of the model drown: the new psychoactive
substances (NPS) sub-model has 7 of the 44 targets, and its parameters act on nothing else, so in the joint
calibration their share of the distance is mostly Poisson noise next to the seizure series, and the shipped
posterior of November 2026 left the wave half-life near its prior (0.3-2.4 years) with 2017's notifications out
of their range. When a block's parameters are read by one component only, and that component's outputs feed no
other component, the likelihood factorises: the block can be calibrated on its own targets with only the
components it needs (under 0.1 s of CPU per run instead of about 1.3 s), and its posterior joined to the main one as independent
columns (:func:`join`).

A block is declared, not guessed. :func:`check_separable` verifies what can be verified from the
components' declarations (no component outside the block reads its parameters), and ``dapsim calibrate
--block`` keeps only the targets on variables the block's own component fills. That the component's outputs feed nothing else is a property of the code
(it writes nothing to ``model.state``); ``tests/test_calibration_blocks.py`` checks it by running the full model
with the block's parameters changed and comparing every other output.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr

from ..errors import InputError
from .posterior import read_posterior, resample


@dataclass(frozen=True)
class Block:
    """A separable part of the model.

    Attributes:
        name: the block's name on the command line (``dapsim calibrate --block nps``).
        owner: the name of the component whose parameters and outputs make up the block.
        upstream: names of the components the owner needs to run (it reads their state), in monthly order.
        parameters: the owner's uncertain parameters that the block's targets inform.
        why: one sentence on why the block is separable, for the posterior's attributes and the docs.
    """

    name: str
    owner: str
    upstream: tuple[str, ...]
    parameters: tuple[str, ...]
    why: str

    def components(self) -> list[type]:
        """The component classes a block run uses (upstream ones first, then the owner), in model order."""
        from ..model import default_components

        wanted = {*self.upstream, self.owner}
        return [c for c in default_components() if c.name in wanted]

    def variables(self) -> set[str]:
        """Output variables the block's targets may be on: those its owner fills."""
        return {v for c in self.components() if c.name == self.owner for v in c.fills}


BLOCKS: dict[str, Block] = {
    "nps": Block(
        name="nps",
        owner="nps",
        upstream=("services",),
        parameters=("nps.appearances_per_year", "nps.appearances_2015_per_year", "nps.wave_half_life_years"),
        why="new substances appear, are notified and leave the market in the NPS component alone; it reads the "
            "services' drug-checking access and the users' NPS numbers for its harm counts, writes nothing back, "
            "and its notification counts depend only on these parameters and the early-warning lever",
    ),
}
"""The declared separable blocks, by name."""


def get_block(name: str) -> Block:
    """The block called ``name``; an unknown name is an :class:`InputError` listing the known ones."""
    if name not in BLOCKS:
        raise InputError("--block", "", f"one of {', '.join(sorted(BLOCKS))}", repr(name))
    return BLOCKS[name]


def check_separable(block: Block, parameters: Sequence[str]) -> None:
    """Refuse a block calibration whose parameters another component also reads.

    Raises:
        InputError: a parameter read by a component outside the block (its posterior would then not be
            independent of the rest of the model's), naming the parameter and the component.
    """
    from ..model import default_components

    for key in parameters:
        readers = sorted(c.name for c in default_components() if key in c.parameters)
        outside = [name for name in readers if name != block.owner]
        if outside or not readers:
            raise InputError("--params", key, f"a parameter read only by the {block.owner!r} component",
                             f"read by {', '.join(readers) or 'no component'}")


def join(main: xr.Dataset, blocks: Sequence[tuple[str | Path, xr.Dataset]], seed: int = 0) -> xr.Dataset:
    """The main posterior with the columns of separately calibrated blocks put in, as equally weighted draws.

    The main posterior and each block posterior are resampled by weight (systematic resampling,
    :func:`~dapsim.calibration.posterior.resample`) to as many draws as the largest of them has particles, and
    each block's draws are shuffled with a fixed seed, so they are paired with the main draws at random: the
    joint posterior of independent blocks is the product of their posteriors. The draws then carry equal
    weights. Keeping the main weights instead would let a few heavy main particles (the main calibration's
    effective sample size) decide the block's marginal too, whatever the block's own weights. A parameter the
    main calibration also varied is replaced (the block's targets inform it; the main distance only added their
    noise), and listed in the ``joined_blocks`` attribute.

    Args:
        main: the main posterior.
        blocks: (file, dataset) of each block posterior written by ``dapsim calibrate --block``.
        seed: seed of the resampling and the pairing (fixed, so every machine joins the same draws).
    """
    n = max([main.sizes["draw"], *(block.sizes["draw"] for _, block in blocks)])
    picked = resample(main["weight"].values, n, seed)
    out = xr.Dataset({key: xr.Variable(("draw",), main[key].values[picked], attrs=main[key].attrs)
                      for key in main.data_vars},
                     coords={"draw": np.arange(n),
                             "weight": ("draw", np.full(n, 1.0 / n), main["weight"].attrs)},
                     attrs=dict(main.attrs))
    record = []
    rng = np.random.default_rng(seed)
    for path, block in blocks:
        name = _block_name(path, block)
        idx = rng.permutation(resample(block["weight"].values, n, seed))
        replaced = []
        for key in block.data_vars:
            if key in out.data_vars:
                replaced.append(str(key))
            out[key] = xr.Variable(("draw",), block[key].values[idx], attrs=block[key].attrs)
        record.append({"file": str(path), "block": name, "parameters": [str(k) for k in block.data_vars],
                       "replaced": replaced, "targets_used": json.loads(block.attrs.get("targets_used", "[]")),
                       "epsilons": json.loads(block.attrs.get("epsilons", "[]")),
                       "total_simulations": int(block.attrs.get("total_simulations", 0))})
    out.attrs["joined_blocks"] = json.dumps(record, sort_keys=True)
    out.attrs["weights"] = (f"equal: the main posterior ({main.sizes['draw']} particles) and each block resampled "
                            f"by weight to {n} draws and paired at random")
    return out


def _block_name(path: str | Path, block: xr.Dataset) -> str:
    name = block.attrs.get("block")
    if not name:
        raise InputError(str(path), "block", "a block posterior written by `dapsim calibrate --block NAME`",
                         "a posterior without a block attribute")
    return str(name)


def read_blocks(paths: Sequence[str | Path]) -> list[tuple[str, xr.Dataset]]:
    """Read block posteriors for :func:`join`, each checked like any posterior and for its block attribute
    (before a calibration starts, so a wrong file fails at once rather than after hours)."""
    blocks = [(str(p), read_posterior(p)) for p in paths]
    for path, block in blocks:
        _block_name(path, block)
    return blocks


__all__ = ["BLOCKS", "Block", "check_separable", "get_block", "join", "read_blocks"]
