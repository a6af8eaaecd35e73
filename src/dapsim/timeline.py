"""Months: the model's clock.

A month is written ``"YYYY-MM"`` in scenario files and held as ``numpy.datetime64[M]`` inside the model,
so month arithmetic is integer arithmetic and the output's ``time`` coordinate is the first day of each month.
"""

from __future__ import annotations

import re

import numpy as np

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def parse_month(text: object) -> np.datetime64:
    """Parse ``"YYYY-MM"`` into a month; raise ``ValueError`` with the reason otherwise."""
    if not isinstance(text, str):
        raise ValueError(f"{type(text).__name__} {text!r}")
    m = _MONTH.match(text)
    if not m:
        raise ValueError(repr(text))
    year, month = int(m.group(1)), int(m.group(2))
    if not 1 <= month <= 12 or not 1900 <= year <= 2200:
        raise ValueError(repr(text))
    return np.datetime64(f"{year:04d}-{month:02d}", "M")


def month_range(start: np.datetime64, end: np.datetime64) -> np.ndarray:
    """All months from ``start`` to ``end`` inclusive."""
    return np.arange(start, end + np.timedelta64(1, "M"), dtype="datetime64[M]")


def format_month(month: np.datetime64) -> str:
    """``numpy.datetime64[M]`` back to ``"YYYY-MM"``."""
    return str(np.datetime64(month, "M"))


def year_of(months: np.ndarray) -> np.ndarray:
    """Calendar year of each month, as integers."""
    return months.astype("datetime64[Y]").astype(int) + 1970
