"""The command line: outputs on success; one line and exit code 2 on bad input, with nothing half-written."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from dapsim.cli import main

from .conftest import ROOT, SCENARIOS


def run_cli(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "dapsim.cli", *args], capture_output=True, text=True, cwd=cwd)


def test_actions_json_lists_85_actions_each_mapped_or_explained():
    proc = run_cli("actions", "--format", "json")
    assert proc.returncode == 0
    actions = json.loads(proc.stdout)
    assert [a["action"] for a in actions] == list(range(1, 86))
    for a in actions:
        assert set(a) >= {"action", "priority", "levers", "out_of_scope"}
        assert (a["levers"] and a["out_of_scope"] is None) or (not a["levers"] and a["out_of_scope"])


@pytest.mark.parametrize("command", ["levers", "params", "indicators"])
def test_registry_listings_as_json(command):
    proc = run_cli(command, "--format", "json")
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert isinstance(rows, list)
    if command == "indicators":
        assert {r["variable"] for r in rows} >= {"drug_induced_deaths", "seizures_kg", "programme_cost_eur"}


def test_run_writes_netcdf_and_figure_and_prints_the_table(tmp_path, write_scenario):
    path = write_scenario('extends = "baseline.toml"\nname = "short"\nhorizon = { start = "2019-01", end = "2020-12" }\n')
    proc = run_cli("run", str(path), "--out", str(tmp_path / "out"), "--scale", "50")
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["s.nc", "s.png"]
    assert "short: EU-27" in proc.stdout and "2020" in proc.stdout


def test_bad_scenario_exits_2_with_one_line_and_no_traceback(tmp_path, write_scenario):
    path = write_scenario('[levers.naloxone_coverage]\ntarget = 7\nfrom = "2020-01"\n')
    out = tmp_path / "out"
    proc = run_cli("run", str(path), "--out", str(out))
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith(f"dapsim: {path}: levers.naloxone_coverage.target: expected a value in [0, 1]")
    assert not out.exists()


def test_missing_scenario_exits_2(capsys):
    assert main(["run", "does-not-exist.toml"]) == 2
    assert capsys.readouterr().err == "dapsim: does-not-exist.toml: expected an existing scenario file, got no such file\n"


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_output_exits_2(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    assert main(["run", str(SCENARIOS / "baseline.toml"), "--out", str(locked / "x")]) == 2


def test_output_path_that_is_a_file_exits_2(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert main(["run", str(SCENARIOS / "baseline.toml"), "--out", str(blocker / "sub")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("dapsim: --out: expected a folder that can be created, got ") and err.count("\n") == 1


def test_bad_argument_exits_2_with_one_line():
    proc = run_cli("run", str(SCENARIOS / "baseline.toml"), "--seed", "-3")
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0
    assert "expected a whole number >= 0, got '-3'" in proc.stderr
