"""Fixtures shared by every test folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from trackwell.plan import Plan, load_plan

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_PLAN = ROOT / "examples" / "saas" / "tracking-plan.yaml"


@pytest.fixture(scope="session")
def example_plan() -> Plan:
    """The SaaS example plan shipped in examples/."""
    return load_plan(EXAMPLE_PLAN)


# -- markers: `-m "not slow and not postgres and not browser"` is the fast suite ------------------

# Fixtures that need the machine's PostgreSQL or Chromium; a test using one (directly or through
# another fixture) gets the marker, so a new test is marked without anyone remembering to.
POSTGRES_FIXTURES = frozenset({"postgres_database"})
BROWSER_FIXTURES = frozenset({"chromium"})
# A parametrised fixture's PostgreSQL variant (`any_store[postgresql]`) asks for the database
# inside the fixture (request.getfixturevalue), where the fixture closure cannot see it.
POSTGRES_PARAMS = frozenset({"postgresql"})
# `slow`: more than about 2 s each in `pytest --durations=0` (real processes, npm tools, type
# checkers, load, fault injection). Folders and modules where every test is; then single tests
# (path::name, every parametrisation); then fixtures that make any test using them slow.
SLOW_FOLDERS = frozenset({"reliability", "scaleout"})
SLOW_MODULES = frozenset(
    {
        "sdk/test_crash.py",  # processes killed with SIGKILL, spill files replayed
        "server/test_compat_libraries.py",  # real client libraries against a gateway process
        "server/test_demo_mode.py",  # `serve --demo` and the banner on a custom plan, as processes
        "server/test_cio_clients.py",
        "server/test_process.py",  # the gateway as real processes: workers, signals, banner
        "server/test_schemathesis.py",  # a generated-request run against a gateway process
        "server/test_timeouts.py",  # deadlines waited out on a real uvicorn
        "test_testing_plugin.py",  # a pytest run in a subprocess
        "test_base_install.py",  # pip installs the project into a clean virtualenv
    }
)
SLOW_TESTS = frozenset(
    {
        "cli/test_check_cli.py::test_unusable_input_exits_2",
        "cli/test_plan_cli.py::test_bad_input_is_one_clear_line_and_exit_2_without_traceback",
        "codegen/test_cli.py::test_no_traceback_from_the_real_command",
        "codegen/test_fuzz.py::test_python_parses_is_formatted_and_type_checks",
        "codegen/test_python_types.py::test_mypy_accepts_the_modules_the_recorder_and_correct_calls",
        "codegen/test_python_types.py::test_mypy_rejects_a_wrong_call_naming_the_problem",
        "codegen/test_typescript.py::test_sender_posts_the_segment_http_api_to_a_real_server",
        "destinations/test_fake_schemas.py::test_every_schema_definition_is_a_valid_schema",
        "monitor/test_cli.py::test_monitor_runs_until_sigterm",
        "pipeline/test_router.py::test_a_hanging_destination_does_not_delay_a_healthy_one",
        "plan/test_lint.py::test_event_count_warning_then_error",
        "plan/test_loader.py::test_alias_bomb_is_bounded",
        "quality/test_fuzz.py::test_any_json_gets_a_verdict",
        "sdk/test_client.py::test_a_full_queue_spills_to_disk_and_loses_nothing",
        "sdk/test_client.py::test_a_read_only_file_is_reported_and_nothing_is_acknowledged",
        "sdk/test_client.py::test_many_threads_store_every_message_once",
        "server/test_browser_key.py::test_a_real_gateway_limits_and_restricts_a_browser_key",
        "server/test_disconnect.py::test_a_client_gone_mid_body_is_a_quiet_499",
        "server/test_keys_cli.py::test_a_new_key_is_printed_once_on_standard_output_only",
        "server/test_keys_cli.py::test_rotate_and_revoke_as_a_process_print_no_traceback",
        "server/test_stall.py::test_a_batch_of_invented_names_does_not_stall_a_normal_client",
        "server/test_why_loop.py::test_why_tells_what_customerio_did_with_an_event_sent_through_the_gateway",
        "server/test_strict_clients.py::test_customerio_node_strict_mode_gets_400_with_the_reasons",
        "server/test_webhooks.py::test_over_loopback_a_report_is_linked_to_the_message_customerio_received",
        "store/test_sqlite_durability.py::test_serve_will_not_start_on_a_damaged_store",
        "test_markers.py::test_the_fast_selection_leaves_out_postgres_browser_and_slow_tests",
    }
)
# tsc and pyright from the npm registry; four weeks of monitor history, built once a session.
SLOW_FIXTURES = frozenset({"npm_tools", "steady_db"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark tests by the machine services they use, and the slow ones listed above."""
    tests = Path(__file__).parent
    for item in items:
        module = item.path.relative_to(tests).as_posix() if item.path.is_relative_to(tests) else ""
        fixtures = set(getattr(item, "fixturenames", ()))
        name = getattr(item, "originalname", item.name)
        if (
            module.split("/")[0] in SLOW_FOLDERS
            or module in SLOW_MODULES
            or f"{module}::{name}" in SLOW_TESTS
            or fixtures & SLOW_FIXTURES
        ):
            item.add_marker(pytest.mark.slow)
        callspec = getattr(item, "callspec", None)
        params = list(callspec.params.values()) if callspec is not None else []
        if fixtures & POSTGRES_FIXTURES or any(
            isinstance(p, str) and p in POSTGRES_PARAMS for p in params
        ):
            item.add_marker(pytest.mark.postgres)
        if fixtures & BROWSER_FIXTURES:
            item.add_marker(pytest.mark.browser)
