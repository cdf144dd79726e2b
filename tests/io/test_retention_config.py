"""`[retention]` in trackwell.toml and its `TRACKWELL_RETENTION_*` overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from trackwell.io.config import ConfigError, RetentionSettings, load_settings


def settings_from(
    tmp_path: Path, toml: str, environ: dict[str, str] | None = None
) -> RetentionSettings:
    path = tmp_path / "trackwell.toml"
    path.write_text(toml, encoding="utf-8")
    return load_settings(config=path, environ=environ or {}).retention


def test_nothing_configured_keeps_everything(tmp_path: Path) -> None:
    retention = settings_from(tmp_path, 'plan = "p.yaml"\n')
    assert retention == RetentionSettings()
    assert not retention.enabled


def test_the_table_gives_the_days(tmp_path: Path) -> None:
    retention = settings_from(tmp_path, "[retention]\nlog_days = 90\nblocked_days = 30\n")
    assert retention.enabled
    assert (retention.log_days, retention.blocked_days) == (90, 30)
    assert retention.log_days_origin == f"{tmp_path / 'trackwell.toml'}: retention.log_days"


def test_the_environment_overrides_each_key(tmp_path: Path) -> None:
    retention = settings_from(
        tmp_path,
        "[retention]\nlog_days = 90\nblocked_days = 30\n",
        {"TRACKWELL_RETENTION_LOG_DAYS": "400"},
    )
    assert (retention.log_days, retention.blocked_days) == (400, 30)
    assert retention.log_days_origin == "TRACKWELL_RETENTION_LOG_DAYS"
    only_env = settings_from(
        tmp_path, 'plan = "p.yaml"\n', {"TRACKWELL_RETENTION_BLOCKED_DAYS": " 14 "}
    )
    assert only_env == RetentionSettings(blocked_days=14)


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        ("[retention]\nlog_days = 0\n", r"retention\.log_days must be a whole number of days, 1"),
        ("[retention]\nblocked_days = -3\n", r"retention\.blocked_days must be a whole number"),
        ('[retention]\nlog_days = "90"\n', r"retention\.log_days .*\(got '90'\)"),
        ("[retention]\nlog_days = 7.5\n", r"retention\.log_days .*\(got 7\.5\)"),
        ("[retention]\nlog_days = true\n", r"retention\.log_days .*\(got True\)"),
        ("[retention]\nlog_day = 90\n", r"retention\.log_day: unknown key \(expected one of"),
        ("retention = 90\n", r"retention must be a table: \[retention\]"),
    ],
)
def test_a_bad_value_names_the_file_and_the_key(tmp_path: Path, toml: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected) as raised:
        settings_from(tmp_path, toml)
    assert str(raised.value).startswith(str(tmp_path / "trackwell.toml"))


@pytest.mark.parametrize("value", ["0", "-1", "ninety", "7d", "1.5", "٣"])
def test_a_bad_variable_is_named(tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigError, match=r"^TRACKWELL_RETENTION_LOG_DAYS: must be a whole"):
        settings_from(tmp_path, 'plan = "p.yaml"\n', {"TRACKWELL_RETENTION_LOG_DAYS": value})
