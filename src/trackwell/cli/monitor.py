"""`trackwell monitor` and `trackwell parity`: the monitors, their alerts, and one comparison."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer

from trackwell.cli.options import PlanOpt, options
from trackwell.cli.output import EXIT_FINDINGS, escape, fail, print_json, stderr, stdout
from trackwell.cli.sources import resolve_plan
from trackwell.cli.stores import existing_store
from trackwell.core.time import now_ms

if TYPE_CHECKING:
    from trackwell.io.config import Settings
    from trackwell.monitor import Evaluation
    from trackwell.monitor.alerts import Notice
    from trackwell.monitor.counts import Parity, Side
    from trackwell.monitor.findings import Finding
    from trackwell.quality.compiled import CompiledPlan
    from trackwell.store import Store

StoreOpt = Annotated[
    str | None, typer.Option("--store", help="Store URL (default: configured store).")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]
_COLOURS = {"critical": "bold red", "warning": "yellow", "info": "cyan"}


def settings_for(plan_path: str | None, store_url: str | None) -> Settings:
    """The configuration, or exit 2 with the reason."""
    from trackwell.io.config import ConfigError

    try:
        return options.settings(plan=plan_path, store=store_url)
    except ConfigError as exc:
        fail(str(exc))


def base_dir(settings: Settings) -> Path:
    """Relative paths in trackwell.toml are relative to the file."""
    return settings.config_file.parent if settings.config_file else Path()


def monitor_command(
    once: Annotated[
        bool, typer.Option("--once", help="Evaluate once, alert, print, exit.")
    ] = False,
    json_output: JsonOpt = False,
    plan_path: PlanOpt = None,
    store_url: StoreOpt = None,
    interval: Annotated[
        float, typer.Option("--interval", help="Seconds between evaluations.")
    ] = 60.0,
    no_alerts: Annotated[
        bool, typer.Option("--no-alerts", help="Print findings; send nothing.")
    ] = False,
) -> None:
    """Evaluate the monitors every minute and send alerts, until stopped (--once: one round)."""
    # The monitors, the checks and the store are imported when a command runs, not with the CLI.
    from trackwell.io.config import ConfigError
    from trackwell.monitor import evaluate, load_options
    from trackwell.monitor.alerts import Alerter, build_channels, parse_alerts, state_path
    from trackwell.monitor.findings import rank
    from trackwell.monitor.settings import with_workflows
    from trackwell.quality.compiled import compile_plan

    settings = settings_for(plan_path, store_url)
    plan = compile_plan(resolve_plan(plan_path))
    try:
        monitors = load_options(with_workflows(settings.monitors, settings.workflows))
        alert_settings = parse_alerts(settings.alerts)
        channels = [] if no_alerts else build_channels(alert_settings, os.environ)
    except ConfigError as exc:
        fail(str(exc))
    store = existing_store(store_url)
    here = base_dir(settings)
    alerter = Alerter(alert_settings, channels, state_path(alert_settings, store.url, here))

    def round_() -> Evaluation:
        evaluation = evaluate(
            store, plan, options=monitors, destinations=settings.destinations, base_dir=here
        )
        notices = alerter.process(evaluation) if channels else []
        _report_notices(notices)
        return evaluation

    try:
        if once:
            evaluation = round_()
            if json_output:
                print_json(evaluation.to_dict())
            else:
                print_findings(evaluation)
            if any(rank(f.severity) >= rank("warning") for f in evaluation.findings):
                raise typer.Exit(EXIT_FINDINGS)
            return
        watch(round_, interval, json_output)
    finally:
        for channel in channels:
            channel.close()
        store.close()


def watch(
    round_: Callable[[], Evaluation],
    interval: float,
    json_output: bool,
    *,
    sleep: Callable[[float], None] = time.sleep,
    rounds: int | None = None,
) -> None:
    """Evaluate every `interval` seconds until SIGTERM or Ctrl-C (or `rounds` rounds, for tests)."""
    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    done = 0
    try:
        while not stopping and (rounds is None or done < rounds):
            started = time.monotonic()
            evaluation = round_()
            done += 1
            if json_output:
                # One document a line (JSON Lines), so a reader can follow the stream.
                sys.stdout.write(json.dumps(evaluation.to_dict()) + "\n")
                sys.stdout.flush()
            else:
                _summary(evaluation)
            while not stopping and time.monotonic() - started < interval:
                sleep(min(0.5, interval))
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def print_findings(evaluation: Evaluation) -> None:
    """Findings for people: severity, title, and what to do."""
    for monitor, error in evaluation.errors.items():
        stderr.print(f"[red]monitor {monitor} failed:[/] {escape(error)}")
    if not evaluation.findings:
        stdout.print(
            f"No findings ({len(evaluation.evaluated)} monitors, {evaluation.seconds:.2f} s)."
        )
        return
    for finding in evaluation.findings:
        _print_finding(finding)


def _print_finding(finding: Finding) -> None:
    colour = _COLOURS[finding.severity]
    stdout.print(
        f"[{colour}]{finding.severity.upper()}[/] {escape(finding.title)}  [dim]({finding.monitor})[/]"
    )
    stdout.print(f"  {escape(finding.explanation)}\n")


def _summary(evaluation: Evaluation) -> None:
    counts = {s: sum(1 for f in evaluation.findings if f.severity == s) for s in _COLOURS}
    stamp = time.strftime("%H:%M:%S", time.gmtime(evaluation.at_ms / 1000))
    shown = ", ".join(f"{n} {s}" for s, n in counts.items() if n) or "no findings"
    stderr.print(f"{stamp} UTC: {shown}")
    for monitor, error in evaluation.errors.items():
        stderr.print(f"  [red]monitor {monitor} failed:[/] {escape(error)}")


def _report_notices(notices: list[Notice]) -> None:
    for notice in notices:
        what = f"{notice.event.action} ({notice.event.reason}) {notice.event.title}"
        if notice.error:
            stderr.print(
                f"[red]alert to {notice.channel} failed:[/] {escape(notice.error)}; retried next round"
            )
        else:
            stderr.print(f"alert to {notice.channel}: {escape(what)}")


def parity_command(
    event: Annotated[str, typer.Option("--event", help="The event to count.")],
    a: Annotated[
        str, typer.Option("--a", help="accepted, a destination, csv:FILE or mixpanel-export:DEST.")
    ] = "accepted",
    b: Annotated[
        str | None, typer.Option("--b", help="The other side (same forms as --a).")
    ] = None,
    days: Annotated[
        int, typer.Option("--days", min=1, max=400, help="Whole days before today.")
    ] = 7,
    csv_file: Annotated[
        str | None, typer.Option("--csv", help="External counts: date,event,count.")
    ] = None,
    threshold: Annotated[float, typer.Option("--threshold", help="Divergence that fails.")] = 0.05,
    json_output: JsonOpt = False,
    plan_path: PlanOpt = None,
    store_url: StoreOpt = None,
) -> None:
    """Count one event day by day in two (or three, with --csv) places; exit 1 over the threshold."""
    from trackwell.quality.compiled import compile_plan

    settings = settings_for(plan_path, store_url)
    sides = _sides(a, b, csv_file)
    plan = compile_plan(resolve_plan(plan_path))
    store = existing_store(store_url)
    try:
        _known_destinations(store, settings, sides)
        table = _count(store, plan, settings, sides, event, days)
    finally:
        store.close()
    worst = max((p.divergence for p in _totals(table, sides)), default=0.0)
    if json_output:
        print_json(_parity_document(table, sides, event, threshold))
    else:
        _print_parity(table, sides, event, plan)
    if worst > threshold:
        raise typer.Exit(EXIT_FINDINGS)


def _sides(a: str, b: str | None, csv_file: str | None) -> list[Side]:
    from trackwell.monitor.counts import Side, parse_side

    if b is None and csv_file is None:
        fail(
            "say what to compare with: --b DESTINATION (or accepted, csv:FILE, mixpanel-export:DEST) or --csv FILE"
        )
    try:
        sides = [parse_side(a)] + ([parse_side(b)] if b is not None else [])
    except ValueError as exc:
        fail(str(exc))
    return sides + ([Side("csv", csv_file)] if csv_file else [])


def _known_destinations(store: Store, settings: Settings, sides: list[Side]) -> None:
    """Exit 2 when a side names a destination that is neither configured nor in the store: its
    counts would be zeros, and a comparison of zeros says nothing (a typo of the name, usually)."""
    named = [s.name for s in sides if s.kind in ("destination", "mixpanel")]
    if not named:
        return
    known = set(settings.destinations)
    if any(name not in known for name in named):
        known.update(s.destination for s in store.delivery_stats(now_ms()))
    unknown = [name for name in named if name not in known]
    if unknown:
        from trackwell.plan import naming

        listed = ", ".join(sorted(known)) or "none configured or stored"
        lines = []
        for name in unknown:
            meant = naming.closest(name, known)
            hint = f"; did you mean {meant!r}?" if meant else ""
            lines.append(f"no destination named {name!r}{hint} (known destinations: {listed})")
        fail("\n".join(lines))


def _count(
    store: Store, plan: CompiledPlan, settings: Settings, sides: list[Side], event: str, days: int
) -> dict[int, list[int]]:
    """day -> one count per side, for the `days` whole days before today."""
    from trackwell.monitor.context import DAY_MS, Reads
    from trackwell.monitor.counts import Counting
    from trackwell.monitor.external import ExternalError

    today = int(time.time() * 1000) // DAY_MS
    since, until = today - days, today - 1
    counting = Counting(Reads(store, now_ms()), settings.destinations, os.environ, Path())
    table = {day: [0] * len(sides) for day in range(since, until + 1)}
    for index, side in enumerate(sides):
        try:
            counts = counting.counts(side, {event}, since, until)
        except ExternalError as exc:
            fail(str(exc))
        for (day, _), value in counts.items():
            table[day][index] += value
    return table


def _totals(table: dict[int, list[int]], sides: list[Side]) -> list[Parity]:
    from trackwell.monitor.counts import Parity

    totals = [sum(row[i] for row in table.values()) for i in range(len(sides))]
    return [Parity(sides[i].label, totals[0], totals[i]) for i in range(1, len(sides))]


def _parity_document(
    table: dict[int, list[int]], sides: list[Side], event: str, threshold: float
) -> dict[str, object]:
    from trackwell.monitor.context import day_label

    return {
        "event": event,
        "sides": [s.label for s in sides],
        "days": [{"date": day_label(d), "counts": row} for d, row in sorted(table.items())],
        "totals": [sum(row[i] for row in table.values()) for i in range(len(sides))],
        "divergence": {p.event: round(p.divergence, 4) for p in _totals(table, sides)},
        "threshold": threshold,
    }


def _print_parity(
    table: dict[int, list[int]], sides: list[Side], event: str, plan: CompiledPlan
) -> None:
    from rich.table import Table

    from trackwell.monitor.context import day_label
    from trackwell.monitor.findings import percent

    if event not in plan.events:
        meant = plan.suggest_event(event)
        stderr.print(
            f"note: '{escape(event)}' is not a planned event"
            + (f"; did you mean '{escape(meant)}'?" if meant else "")
        )
    out = Table(
        title=f"{event}: {sides[0].label} vs {', '.join(s.label for s in sides[1:])}",
        show_edge=False,
    )
    for column in ["day (UTC)", *(s.label for s in sides), "difference"]:
        out.add_column(escape(column), justify="right")
    for day, row in sorted(table.items()):
        larger = max(row) if row else 0
        gap = (max(row) - min(row)) / larger if larger else 0.0
        out.add_row(day_label(day), *(f"{v:,}" for v in row), percent(gap))
    totals = [sum(row[i] for row in table.values()) for i in range(len(sides))]
    worst = max((p.divergence for p in _totals(table, sides)), default=0.0)
    out.add_row(
        "[bold]total[/]", *(f"[bold]{v:,}[/]" for v in totals), f"[bold]{percent(worst)}[/]"
    )
    stdout.print(out)
