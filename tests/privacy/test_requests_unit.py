"""The pure parts of the privacy service: person strings, request ids, job settlement."""

from __future__ import annotations

import pytest

from trackwell.core.privacy import PrivacyJob, PrivacyRequest, Receipt, Subject
from trackwell.destinations.base import PrivacyAnswer
from trackwell.pipeline.privacy import (
    PrivacyError,
    check_person,
    is_request_id,
    new_request_id,
    request_document,
    settlement,
)
from trackwell.pipeline.retry import RetryPolicy


@pytest.mark.parametrize("person", ["", "   ", "a\x00b", "x" * 256])
def test_check_person_refuses_unusable_strings(person: str) -> None:
    with pytest.raises(PrivacyError):
        check_person(person)


@pytest.mark.parametrize("person", ["u-1", " spaced id ", "Ada@Example.com", "x" * 255])
def test_check_person_keeps_the_string_as_given(person: str) -> None:
    assert check_person(person) == person


def test_request_ids_sort_by_creation_and_are_recognised() -> None:
    ids = [new_request_id() for _ in range(50)]
    assert ids == sorted(ids) and len(set(ids)) == 50
    assert all(is_request_id(i) for i in ids)
    for bad in ("prv_", "prv_../../etc", "abc", ids[0].upper(), ids[0] + "0", "x" + ids[0]):
        assert not is_request_id(bad)


def job(attempts: int) -> PrivacyJob:
    return PrivacyJob("prv_x", "erase", "tool", Subject(user_ids=("u",)), attempts)


POLICY = RetryPolicy(max_attempts=3, backoff_base=1.0, backoff_cap=4.0)


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (PrivacyAnswer("done", "HTTP 202 task 7"), ("done", "HTTP 202 task 7", None)),
        (PrivacyAnswer("captured", "capture mode"), ("captured", "capture mode", None)),
        (PrivacyAnswer("not_supported", "no API"), ("not_supported", "no API", None)),
        (PrivacyAnswer("failed", "HTTP 400 bad id"), ("failed", "HTTP 400 bad id", None)),
        (PrivacyAnswer("retry", "HTTP 429", 30.0), ("retry", "HTTP 429", 1_030_000)),
    ],
)
def test_settlement_table(answer: PrivacyAnswer, expected: tuple[str, str, int | None]) -> None:
    assert settlement(job(0), answer, POLICY, now=1000.0) == expected


def test_settlement_backs_off_then_fails_with_the_last_answer() -> None:
    status, detail, next_ms = settlement(job(1), PrivacyAnswer("retry", "HTTP 503"), POLICY, 1000.0)
    assert (status, detail) == ("retry", "HTTP 503")
    assert next_ms is not None and 1_000_000 <= next_ms <= 1_004_000
    # The third attempt is the last one the policy allows: the job fails with the tool's answer.
    status, detail, next_ms = settlement(job(2), PrivacyAnswer("retry", "HTTP 503"), POLICY, 1000.0)
    assert (status, next_ms) == ("failed", None)
    assert detail == "gave up after 3 attempts; last: HTTP 503"


def test_request_document_names_no_identifier() -> None:
    request = PrivacyRequest(
        "prv_1",
        "erase",
        1_767_000_000_000,
        "cli:ada",
        3,
        (
            Receipt("mixpanel", "done", 1, 1_767_000_001_000, "HTTP 200 task 9"),
            Receipt("hook", "failed", 8, 1_767_000_002_000, "HTTP 500"),
        ),
        {"log": 4},
    )
    document = request_document(request)
    assert document["status"] == "failed"
    assert document["finished_at"] == "2025-12-29T09:20:02Z"
    assert [d["name"] for d in document["destinations"]] == ["mixpanel", "hook"]
    assert document["erased"] == {"log": 4} and document["identifiers"] == 3
