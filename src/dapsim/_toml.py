"""Reading the TOML files shipped in ``dapsim/data``."""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources
from pathlib import Path


def data_path(*parts: str) -> Path:
    """Path of a file shipped in ``dapsim/data``."""
    return Path(str(resources.files("dapsim").joinpath("data", *parts)))


@cache
def load_data(name: str) -> dict:
    """Parse a shipped TOML file once per process (the files never change while running)."""
    with open(data_path(name), "rb") as fh:
        return tomllib.load(fh)
