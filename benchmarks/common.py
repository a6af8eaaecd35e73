"""Shared helpers for the benchmarks: the machine description and the results log.

Benchmarks are run by ``make bench``, never by the test suite. Each prints a table and appends it, with the
machine it ran on, to ``benchmarks/results.md``.
"""

from __future__ import annotations

import datetime as _dt
import os
import platform
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).with_name("results.md")


def machine() -> str:
    """CPU model, cores, Python and numpy versions: what a reader needs to compare two results."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return (f"{cpu}; {os.cpu_count()} cores; Python {platform.python_version()}; numpy {np.__version__}; "
            f"{platform.system()} {platform.release()}")


def markdown_table(header: list[str], rows: list[list[object]]) -> str:
    """A GitHub-style markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def record(title: str, table: str, notes: str = "") -> None:
    """Print a result and append it to benchmarks/results.md."""
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    block = f"\n## {title}\n\n{stamp} — {machine()}\n\n{table}\n"
    if notes:
        block += f"\n{notes}\n"
    print(block)
    with open(RESULTS, "a") as fh:
        fh.write(block)
