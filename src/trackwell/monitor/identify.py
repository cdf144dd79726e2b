"""missing_identify: new people without traits (a broken identify), and identify racing track."""

from __future__ import annotations

from collections import Counter

from trackwell.monitor.context import Context, Monitor
from trackwell.monitor.findings import Finding, count, percent


def missing_identify(ctx: Context) -> list[Finding]:
    """New profiles today that no identify gave traits, and identify_after_track by source."""
    return _new_profiles(ctx) + _after_track(ctx)


def _new_profiles(ctx: Context) -> list[Finding]:
    today, baseline_days = ctx.today, int(ctx.option("baseline_days"))
    rows = ctx.reads.people(today - baseline_days, today)
    now = next((r for r in rows if r.day == today), None)
    if now is None or now.new_profiles < ctx.option("min_new_profiles"):
        return []
    share = min(now.identifies_of_new / now.new_profiles, 1.0)
    past = [r for r in rows if r.day < today and r.new_profiles]
    before = sum(r.new_profiles for r in past)
    baseline = min(sum(r.identifies_of_new for r in past) / before, 1.0) if before else None
    # Some stacks identify later than the first event; only a fall from their own usual
    # share (or a low share with no history yet) is the broken-identify failure.
    if share >= ctx.option("min_share") or (baseline is not None and share >= baseline / 2):
        return []
    bare = ctx.reads.profiles_without_traits()
    usual = f" (usually {percent(baseline)})" if baseline is not None else ""
    return [
        Finding(
            "missing_identify",
            "new_profiles",
            "critical",
            f"Only {percent(share)} of today's {count(now.new_profiles)} new people were identified "
            f"with traits{usual}",
            f"{count(now.new_profiles)} people were seen for the first time today, and identify "
            f"calls with traits arrived for {count(now.identifies_of_new)} of them{usual}. Their "
            "events reach the tools for profiles without an email or plan, so Customer.io "
            "campaigns skip them and segments miss them. "
            f"{count(bare)} profiles in the store have no traits at all. Check the identify call "
            "at signup (a deploy that removed or moved it, or client-side identify lost to "
            "ad blockers); `trackwell why USER` shows one person's history.",
            1 - share,
            {
                "new_profiles": now.new_profiles,
                "identified": now.identifies_of_new,
                "share": round(share, 3),
                "baseline": None if baseline is None else round(baseline, 3),
                "profiles_without_traits": bare,
            },
        )
    ]


def _after_track(ctx: Context) -> list[Finding]:
    today = ctx.today
    late: Counter[str] = Counter()
    for _day, source, _name, code, number in ctx.reads.codes(today, today):
        if code == "identify_after_track":
            late[source] += number
    identifies: Counter[str] = Counter()
    for row in ctx.reads.daily(today, today):
        if row.type == "identify":
            identifies[row.source] += row.received
    findings = []
    for source, number in sorted(late.items()):
        rate = number / identifies[source] if identifies[source] else 1.0
        if number < ctx.option("min_identify_after_track") or rate <= ctx.option(
            "max_identify_after_track"
        ):
            continue
        findings.append(
            Finding(
                "missing_identify",
                f"identify_after_track:{source}",
                "warning",
                f"{source}: {percent(rate)} of today's identify calls came after the person's events",
                f"{count(number)} of {count(identifies[source])} identify calls from '{source}' "
                "today arrived after events of the same person, so the tools got those events "
                "for a profile without traits (client-side identify racing track). Identify from "
                "the backend at signup, before tracking.",
                rate,
                {"late": number, "identifies": identifies[source]},
            )
        )
    return findings


MONITOR = Monitor(
    "missing_identify",
    missing_identify,
    {
        "min_new_profiles": 20,
        "min_share": 0.5,
        "baseline_days": 14,
        "max_identify_after_track": 0.1,
        "min_identify_after_track": 10,
    },
    "today's new people identified with traits below min_share (and half their usual share); identify_after_track rates by source",
)
