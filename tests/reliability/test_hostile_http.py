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

from tests.server import test_schemathesis as base
from tests.server.test_schemathesis import api_schema

__all__ = ["api_schema"]

EXAMPLES = int(os.environ.get("TRACKWELL_FUZZ_EXAMPLES", "200"))
seen: dict[int, int] = {}


def conforms_and_errors_are_json(ctx: Any, response: Any, case: Any) -> bool | None:
    """The schema check the base runner makes, plus: a 4xx is `{"code", "message"}` JSON."""
    seen[response.status_code] = seen.get(response.status_code, 0) + 1
    if 400 <= response.status_code < 500:
        body = response.json()
        assert isinstance(body, dict) and body.get("code") and body.get("message"), (
            f"{case.method} {case.path}: a {response.status_code} without a JSON error: "
            f"{response.text[:200]}"
        )
    return base_conformance(ctx, response, case)


base_conformance = base.response_schema_conformance


def test_a_few_hundred_hostile_requests_per_endpoint(
    api_schema: schemathesis.BaseSchema, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(base, "EXAMPLES", EXAMPLES)
    monkeypatch.setattr(base, "response_schema_conformance", conforms_and_errors_are_json)
    seen.clear()
    base.test_no_request_gets_a_server_error(api_schema)
    assert not any(status >= 500 for status in seen), seen
    # The run reached the code that matters: refusals of several kinds and successes.
    assert seen.get(200, 0) > 0 and sum(v for k, v in seen.items() if 400 <= k < 500) > 0, seen
