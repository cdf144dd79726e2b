"""Hostile HTTP: schemathesis from /openapi.json at a higher count than tests/server's run, with
one more check: every 4xx is a JSON error with a code and a message.

`make test` runs EXAMPLES per operation (bounded); TRACKWELL_FUZZ_EXAMPLES=N raises it for a
longer run (e.g. 1000 before a release).
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import schemathesis
from schemathesis.core.result import Ok

from tests.postgres import postgres_database
from tests.server import test_schemathesis as base
from tests.server.test_schemathesis import api_schema

__all__ = ["api_schema", "postgres_database"]

EXAMPLES = int(os.environ.get("TRACKWELL_FUZZ_EXAMPLES", "200"))
seen: dict[int, int] = {}


def errors_are_json(ctx: Any, response: Any, case: Any) -> bool | None:
    """Every answer is counted, and a 4xx is `{"code", "message"}` JSON."""
    seen[response.status_code] = seen.get(response.status_code, 0) + 1
    if 400 <= response.status_code < 500:
        body = response.json()
        assert isinstance(body, dict) and body.get("code") and body.get("message"), (
            f"{case.method} {case.path}: a {response.status_code} without a JSON error: "
            f"{response.text[:200]}"
        )
    return True


def test_a_few_hundred_hostile_requests_per_endpoint(
    api_schema: tuple[str, schemathesis.BaseSchema],
) -> None:
    backend, schema = api_schema
    if backend != "sqlite":
        pytest.skip(
            "the long hostile run is SQLite's; tests/server/test_schemathesis.py checks"
            " PostgreSQL's answers against the same document"
        )
    seen.clear()
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), "the document has an operation it cannot read"
        # The answers only: whether a request is taken is the bounded run's job (it knows
        # which routes' bodies the document describes in full).
        base._check_operation(
            result.ok(), backend, examples=EXAMPLES, extra=[errors_are_json], acceptance=False
        )
    assert not any(status >= 500 for status in seen), seen
    # The run reached the code that matters: refusals of several kinds and successes.
    assert seen.get(200, 0) > 0 and sum(v for k, v in seen.items() if 400 <= k < 500) > 0, seen
