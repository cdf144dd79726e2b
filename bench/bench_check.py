"""Microseconds per message: trackwell's checks against plain JSON Schema validators.

Run by hand: `python bench/bench_check.py`. Prints a table of medians over several repeats;
compare the rows of one run with each other, not with another machine's figures.
"""

from __future__ import annotations

import json
import statistics
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

import fastjsonschema
import jsonschema
import jsonschema_rs

from trackwell.messages import from_json, normalise
from trackwell.plan import load_plan
from trackwell.plan.jsonschema import event_schema
from trackwell.quality import check_message, compile_plan

PLAN = Path(__file__).resolve().parent.parent / "examples" / "saas" / "tracking-plan.yaml"
REPEATS = 7
NUMBER = 20_000

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


def main() -> None:
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
    rows = [
        (
            "trackwell check (plan + sensitive scan + identity + time)",
            lambda: check_message(compiled, message),
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
    results = [(label, per_call_us(fn)) for label, fn in rows]
    width = max(len(label) for label, _ in results)
    print(f"{'what':<{width}}  {'median µs':>9}  {'min':>7}  {'max':>7}")
    for label, (median, low, high) in results:
        print(f"{label:<{width}}  {median:9.2f}  {low:7.2f}  {high:7.2f}")
    check_median = results[0][1][0]
    print(f"\ncheck vs jsonschema:     {results[5][1][0] / check_median:.1f}x faster")
    print(f"check vs fastjsonschema: {results[4][1][0] / check_median:.2f}x")


if __name__ == "__main__":
    main()
