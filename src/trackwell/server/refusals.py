"""Refusals a client cannot miss: count headers on every answer, and strict mode's 400."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from trackwell.core.violations import Violation
from trackwell.server.problems import Problem, json_response
from trackwell.store import Checked

# Counts of the request's verdicts on every ingest answer: clients and proxies that never read
# the body (Segment's libraries do not) still show a refusal in their logs and dashboards.
BLOCKED_HEADER = "X-Trackwell-Blocked"
REPAIRED_HEADER = "X-Trackwell-Repaired"
COUNT_HEADERS = (BLOCKED_HEADER, REPAIRED_HEADER)
# Customer.io's Data Pipelines libraries send `X-Strict-Mode: 1` to be answered with an error
# instead of a silent drop (customerio-node's PipelinesDefaults.strictMode); "true" is taken too.
STRICT_HEADER = "X-Strict-Mode"
STRICT_VALUES = frozenset({"1", "true"})
# The violation given, in a strict-mode refusal, to the messages that passed the checks.
STRICT_CODE = "strict_mode"


def strict_requested(request: Request) -> bool:
    """Whether the caller asked for strict mode with `X-Strict-Mode: 1` (or `true`)."""
    return request.headers.get(STRICT_HEADER, "").strip().lower() in STRICT_VALUES


def count_headers(summary: Mapping[str, Any]) -> dict[str, str]:
    """`X-Trackwell-Blocked` and `X-Trackwell-Repaired` of a request's summary."""
    return {BLOCKED_HEADER: str(summary["blocked"]), REPAIRED_HEADER: str(summary["repaired"])}


def refuse(checked: Checked) -> Checked:
    """A message of a strict-mode refusal, kept blocked: as it was, or with `strict_mode` added."""
    if checked.verdict == "blocked":
        return checked
    reason = Violation(
        STRICT_CODE,
        "",
        "refused with its request in strict mode: another message of it was blocked",
        "block",
    )
    return replace(checked, verdict="blocked", violations=(*checked.violations, reason))


class StrictRefusal(Problem):
    """A strict-mode 400: the request had blocked messages, and none of it goes on."""

    def __init__(self, summary: dict[str, Any]) -> None:
        blocked = summary["blocked"]
        total = summary["accepted"] + summary["repaired"] + blocked
        super().__init__(
            400,
            STRICT_CODE,
            f"strict mode: {blocked} of the {total} messages were blocked, so the whole request"
            " was refused and nothing of it will be delivered (every message is kept as blocked,"
            " with its reasons); fix the violations listed and send the request again",
            headers=count_headers(summary),
        )
        self.summary = summary

    def response(self) -> Response:
        """The error, with the counts and every listed violation (index, code, path, message).

        `meta.errors` is Customer.io's error shape: its libraries print those lines
        (customerio-node's CustomerIORequestError.composeMessage), so the developer sees why.
        """
        errors = [
            f"[{v['index']}] {v['path'] or 'message'}: {v['message']} ({v['code']})"
            for v in self.summary["violations"]
            if v["effect"] == "block"
        ]
        body = {"code": self.code, "message": self.message, **self.summary}
        body["meta"] = {"errors": errors or [self.message]}
        return json_response(body, self.status, self.headers)
