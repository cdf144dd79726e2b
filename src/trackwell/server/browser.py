"""What an anonymous-only browser key may send: the plan's `browser: true` events, page views."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace

from trackwell.core.operations import operation_of
from trackwell.core.violations import Violation
from trackwell.plan.model import Plan
from trackwell.server.auth import Source
from trackwell.store import Checked, Timelines

BROWSER_CODE = "not_for_browser"


def restrict_browser(plan: Plan, source: Source, checked: Sequence[Checked]) -> list[Checked]:
    """The messages, with each `track` of an event the plan does not mark `browser: true` kept
    blocked with the reason, when the source is anonymous-only (a key anyone can read from a
    page). Blocked one by one rather than refusing the request, so a page's batch keeps its
    good messages; page views are left to the plan's `pages` check, operations to the public
    key's own rules (a delivery metric may come from a page)."""
    if not source.anonymous_only:
        return list(checked)
    allowed = plan.browser_events()
    return [_restrict(allowed, source, c) for c in checked]


def _restrict(allowed: frozenset[str], source: Source, checked: Checked) -> Checked:
    message = checked.message
    if message.type != "track" or operation_of("track", message.event) is not None:
        return checked
    if message.event in allowed:
        return checked
    listed = ", ".join(f"'{name}'" for name in sorted(allowed)) or "none"
    reason = Violation(
        BROWSER_CODE,
        "event",
        f"source '{source.name}' has a browser key: it may send only the events the plan marks"
        f" `browser: true` ({listed}) and page views; send '{message.event}' from your backend",
        "block",
    )
    return replace(checked, verdict="blocked", violations=(*checked.violations, reason))


async def detach_known_visitors(
    store: Timelines, source: Source, checked: Sequence[Checked]
) -> list[Checked]:
    """The messages, with each one an anonymous-only key sent under an anonymous id already
    tied to an identified person kept blocked with the reason. The store puts every message of
    a tied anonymous id on that person's timeline (and tools merge it into their profile), and
    a key anyone can read from a page must not write there: anyone who learns a visitor's id
    could. The lookups run off the event loop, one per distinct id."""
    if not source.anonymous_only:
        return list(checked)
    ids = {
        c.message.anonymous_id for c in checked if c.verdict != "blocked" and c.message.anonymous_id
    }
    if not ids:
        return list(checked)
    tied = await asyncio.to_thread(_tied, store, ids)
    return [
        _detach(source, c) if c.verdict != "blocked" and c.message.anonymous_id in tied else c
        for c in checked
    ]


def _tied(store: Timelines, ids: set[str]) -> set[str]:
    return {anonymous for anonymous in ids if store.profile(anonymous) is not None}


def _detach(source: Source, checked: Checked) -> Checked:
    reason = Violation(
        BROWSER_CODE,
        "anonymousId",
        f"source '{source.name}' has a browser key, and this anonymousId already belongs to an"
        " identified person: kept blocked, so no page can write onto someone's timeline by"
        " sending under their id; send that person's events from your backend",
        "block",
    )
    return replace(checked, verdict="blocked", violations=(*checked.violations, reason))
