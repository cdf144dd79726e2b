"""Property-based requests from /openapi.json against a running gateway, on each store: none gets
a 5xx, and every answer agrees with the document (status code, headers, content type, body), a
request the document calls valid is taken and one it calls invalid is refused."""

from __future__ import annotations

import base64
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.result import Ok

from tests.postgres import fresh_schema_url, postgres_database

from .conftest import QUICK_KEY, start_gateway

__all__ = ["postgres_database"]

# Examples per operation and store: 31 operations x 8 x 2 stores keeps the run near a minute.
EXAMPLES = 8
AUTH = "Basic " + base64.b64encode(f"default:{QUICK_KEY}".encode()).decode()
CONFORMANCE = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def api_schema(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, schemathesis.BaseSchema]]:
    folder: Path = tmp_path_factory.mktemp(f"schemathesis-{request.param}")
    args: tuple[str, ...] = ()
    if request.param == "postgresql":
        args = ("--store", fresh_schema_url(request.getfixturevalue("postgres_database")))
    served = start_gateway(folder, *args)
    try:
        yield request.param, schemathesis.openapi.from_url(f"{served.url}/openapi.json")
    finally:
        served.stop()
        assert "Traceback" not in served.logs()


def test_the_gateway_does_what_its_openapi_document_says(
    api_schema: tuple[str, schemathesis.BaseSchema],
) -> None:
    backend, schema = api_schema
    results = list(schema.get_all_operations())
    operations = [result.ok() for result in results if isinstance(result, Ok)]
    assert len(operations) == len(results), "the document has an operation it cannot read"
    assert len(operations) >= 31
    for operation in operations:
        _check_operation(operation, backend)


def _check_operation(
    operation: schemathesis.APIOperation[Any, Any, Any, Any],
    backend: str,
    *,
    examples: int | None = None,
    extra: Sequence[Any] = (),
    acceptance: bool = True,
) -> None:
    """Answers checked against the document (plus `extra` checks) for `examples` generated
    requests; with `acceptance`, also whether each request is taken or refused as documented."""
    answers = [*CONFORMANCE, *extra]
    checks = list(answers)
    if acceptance and operation.method.upper() != "GET":
        checks += [positive_data_acceptance, negative_data_rejection]

    @given(case=operation.as_strategy())
    @settings(
        max_examples=examples or EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case: schemathesis.Case[Any]) -> None:
        response = case.call(headers={"Authorization": AUTH}, timeout=10)
        sent = case.headers.get("X-Strict-Mode", "") if case.headers is not None else ""
        strict = str(sent).strip().lower() in ("1", "true")
        # In strict mode a plan violation refuses the request (400 `strict_mode`): whether a
        # body is taken then depends on the plan, which the document cannot say.
        case.validate_response(response, checks=answers if strict else checks)

    check()
