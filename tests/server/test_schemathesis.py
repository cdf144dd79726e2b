"""Property-based requests from /openapi.json against a running gateway: none gets a 5xx."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from .conftest import QUICK_KEY, start_gateway

# Examples per operation: 25 operations x 12 keeps the run well under a minute.
EXAMPLES = 25
AUTH = "Basic " + base64.b64encode(f"default:{QUICK_KEY}".encode()).decode()


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[schemathesis.BaseSchema]:
    folder: Path = tmp_path_factory.mktemp("schemathesis")
    served = start_gateway(folder)
    try:
        yield schemathesis.openapi.from_url(f"{served.url}/openapi.json")
    finally:
        served.stop()
        assert "Traceback" not in served.logs()


def test_no_request_gets_a_server_error(api_schema: schemathesis.BaseSchema) -> None:
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 20
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case: schemathesis.Case) -> None:
            response = case.call(headers={"Authorization": AUTH}, timeout=10)
            case.validate_response(
                response,
                checks=[
                    not_a_server_error,
                    status_code_conformance,
                    content_type_conformance,
                    response_schema_conformance,
                ],
            )

        check()
