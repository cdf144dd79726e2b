"""Import budgets: what the command line and the SDK may load, checked in fresh interpreters.

`trackwell --help` must stay fast and must work without the optional extras, and an application
using the SDK must pay only for what it uses. A module-level import added in the wrong place
fails here, naming the module."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import typer.main
from typer.testing import CliRunner

from trackwell.cli import COMMANDS, app
from trackwell.cli import extras as cli_extras

from .conftest import ROOT

PLAN = ROOT / "examples" / "saas" / "tracking-plan.yaml"
# Top-level packages of the gateway, the console and the PostgreSQL store.
SERVER_PACKAGES = ("starlette", "uvicorn", "httptools", "uvloop", "prometheus_client", "jinja2")
DATABASE_PACKAGES = ("psycopg", "psycopg_pool", "psycopg_binary")
# Modules of trackwell the command line must not load to print its help.
CLI_FORBIDDEN_PREFIXES = (
    "trackwell.server",
    "trackwell.console",
    "trackwell.store",
    "trackwell.destinations",
    "trackwell.monitor",
    "trackwell.quality",
    "trackwell.plan",
    "trackwell.pipeline",
    "trackwell.sdk",
)
# Each tool's own modules: loaded only for a destination of that kind.
TOOL_MODULES = (
    "trackwell.destinations.amplitude",
    "trackwell.destinations.customerio",
    "trackwell.destinations.customerio_metrics",
    "trackwell.destinations.mixpanel",
    "trackwell.destinations.segment",
    "trackwell.destinations.webhook",
)


def loaded_after(code: str, tmp_path: Path) -> list[str]:
    """The modules a fresh interpreter has loaded after running `code`."""
    script = textwrap.dedent(code) + textwrap.dedent(
        """
        import json as _json, sys as _sys
        print("MODULES=" + _json.dumps(sorted(_sys.modules)))
        """
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    line = next(x for x in done.stdout.splitlines() if x.startswith("MODULES="))
    modules: list[str] = json.loads(line.removeprefix("MODULES="))
    return modules


def top_level(modules: list[str], packages: tuple[str, ...]) -> list[str]:
    """The modules that belong to one of `packages`."""
    return [m for m in modules if m.split(".")[0] in packages]


def test_importing_the_cli_loads_no_server_console_template_or_database(tmp_path: Path) -> None:
    modules = loaded_after("import trackwell.cli", tmp_path)
    assert top_level(modules, SERVER_PACKAGES + DATABASE_PACKAGES) == []
    assert [m for m in modules if m.startswith(CLI_FORBIDDEN_PREFIXES)] == []


def test_the_help_loads_only_the_command_line(tmp_path: Path) -> None:
    # Every group's help too: building one builds all of its commands.
    modules = loaded_after(
        """
        import contextlib, io
        from trackwell.cli import app
        for args in (
            ["--help"],
            ["plan", "--help"],
            ["keys", "--help"],
            ["serve", "--help"],
            ["store", "--help"],
            ["store", "check", "--help"],
        ):
            with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
                app(args, prog_name="trackwell")
        """,
        tmp_path,
    )
    assert top_level(modules, SERVER_PACKAGES + DATABASE_PACKAGES) == []
    # Neither the libraries of the checks nor rich's help renderer (Markdown, Pygments).
    heavy = ("yaml", "rapidfuzz", "jsonschema_rs", "httpx", "rich", "markdown_it", "pygments")
    assert top_level(modules, heavy) == []
    trackwell = [m for m in modules if m.split(".")[0] == "trackwell"]
    assert [m for m in trackwell if m.startswith(CLI_FORBIDDEN_PREFIXES)] == []


def test_the_root_help_imports_no_command(tmp_path: Path) -> None:
    modules = loaded_after(
        """
        import contextlib, io
        from trackwell.cli import app
        with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
            app(["--help"], prog_name="trackwell")
        """,
        tmp_path,
    )
    trackwell = sorted(m for m in modules if m.split(".")[0] == "trackwell")
    assert trackwell == [
        "trackwell",
        "trackwell.cli",
        "trackwell.cli.lazy",
        "trackwell.cli.options",
        "trackwell.core",
        "trackwell.core.version",
    ]


def test_a_command_imports_its_own_module_only(tmp_path: Path) -> None:
    modules = loaded_after(
        """
        import contextlib, io
        from trackwell.cli import app
        with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
            app(["timeline", "--help"], prog_name="trackwell")
        """,
        tmp_path,
    )
    commands = sorted(m for m in modules if m.startswith("trackwell.cli."))
    assert "trackwell.cli.timeline" in commands
    assert [m for m in commands if m.endswith((".serve", ".monitor", ".plan", ".keys"))] == []


def test_every_summary_is_the_first_line_of_its_commands_help() -> None:
    commands = typer.main.get_command(app).commands  # type: ignore[attr-defined]
    assert list(commands) == list(COMMANDS)
    for name, spec in COMMANDS.items():
        first = (commands[name].help or "").strip().splitlines()[0]
        assert spec.summary == first, name


def test_importing_trackwell_loads_nothing_else_of_trackwell(tmp_path: Path) -> None:
    modules = loaded_after("import trackwell", tmp_path)
    assert [m for m in modules if m.split(".")[0] == "trackwell"] == ["trackwell"]


def test_a_client_without_destinations_loads_no_tool_server_or_database(tmp_path: Path) -> None:
    modules = loaded_after(
        f"""
        from trackwell import Client
        client = Client(plan={str(PLAN)!r}, store="sqlite:///events.db")
        client.track("user-1", "Account Created", {{"plan": "free", "signup_source": "organic"}})
        client.close()
        """,
        tmp_path,
    )
    assert [m for m in modules if m in TOOL_MODULES] == []
    assert "trackwell.destinations.registry" not in modules
    assert top_level(modules, SERVER_PACKAGES + DATABASE_PACKAGES) == []
    assert [m for m in modules if m.startswith(("trackwell.server", "trackwell.console"))] == []
    assert [m for m in modules if m.startswith("trackwell.store.postgres")] == []


def test_a_client_loads_only_the_destinations_it_was_given(tmp_path: Path) -> None:
    modules = loaded_after(
        f"""
        from trackwell import Client
        from trackwell.destinations import Webhook
        hook = Webhook("hook", url="https://hooks.example/in", capture=True)
        client = Client(plan={str(PLAN)!r}, store="sqlite:///events.db", destinations=[hook])
        client.close()
        """,
        tmp_path,
    )
    assert [m for m in modules if m in TOOL_MODULES] == ["trackwell.destinations.webhook"]


def test_the_registry_imports_only_the_kind_it_builds(tmp_path: Path) -> None:
    modules = loaded_after(
        """
        from trackwell.destinations.registry import KINDS, from_settings
        assert "mixpanel" in KINDS and "nothing" not in KINDS
        from_settings("hook", {"type": "webhook", "url": "https://hooks.example/in", "mode": "capture"}, {})
        """,
        tmp_path,
    )
    assert [m for m in modules if m in TOOL_MODULES] == ["trackwell.destinations.webhook"]


def test_a_postgresql_url_without_the_driver_names_the_extra(tmp_path: Path) -> None:
    # The driver hidden from the import system: what a base install without the extra sees.
    modules = loaded_after(
        """
        import sys
        from importlib.abc import MetaPathFinder

        class Hide(MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("psycopg", "psycopg_pool"):
                    raise ModuleNotFoundError(f"No module named {name!r}", name=name)
                return None

        sys.meta_path.insert(0, Hide())
        from trackwell.store import StoreError, open_store
        try:
            open_store("postgresql://user:secret@db.example/trackwell")
        except StoreError as exc:
            message = str(exc)
        assert "pip install 'trackwell[postgres]'" in message, message
        assert "secret" not in message, message
        """,
        tmp_path,
    )
    assert top_level(modules, DATABASE_PACKAGES) == []


@pytest.mark.parametrize(
    ("args", "what"),
    [
        (["serve", "--write-key", "tw_test_key"], "trackwell serve"),
        (["keys", "add", "backend"], "trackwell keys"),
        (["keys", "list"], "trackwell keys"),
    ],
)
def test_a_command_without_its_extra_says_which_to_install(
    args: list[str], what: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    real = cli_extras.find_spec
    monkeypatch.setattr(
        cli_extras, "find_spec", lambda name: None if name == "starlette" else real(name)
    )
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert f"{what} needs the server extra" in result.output
    assert "pip install 'trackwell[server]'" in result.output
    assert not (tmp_path / "trackwell.toml").exists()  # nothing done before the refusal
