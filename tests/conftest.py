"""Shared fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"


@pytest.fixture
def write_scenario(tmp_path):
    """Write a scenario file into a temporary folder (beside a copy of the baseline) and return its path."""
    (tmp_path / "baseline.toml").write_text((SCENARIOS / "baseline.toml").read_text())

    def _write(text: str, name: str = "s.toml") -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path

    return _write
