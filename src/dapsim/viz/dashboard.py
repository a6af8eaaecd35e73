"""``dapsim dashboard``: a browser dashboard to try the Plan's levers and see the indicators respond.

Pick a scenario, move the sliders of the main levers, press **Run**: the dashboard runs your scenario and the
baseline with the same seed (common random numbers, so the gap between the two lines is the levers' effect,
not chance) and draws the EU-27 indicators year by year, the trafficking routes with their flows and seizures,
and the cooperation network of the enforcement agencies.

Start it with ``dapsim dashboard`` (or ``python -m dapsim.viz.dashboard``); it listens on 127.0.0.1:8765 unless
told otherwise (``--host``, ``--port``), so it is not reachable from other machines by accident.

Why a plain Solara app and not Mesa's ``SolaraViz``: SolaraViz steps one live model and maps its sliders to
the model's constructor arguments, and its views portray agents on a space. Here a slider is a lever *schedule*
in a scenario (a target from a chosen month with the lever's ramp-up), every run is paired with a baseline run
of the same seed, the charts are yearly EU aggregates of a finished run, and most of the model's people are
rows of numpy arrays, not agent objects to portray. So the app uses Solara (on which SolaraViz is built)
directly, with matplotlib figures rendered to PNG.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import html
import logging
import os
import socket
import sys
import time
from pathlib import Path

os.environ.setdefault("SOLARA_TELEMETRY_MIXPANEL_ENABLE", "False")  # no calls home from a teaching tool

import solara  # noqa: E402
import solara.lab  # noqa: E402

from ..errors import InputError  # noqa: E402
from ..levers import LEVERS  # noqa: E402
from ..scenario import load_scenario  # noqa: E402
from ..timeline import format_month  # noqa: E402
from . import dashboard_charts as charts  # noqa: E402
from .dashboard_runs import (  # noqa: E402
    DASHBOARD_LEVERS, PRECISE_SCALE, QUICK_SCALE, Comparison, RunRequest, lever_default, moved_levers,
    run_comparison, scenario_files, slider_step,
)
from .network_views import cooperation_figure, routes_figure  # noqa: E402

log = logging.getLogger("dapsim.dashboard")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
FROM_YEARS = tuple(range(2021, 2031))

# --------------------------------------------------------------------------------------------- state
# Solara keeps module-level reactive variables per browser session, so two users do not share sliders.

_files = scenario_files()
scenario_name = solara.reactive(_files[0].name if _files else "")
quick_run = solara.reactive(True)
seed = solara.reactive(0)
from_year = solara.reactive(2022)
lever_values = {key: solara.reactive(lever_default(key)) for key in DASHBOARD_LEVERS}
show_all_indicators = solara.reactive(False)


@solara.lab.task(prefer_threaded=True)
def run_task(request: RunRequest) -> Comparison:
    """Run the comparison in a worker thread, reporting progress in steps of 5% (each step redraws the page)."""
    last = [-1]

    def progress(share: float) -> None:
        pct = 5 * int(20 * share)
        if pct != last[0]:
            last[0] = pct
            run_task.progress = pct

    comp = run_comparison(request, progress=progress)
    log.info("run %d: %.1f s (%s)", comp.number, comp.seconds, request)
    return comp


def _request() -> RunRequest:
    folder = scenario_files()[0].parent if scenario_files() else Path("scenarios")
    targets = moved_levers({k: v.value for k, v in lever_values.items()})
    return RunRequest(
        scenario_path=str(folder / scenario_name.value),
        lever_targets=tuple(sorted(targets.items())),
        from_month=f"{from_year.value}-01",
        seed=int(seed.value),
        quick=bool(quick_run.value),
    )


def _timed(label: str, make):
    """Call ``make()`` and log how long a figure took to draw."""
    started = time.perf_counter()
    result = make()
    log.info("%s drawn in %.1f s", label, time.perf_counter() - started)
    return result


def _image(png: bytes, alt: str, testid: str, number: int) -> None:
    """A PNG as an <img> with a data URL; ``data-digest`` changes exactly when the picture does."""
    digest = hashlib.sha1(png).hexdigest()[:16]
    solara.HTML(
        tag="img",
        attributes={
            "src": "data:image/png;base64," + base64.b64encode(png).decode("ascii"),
            "alt": alt,
            "title": alt,
            "data-testid": testid,
            "data-digest": digest,
            "data-run": str(number),
            "style": "max-width: 100%; height: auto;",
        },
    )


# --------------------------------------------------------------------------------------------- controls


def _lever_caption(key: str) -> str:
    spec = LEVERS[key]
    actions = ", ".join(map(str, spec.actions))
    unit = "" if spec.symbol == "fraction" else f" {spec.symbol}"
    return (f"{spec.unit[0].upper()}{spec.unit[1:]}. 2020: {spec.baseline:g}{unit} EU-wide (each Member State "
            f"starts from its own 2020 value). Ramp-up {spec.ramp_months} months. Plan actions {actions}.")


@solara.component
def LeverSlider(key: str):
    spec = LEVERS[key]
    value = lever_values[key]
    moved = abs(value.value - lever_default(key)) > 1e-9
    with solara.Column(gap="0px", classes=["dapsim-lever", f"dapsim-lever-{key}"]):
        solara.Markdown(f"**{spec.title}** ({spec.symbol})" + (" — *moved*" if moved else ""),
                        style={"font-size": "13px", "margin-bottom": "-6px"})
        solara.SliderFloat("", value=value, min=spec.min, max=spec.max, step=slider_step(key), thumb_label=True)
        solara.Text(_lever_caption(key), style={"font-size": "11px", "color": "#666", "line-height": "1.25"})


@solara.component
def Controls():
    files = [p.name for p in scenario_files()]
    if files and scenario_name.value not in files:
        scenario_name.value = files[0]
    solara.Markdown("### Your scenario")
    if files:
        solara.Select(label="Scenario file (scenarios/)", values=files, value=scenario_name)
    else:
        solara.Error("No scenario files found: start the dashboard from the repository folder.")
    try:
        sc = load_scenario(Path(scenario_files()[0].parent) / scenario_name.value) if files else None
    except Exception as exc:  # noqa: BLE001 - a bad file is shown, not raised
        sc = None
        solara.Error(f"{scenario_name.value}: {exc}")
    if sc is not None:
        solara.Text(f"{sc.name}. Horizon {format_month(sc.start)} to {format_month(sc.end)}; "
                    f"{len(sc.levers)} lever change(s), {len(sc.shocks)} shock(s) in the file.",
                    style={"font-size": "12px"})

    def reset():
        for key, var in lever_values.items():
            var.value = lever_default(key)

    with solara.Row():
        solara.Button("Run", on_click=lambda: run_task(_request()), color="primary",
                      disabled=run_task.pending, icon_name="mdi-play", classes=["dapsim-run"])
        solara.Button("Reset sliders", on_click=reset, text=True)
    solara.Checkbox(label=f"Quick run (1 agent = {QUICK_SCALE:g} people, not {PRECISE_SCALE:g})", value=quick_run)
    solara.InputInt("Random seed (the same for scenario and baseline)", value=seed)
    solara.Markdown("### Levers")
    solara.Select(label="Sliders act from January of", values=list(FROM_YEARS), value=from_year)
    solara.Markdown("Move a slider to set that lever's target in every Member State. "
                    "Sliders left at the 2020 EU value change nothing.")
    for key in DASHBOARD_LEVERS:
        LeverSlider(key)


# --------------------------------------------------------------------------------------------- views

INTRO = """
# The EU Drugs Action Plan 2021-2025, simulated

Pick a scenario and move the levers on the left, then press **Run**. The model simulates the EU-27 month by
month and compares **your scenario** (solid blue lines) with the **baseline** — policy as it stood in 2020 —
run with the same random seed (dashed grey lines), so the gap between the lines is the effect of your levers.
The shaded band is the Plan's period, 2021-2025.
"""

INDICATORS_TEXT = """
**Indicators** (first chart) are the Plan's headline figures for the EU-27, one number per calendar year; each
axis says its unit (a count *per year* is a yearly total); the number in brackets is the Plan's indicator (1-11).
**Lever settings** (second chart) show what you asked for: each lever's EU-27 value month by month (the average
of the Member States, weighted by their population aged 15-64). A lever does not jump: services and controls
ramp up over months. The table gives the numbers for 2025 (end of the Plan) and 2030.
"""

ROUTES_TEXT = """
Drugs reach the EU from producing and transit regions (left) through ports, airports, postal hubs and land
borders (middle) and are sold in the 27 national markets (right). Each entry point shows the tonnes shipped
through it, seized or not, and its colour the share that customs and police seized there; each market shows the
tonnes delivered to retail. Figures are yearly means over the Plan years 2021-2025, all substances, in tonnes of
product as sold. When traffickers lose shipments at one port they move to others: compare the baseline with a
scenario that scans more containers (port scanning slider).
"""

COOPERATION_TEXT = """
Police, customs and judicial agencies share intelligence (through Europol's SIENA, joint investigation teams and
agreements with third countries). A seizure or an arrest in one place can reveal a group elsewhere, with a
probability that fades along this network. Thicker lines: more information shared.
"""

ABOUT_TEXT = f"""
**How a run works.** Your scenario = the chosen scenario file plus the moved sliders, each set to its target
from January of the chosen year in every Member State. The baseline is `scenarios/baseline.toml` over the same
horizon, run with the same seed. A *quick run* represents {QUICK_SCALE:g} people by each simulated high-risk
drug user (coarser but fast); untick it for the model's default precision ({PRECISE_SCALE:g} people per agent).
The dashboard keeps recent runs in memory, so the baseline is simulated once per seed and setting.

**What you see depends on the build.** Charts appear for the indicators the model records; a chart whose data
the model does not produce yet is left out rather than drawn empty.

**One run is one possible future.** For uncertainty bands over many runs and parameter draws use
`dapsim compare` on the command line.
"""


def _summary(comp: Comparison) -> str:
    req = comp.request
    moved = ", ".join(f"{k} = {v:g} {LEVERS[k].symbol}" for k, v in req.lever_targets) or "no slider moved"
    return (f"Run {comp.number}: {Path(req.scenario_path).name} with {moved}, from {req.from_month}; "
            f"seed {req.seed}, 1 agent = {req.scale:g} people; {comp.seconds:.1f} s.")


@solara.component
def IndicatorsView(comp: Comparison):
    solara.Markdown(INDICATORS_TEXT)
    scen, base = comp.scenario, comp.baseline
    keys = solara.use_memo(lambda: charts.lever_keys(scen.scenario, base.scenario, DASHBOARD_LEVERS), [comp.number])
    lever_png = solara.use_memo(
        lambda: _timed("lever chart", lambda: charts.lever_figure(scen.scenario, base.scenario, keys)), [comp.number])
    only = None if show_all_indicators.value else charts.KEY_HEADLINES
    head_png = solara.use_memo(
        lambda: _timed("indicator chart", lambda: charts.headline_figure(
            scen.yearly, base.yearly, scen.scenario.name.split(" + ")[0], only=only)),
        [comp.number, only])
    solara.Checkbox(label="Show every headline indicator the model records (not only the key ones)",
                    value=show_all_indicators)
    if head_png is None:
        solara.Info("This build of the model records none of the headline indicators yet, so there is nothing to "
                    "compare; the lever chart below shows what your scenario sets.")
    else:
        _image(head_png, "Headline indicators, EU-27, your scenario against the baseline", "chart-indicators",
               comp.number)
    if lever_png is not None:
        _image(lever_png, "Lever settings: your scenario against the baseline", "chart-levers", comp.number)
    if head_png is None:
        return
    table = charts.difference_markdown(charts.difference_rows(scen.yearly, base.yearly, [2025, 2030]))
    if table:
        solara.Markdown("#### Your scenario minus the baseline, EU-27\n\n" + table)


@solara.component
def RoutePanel(label: str, run, number: int):
    solara.Markdown(f"**{label}**")
    png, kind = solara.use_memo(
        lambda: _timed(f"routes view ({label})", lambda: routes_figure(run.yearly, run.route_graph)), [number, label])
    if png is None:
        solara.Info("Entry-point flows and seizures (entry_point_flow_kg, entry_point_seizures_kg) "
                    "are not recorded by this build of the model yet.")
        return
    if kind == "bars":
        solara.Text("The route network is not available in this build: the chart shows the entry points only.",
                    style={"font-size": "12px", "color": "#666"})
    _image(png, f"Trafficking routes and entry points: {label.lower()}", f"chart-routes-{label.split()[0].lower()}",
           number)


@solara.component
def RoutesView(comp: Comparison):
    solara.Markdown(ROUTES_TEXT)
    RoutePanel("Your scenario", comp.scenario, comp.number)
    if comp.scenario is not comp.baseline:
        RoutePanel("Baseline", comp.baseline, comp.number)


@solara.component
def CooperationView(comp: Comparison):
    solara.Markdown(COOPERATION_TEXT)
    graph = comp.scenario.cooperation_graph
    png = solara.use_memo(lambda: _timed("cooperation network", lambda: cooperation_figure(graph)), [comp.number])
    if png is None:
        solara.Info("The cooperation network is not available in this build of the model.")
        return
    solara.Text("The network used in your scenario's run.", style={"font-size": "12px", "color": "#666"})
    _image(png, "Cooperation network of enforcement agencies", "chart-cooperation", comp.number)


@solara.component
def Results():
    comp = run_task.latest
    if run_task.pending:
        solara.ProgressLinear(run_task.progress if run_task.progress is not None else True)
        solara.Text(f"Simulating… {run_task.progress or 0}%", classes=["dapsim-running"])
    if run_task.error:
        solara.Error(f"The run failed: {run_task.exception}")
    if comp is not None:
        solara.HTML(tag="div", unsafe_innerHTML=html.escape(_summary(comp)),
                    attributes={"data-testid": "run-summary", "data-run": str(comp.number)},
                    style="font-weight: 500; margin: 8px 0;")
        for note in comp.notes:
            solara.Text(note, style={"font-size": "12px", "color": "#666"})
    with solara.lab.Tabs(lazy=True):
        for title, view in (("Indicators", IndicatorsView), ("Trafficking routes", RoutesView),
                            ("Cooperation network", CooperationView)):
            with solara.lab.Tab(title):
                if comp is None:
                    if not run_task.pending:
                        solara.Info("Press Run to simulate your scenario and the baseline.")
                else:
                    view(comp)
        with solara.lab.Tab("About"):
            solara.Markdown(ABOUT_TEXT)


@solara.component
def Page():
    solara.Title("dapsim — EU Drugs Action Plan dashboard")
    with solara.Sidebar():
        Controls()
    solara.Markdown(INTRO)
    Results()


# --------------------------------------------------------------------------------------------- server


def _check_can_listen(host: str, port: int) -> None:
    """Fail early, in one line, when the address is taken or does not exist (instead of a server traceback)."""
    if not 0 < int(port) < 65536:
        raise InputError("--port", "", "a TCP port number 1-65535", str(port))
    try:
        infos = socket.getaddrinfo(host, int(port), type=socket.SOCK_STREAM)
        family, _, _, _, address = infos[0]
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(address)
    except OSError as exc:
        raise InputError(f"--host {host} --port {port}", "", "an address this machine can listen on",
                         exc.strerror or str(exc)) from None


def run_dashboard(host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, scenarios: str | Path | None = None) -> int:
    """Serve the dashboard until interrupted (Solara on uvicorn, production mode, no browser opened).

    Args:
        host: interface to listen on; 127.0.0.1 (this machine only) by default.
        port: TCP port (8765 by default).
        scenarios: folder of scenario files (default: ``./scenarios``, else the repository's).
    """
    _check_can_listen(host, port)
    if scenarios is not None:
        folder = Path(scenarios)
        if not folder.is_dir():
            raise InputError("--scenarios", "", "a folder of scenario files", f"{str(folder)!r}, which is not a folder")
        os.environ["DAPSIM_SCENARIOS_DIR"] = str(folder.resolve())
    import solara.server.settings as solara_settings
    from solara.__main__ import run

    solara_settings.telemetry.mixpanel_enable = False
    level = os.environ.get("DAPSIM_DASHBOARD_LOG")  # e.g. "info": how long each run and each figure took
    if level:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s dapsim dashboard: %(message)s"))
        log.addHandler(handler)
        log.setLevel(level.upper())
    args = ["dapsim.viz.dashboard", "--host", host, "--port", str(int(port)), "--production", "--no-open",
            "--no-check-version", "--log-level-uvicorn", "warning"]
    print(f"dapsim dashboard: http://{host}:{port}  (Ctrl+C to stop)", file=sys.stderr, flush=True)
    run.main(args=args, standalone_mode=False)
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m dapsim.viz.dashboard [--host 127.0.0.1] [--port 8765] [--scenarios DIR]``."""
    parser = argparse.ArgumentParser(prog="dapsim dashboard", description="Serve the dapsim browser dashboard.")
    parser.add_argument("--host", default=DEFAULT_HOST, help="interface to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="TCP port (default 8765)")
    parser.add_argument("--scenarios", default=None, help="folder of scenario files (default scenarios/)")
    args = parser.parse_args(argv)
    try:
        return run_dashboard(args.host, args.port, args.scenarios)
    except InputError as exc:
        sys.stderr.write(f"dapsim: {exc.line()}\n")
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
