"""Docs are tested: every CLI command and its every option, every config key, every setting of
every destination kind and every violation code appear in README.md."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import typer.main

from trackwell.cli import app
from trackwell.core.violations import CODES
from trackwell.destinations.common import env_var
from trackwell.destinations.registry import COMMON_KEYS, KIND_SETTINGS
from trackwell.io.config import KNOWN_KEYS, RETENTION_KEYS, SOURCE_KEYS

from .cli.commands import leaves, option_names
from .conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def command_paths(group: Any, prefix: str = "trackwell") -> Iterator[str]:
    for name, command in group.commands.items():
        path = f"{prefix} {name}"
        if hasattr(command, "commands"):  # a group (Typer's click may be vendored)
            yield from command_paths(command, path)
        else:
            yield path


def mentions(text: str, word: str) -> bool:
    """Whether `word` (a command or an option) is in `text`, not as the start of a longer one."""
    return re.search(re.escape(word) + r"(?![\w-])", text) is not None


def section(heading: str) -> str:
    """README's text from a heading line to the next heading of the same or a higher level
    (lines in code blocks, such as `# comments` of a shell example, are not headings)."""
    level = len(heading.split(" ", 1)[0])
    taken: list[str] = []
    fenced = False
    for line in README.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        hashes = len(line) - len(line.lstrip("#"))
        is_heading = not fenced and 0 < hashes <= 6 and line[hashes : hashes + 1] == " "
        if taken and is_heading and hashes <= level:
            break
        if taken or line == heading:
            taken.append(line)
    assert taken, f"no {heading!r} in README.md"
    return "\n".join(taken)


def test_every_command_is_documented_in_readme() -> None:
    root = typer.main.get_command(app)
    paths = list(command_paths(root))
    assert "trackwell plan lint" in paths
    missing = [p for p in paths if f"`{p}" not in README]
    assert missing == []


def test_every_option_of_every_command_is_documented_beside_it() -> None:
    # An option counts where a README line names its command and the option together (a
    # command table's row, a usage line), so one command's options cannot hide another's.
    lines = README.splitlines()
    missing = []
    for path, command in leaves():
        name = "trackwell " + " ".join(path)
        text = "\n".join(line for line in lines if mentions(line, name))
        missing += [f"{name} {o}" for o in option_names(command) if not mentions(text, o)]
    assert missing == []


def test_the_root_options_are_documented() -> None:
    root = typer.main.get_command(app)
    missing = [o for o in option_names(root) if not mentions(README, f"trackwell {o}")]
    assert missing == []


def test_every_config_key_is_documented() -> None:
    missing = [key for key in KNOWN_KEYS if f"| `{key}` |" not in README]
    missing += [f"sources.NAME.{key}" for key in SOURCE_KEYS]
    missing += [f"retention.{key}" for key in RETENTION_KEYS]
    missing = [key for key in missing if f"| `{key}` |" not in README]
    assert missing == []
    assert all(variable in README for variable in RETENTION_KEYS.values())


def test_every_destination_setting_is_documented_in_delivery() -> None:
    delivery = section("## Delivery")
    common = section("#### Every destination")
    assert common in delivery
    missing = [f"common {key}" for key in COMMON_KEYS if f"| `{key}` |" not in common]
    for kind, settings in KIND_SETTINGS.items():
        table = section(f"#### `{kind}`")
        assert table in delivery, kind
        missing += [f"{kind} {k}" for k in settings.options if f"| `{k}` |" not in table]
        rows = {line.split("|")[1].strip(): line for line in table.splitlines() if "|" in line}
        for key in (*settings.secrets, *settings.from_env):
            variable = env_var("NAME", key).replace("_NAME_", "_<NAME>_")
            if variable not in rows.get(f"`{key}`", ""):
                missing.append(f"{kind} {key} ({variable})")
    assert missing == []


def test_every_violation_code_is_documented() -> None:
    codes = section("### Violation codes")
    missing = [code for code in CODES if f"| `{code}` |" not in codes]
    assert missing == []


def test_readme_starts_with_the_two_setup_commands() -> None:
    first_block = README.split("```sh", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in first_block.strip().splitlines()]
    assert commands == ["make run", "make test"]
