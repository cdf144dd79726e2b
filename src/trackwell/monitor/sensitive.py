"""sensitive_data: any message that carried card numbers, passwords or other secrets today."""

from __future__ import annotations

from collections import Counter

from trackwell.monitor.context import Context, Monitor
from trackwell.monitor.findings import Finding, count


def sensitive_data(ctx: Context) -> list[Finding]:
    """One critical finding per event and source that sent sensitive data since midnight UTC."""
    found: Counter[tuple[str, str]] = Counter()
    for _day, source, name, code, number in ctx.reads.codes(ctx.today, ctx.today):
        if code == "sensitive_data":
            found[(source, name)] += number
    policy = ctx.plan.plan.policy.sensitive_data
    done = (
        "trackwell redacted the values before storing or sending anything (policy: redact)"
        if policy == "redact"
        else "trackwell blocked those messages (policy: block), so the events were lost too"
    )
    return [
        Finding(
            "sensitive_data",
            f"{source}:{name}",
            "critical",
            f"Sensitive data in {_what(name)} from {source}: {count(number)} today",
            f"{count(number)} {_what(name)} messages from '{source}' since 00:00 UTC carried "
            f"values that look like card numbers, passwords, national ids or secrets; {done}. "
            "The sender is collecting them: fix it at the source, and check its logs and any "
            "tool it sends to directly. `trackwell why USER` shows the redacted paths.",
            float(number),
            {"messages": number},
        )
        for (source, name), number in sorted(found.items())
    ]


def _what(name: str) -> str:
    return f"'{name}'" if name else "identify (or unnamed)"


MONITOR = Monitor(
    "sensitive_data",
    sensitive_data,
    {},
    "any message with sensitive data today (always critical)",
)
