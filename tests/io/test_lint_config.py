"""`[lint.severity]` in trackwell.toml: validated, with errors naming the file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from trackwell.io.config import ConfigError, load_settings


def levels(tmp_path: Path, text: str) -> dict[str, str]:
    path = tmp_path / "trackwell.toml"
    path.write_text(text, encoding="utf-8")
    return load_settings(config=path, environ={}).lint_levels


def test_no_lint_table_changes_nothing(tmp_path: Path) -> None:
    assert levels(tmp_path, 'plan = "p.yaml"\n') == {}


def test_levels_are_read(tmp_path: Path) -> None:
    text = '[lint.severity]\nnear_duplicate = "warning"\nevent_tense = "off"\n'
    assert levels(tmp_path, text) == {"near_duplicate": "warning", "event_tense": "off"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[lint.severity]\nnear_dupe = "warning"\n', "lint.severity.near_dupe: unknown lint code"),
        (
            '[lint.severity]\nnear_duplicate = "fatal"\n',
            "lint.severity.near_duplicate: 'fatal' is not a level (expected one of error, "
            "warning, off)",
        ),
        ("[lint]\nlevels = {}\n", "lint.levels: unknown key (expected severity)"),
        ('[lint]\nseverity = "strict"\n', "lint.severity must be a table"),
    ],
)
def test_bad_levels_name_the_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        levels(tmp_path, text)
    assert str(tmp_path / "trackwell.toml") in str(caught.value)
    assert message in str(caught.value)
