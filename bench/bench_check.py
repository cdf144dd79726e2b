"""Microseconds per message: trackwell's checks against plain JSON Schema validators.

Run by hand: `python bench/bench_check.py`. Prints a table of medians over several repeats;
compare the rows of one run with each other, not with another machine's figures.
`--before SRC` also runs the same rows against another checkout's `src` (e.g. main's) in a
subprocess and prints the two side by side, so a change is measured in one run.
"""

from __future__ import annotations

import itertools
import json
import os
import statistics
import subprocess
import sys
import timeit
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import fastjsonschema
import jsonschema
import jsonschema_rs

from trackwell.core.messages import from_json, normalise
from trackwell.plan import load_plan
from trackwell.plan.jsonschema import event_schema
from trackwell.quality import check_message, compile_plan

PLAN = Path(__file__).resolve().parent.parent / "examples" / "saas" / "tracking-plan.yaml"
REPEATS = 7
NUMBER = int(os.environ.get("BENCH_NUMBER", "20000"))  # fewer for a quick look
# More distinct messages than the scan remembers clean values (50,000): none is a cache hit.
DISTINCT = 60_000

EVENT: dict[str, Any] = {
    "type": "track",
    "userId": "user-8841",
    "messageId": "2f1c6c1e-5a0f-4b5e-9d7e-3a0c4d1b2e6f",
    "event": "Subscription Started",
    "properties": {
        "plan_name": "pro",
        "plan_price_cents": 19900,
        "billing_period": "monthly",
        "trial_converted": True,
        "referral_source": "partner-acme",
        "team_size": 12,
    },
    "timestamp": "2026-11-29T10:00:00.000Z",
    "context": {
        "library": {"name": "trackwell", "version": "0.1.0"},
        "ip": "203.0.113.9",
        "userAgent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0",
    },
}


def per_call_us(fn: Callable[[], object]) -> tuple[float, float, float]:
    """Median, min and max microseconds per call over REPEATS runs of NUMBER calls."""
    runs = [t / NUMBER * 1e6 for t in timeit.repeat(fn, number=NUMBER, repeat=REPEATS)]
    return statistics.median(runs), min(runs), max(runs)


def varied(base: dict[str, Any], count: int, note: str | None = None) -> Callable[[], Any]:
    """Messages that differ as real traffic does (a new messageId each, optionally free text),
    so caches of values already seen clean cannot hide the scan's cost; cycled through."""
    messages = []
    for n in range(count):
        data = {**base, "messageId": str(uuid.uuid4())}
        if note is not None:
            data["properties"] = {**base["properties"], "referral_source": f"{note} {n}"}
        messages.append(normalise(from_json(data)))
    return itertools.cycle(messages).__next__


def rows() -> list[tuple[str, Callable[[], object]]]:
    """The timed rows: (label, a call)."""
    plan = load_plan(PLAN)
    compiled = compile_plan(plan)
    schema = event_schema(plan.events["Subscription Started"])
    properties = EVENT["properties"]
    message = normalise(from_json(EVENT))
    assert check_message(compiled, message).verdict == "accepted"
    raw = json.dumps(EVENT).encode()

    plain = jsonschema.Draft202012Validator(schema)
    fast = fastjsonschema.compile(schema)
    rust = jsonschema_rs.validator_for(schema)
    unique = varied(EVENT, DISTINCT)
    texts = varied(EVENT, DISTINCT, "café crème – édition spéciale")
    rows: list[tuple[str, Callable[[], object]]] = [
        (
            "trackwell check (plan + sensitive scan + identity + time)",
            lambda: check_message(compiled, message),
        ),
        (
            "  the same, a new messageId each message",
            lambda: check_message(compiled, unique()),
        ),
        (
            "  the same, new messageId and new non-ASCII free text each",
            lambda: check_message(compiled, texts()),
        ),
        (
            "trackwell parse + normalise + check (from a dict)",
            lambda: check_message(compiled, normalise(from_json(EVENT))),
        ),
        (
            "trackwell json.loads + parse + normalise + check",
            lambda: check_message(compiled, normalise(from_json(json.loads(raw)))),
        ),
        ("jsonschema-rs is_valid (validation alone)", lambda: rust.is_valid(properties)),
        ("fastjsonschema (validation alone)", lambda: fast(properties)),
        ("jsonschema Draft202012 is_valid (validation alone)", lambda: plain.is_valid(properties)),
    ]
    return rows


def main() -> None:
    before = sys.argv[sys.argv.index("--before") + 1] if "--before" in sys.argv else None
    results = [(label, per_call_us(fn)) for label, fn in rows()]
    if "--json" in sys.argv:
        print(json.dumps([[label, list(times)] for label, times in results]))
        return
    width = max(len(label) for label, _ in results)
    if before is not None:
        env = {**os.environ, "PYTHONPATH": before}
        out = subprocess.run(
            [sys.executable, __file__, "--json"], env=env, check=True, capture_output=True
        ).stdout
        then = {label: times[0] for label, times in json.loads(out)}
        print(f"{'what':<{width}}  {'before µs':>9}  {'after µs':>9}")
        for label, (median, _, _) in results:
            print(f"{label:<{width}}  {then.get(label, float('nan')):9.2f}  {median:9.2f}")
        return
    print(f"{'what':<{width}}  {'median µs':>9}  {'min':>7}  {'max':>7}")
    for label, (median, low, high) in results:
        print(f"{label:<{width}}  {median:9.2f}  {low:7.2f}  {high:7.2f}")
    check_median = results[0][1][0]
    print(f"\ncheck vs jsonschema:     {results[-1][1][0] / check_median:.1f}x faster")
    print(f"check vs fastjsonschema: {results[-2][1][0] / check_median:.2f}x")


if __name__ == "__main__":
    main()
