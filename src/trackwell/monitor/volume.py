"""volume_drop and volume_spike: today so far against the same hours of recent same weekdays."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from statistics import median

from trackwell.core.time import day_start
from trackwell.monitor.context import Context, Monitor
from trackwell.monitor.findings import Finding, Severity, count
from trackwell.plan import naming
from trackwell.store.base import VolumeRollup

Key = tuple[str, str]  # (message type, event name); identify calls are ("identify", "")
Measure = Callable[[VolumeRollup], int]
# Fewer usable same weekdays than this and there is no baseline to compare with.
MIN_WEEKDAYS = 2


def passed(row: VolumeRollup) -> int:
    """Messages that went on to the tools (accepted or repaired)."""
    return row.accepted + row.repaired


def received(row: VolumeRollup) -> int:
    """Every message that arrived, blocked ones included."""
    return row.received


def key_of(row: VolumeRollup) -> Key | None:
    """What the volume monitors count a row under: a track event by name, or identify calls."""
    if row.type == "track":
        return ("track", row.name)
    if row.type == "identify":
        return ("identify", "")
    return None


def label(key: Key) -> str:
    """How a key reads in a finding."""
    return "identify calls" if key[0] == "identify" else f"'{key[1]}'"


@dataclass(frozen=True, slots=True)
class Comparison:
    """Today's complete hours against what the same hours of past same weekdays saw."""

    hours: int  # complete hours today (0..hours-1 compared)
    observed: dict[Key, int]
    expected: dict[Key, float]  # median over the usable weekdays
    weekdays: int  # how many past same weekdays had any traffic


def compare(ctx: Context, measure: Measure) -> Comparison:
    """Observed and expected counts per key; expected is empty without enough history."""
    today, hours, weeks = ctx.today, ctx.hour, int(ctx.option("weeks"))
    week_ago = ctx.reads.hourly(today - 7, today - 7)  # hour rows live a week: this one is exact
    observed: Counter[Key] = Counter()
    early: Counter[Key] = Counter()  # a week ago, before `hours`
    for rows, into in ((ctx.reads.hourly(today, today), observed), (week_ago, early)):
        for row in rows:
            key = key_of(row)
            if key is not None and row.hour < hours:
                into[key] += measure(row)
    totals: dict[int, Counter[Key]] = defaultdict(Counter)
    traffic: Counter[int] = Counter()
    for row in ctx.reads.daily(today - 7 * weeks, today - 1):
        traffic[row.day] += row.received
        key = key_of(row)
        if key is not None:
            totals[row.day][key] += measure(row)
    shares = _shares(week_ago, hours, measure)
    keys = set(observed).union(*totals.values()) if totals else set(observed)
    past: dict[Key, list[float]] = defaultdict(list)
    usable = 0
    for day in (today - 7 * week for week in range(1, weeks + 1)):
        if traffic[day] == 0:
            continue  # nothing at all arrived that day: not installed yet, or a whole outage
        usable += 1
        exact = day == today - 7 and bool(week_ago)
        for key in keys:
            past[key].append(early[key] if exact else totals[day][key] * shares(key))
    expected = {k: float(median(v)) for k, v in past.items()} if usable >= MIN_WEEKDAYS else {}
    return Comparison(hours, dict(observed), expected, usable)


def _shares(rows: Iterable[VolumeRollup], hours: int, measure: Measure) -> Callable[[Key], float]:
    """The share of a day's volume that arrives before `hours`, from the same weekday's hours."""
    before: Counter[Key] = Counter()
    whole: Counter[Key] = Counter()
    for row in rows:
        key = key_of(row)
        if key is None:
            continue
        whole[key] += measure(row)
        if row.hour < hours:
            before[key] += measure(row)
    all_before, all_whole = sum(before.values()), sum(whole.values())
    fallback = all_before / all_whole if all_whole else hours / 24

    def share(key: Key) -> float:
        # An event's own daily shape when it has enough volume to show one.
        return before[key] / whole[key] if whole[key] >= 50 else fallback

    return share


def volume_drop(ctx: Context) -> list[Finding]:
    """Planned events and identify calls far below their usual volume for this time of day."""
    comparison = compare(ctx, passed)
    if comparison.hours == 0:
        return []
    planned = ctx.plan.plan.events
    dropped = []
    for key, expected in sorted(comparison.expected.items()):
        if key[0] == "track" and key[1] not in planned:
            continue  # unplanned names falling silent is good news
        observed = comparison.observed.get(key, 0)
        if expected < ctx.option("min_expected") or observed >= expected * ctx.option("min_ratio"):
            continue
        dropped.append((key, observed, expected))
    detail = _detail(ctx, comparison.hours) if dropped else None
    return [_drop(ctx, *row, comparison, detail) for row in dropped if detail is not None]


@dataclass
class Detail:
    """Today's particulars that explain a drop, gathered in one pass over the rollups."""

    arrived: Counter[Key] = field(default_factory=Counter)
    blocked: Counter[Key] = field(default_factory=Counter)
    codes: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    near_misses: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    sources_now: dict[Key, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    sources_before: dict[Key, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))


def _detail(ctx: Context, hours: int) -> Detail:
    today, detail = ctx.today, Detail()
    for row in (*ctx.reads.hourly(today, today), *ctx.reads.hourly(today - 7, today - 7)):
        key = key_of(row)
        if key is None:
            continue
        if row.day == today:
            detail.arrived[key] += row.received
            detail.blocked[key] += row.blocked
        if row.hour < hours:
            sources = detail.sources_now if row.day == today else detail.sources_before
            sources[key][row.source] += row.received
    for _day, _source, name, code, number in ctx.reads.codes(today, today):
        detail.codes[name][code] += number
        meant = ctx.plan.suggest_event(name) if code == "unplanned_event" else None
        if meant is not None:
            detail.near_misses[meant][name] += number
    return detail


def _drop(
    ctx: Context, key: Key, observed: int, expected: float, cmp: Comparison, detail: Detail
) -> Finding:
    spec = ctx.plan.plan.events.get(key[1]) if key[0] == "track" else None
    workflows = spec.used_by if spec else ()
    severity: Severity = (
        "critical" if observed == 0 and (workflows or key[0] == "identify") else "warning"
    )
    weekday = _weekday(ctx.today)
    lines = [
        f"{count(observed)} {label(key)} reached the tools today through {cmp.hours:02d}:00 UTC; "
        f"the last {cmp.weekdays} {weekday}s had {count(expected)} by this hour (median).",
        *_blocked_lines(key, detail),
        *_renamed_lines(key, detail),
        *_source_lines(key, detail),
    ]
    if workflows:
        lines.append(f"Workflows that depend on it: {', '.join(workflows)}.")
    lines.append(
        "A fall to near zero usually follows a deploy that removed, renamed or broke the "
        "tracking call: check what shipped since it last arrived."
    )
    return Finding(
        "volume_drop",
        f"{key[0]}:{key[1]}" if key[1] else key[0],
        severity,
        f"{label(key)[0].upper()}{label(key)[1:]} dropped to {count(observed)} today "
        f"(usually {count(expected)} by {cmp.hours:02d}:00 UTC)",
        " ".join(lines),
        1 - observed / expected,
        {"observed": observed, "expected": round(expected, 1), "hours": cmp.hours},
    )


def _blocked_lines(key: Key, detail: Detail) -> list[str]:
    """Why today's messages of this key were blocked, when many were."""
    arrived, blocked = detail.arrived[key], detail.blocked[key]
    if blocked == 0 or blocked < arrived * 0.2:
        return []
    codes = detail.codes.get(key[1], Counter()) if key[0] == "track" else Counter()
    reasons = ", ".join(f"{code} ×{n}" for code, n in codes.most_common(3))
    return [
        f"{count(blocked)} of the {count(arrived)} that arrived today were blocked"
        + (f" ({reasons})" if reasons else "")
        + ": the sender changed the payload; `trackwell why USER --event ...` shows one."
    ]


def _renamed_lines(key: Key, detail: Detail) -> list[str]:
    """Unplanned names arriving today that are near misses of this event."""
    names = detail.near_misses.get(key[1], Counter()) if key[0] == "track" else Counter()
    return [
        f"'{name}' arrived {count(number)} times today instead: the same event under another name."
        for name, number in names.most_common(3)
    ]


def _source_lines(key: Key, detail: Detail) -> list[str]:
    """Sources that sent this key by this hour a week ago and sent nothing today."""
    now, before = detail.sources_now[key], detail.sources_before[key]
    return [
        f"Source '{s}' sent none (it sent {count(n)} by this hour a week ago)."
        for s, n in before.most_common()
        if n >= 10 and now[s] == 0
    ]


def volume_spike(ctx: Context) -> list[Finding]:
    """Events arriving many times more often than usual (raw UI noise, a loop, a retry storm)."""
    comparison = compare(ctx, received)
    if comparison.hours == 0:
        return []
    findings = []
    for key, expected in sorted(comparison.expected.items()):
        observed = comparison.observed.get(key, 0)
        factor = observed / max(expected, 1.0)
        if expected < ctx.option("min_expected"):
            continue  # no usual volume to compare with: a new name (see new_unplanned_name)
        if observed < ctx.option("min_events") or factor < ctx.option("factor"):
            continue
        findings.append(_spike(ctx, key, observed, expected, factor, comparison))
    return findings


def _spike(
    ctx: Context, key: Key, observed: int, expected: float, factor: float, cmp: Comparison
) -> Finding:
    noise = naming.ui_noise_word(key[1]) if key[0] == "track" else None
    advice = (
        f"'{key[1]}' looks like raw interface noise ('{noise}'): it belongs in product "
        "analytics, not in the messaging tool; exclude it from those destinations "
        "(`exclude_events`) before it eats the month's event budget."
        if noise
        else "Look for a loop or a retry storm in the sender, or a bot; every extra event "
        "counts against the monthly volume of Customer.io and Mixpanel."
    )
    return Finding(
        "volume_spike",
        f"{key[0]}:{key[1]}" if key[1] else key[0],
        "warning",
        f"{label(key)[0].upper()}{label(key)[1:]} spiked to {count(observed)} today, "
        f"{factor:.0f}x the usual {count(expected)} by {cmp.hours:02d}:00 UTC",
        f"{count(observed)} {label(key)} arrived today through {cmp.hours:02d}:00 UTC; the last "
        f"{cmp.weekdays} {_weekday(ctx.today)}s had {count(expected)} by this hour (median). "
        + advice,
        factor,
        {"observed": observed, "expected": round(expected, 1), "hours": cmp.hours},
    )


def _weekday(day: int) -> str:
    return day_start(day).strftime("%A")


DROP = Monitor(
    "volume_drop",
    volume_drop,
    {"min_ratio": 0.2, "min_expected": 20, "weeks": 4},
    "a planned event or identify calls below min_ratio of the same weekday's median so far today",
)
SPIKE = Monitor(
    "volume_spike",
    volume_spike,
    {"factor": 10.0, "min_events": 100, "min_expected": 5, "weeks": 4},
    "an event arriving factor times more than the same weekday's median so far today",
)
