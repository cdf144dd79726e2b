"""`trackwell keys add|list`: a key printed once, only its hash in trackwell.toml, the rest kept."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from trackwell.cli import app
from trackwell.config import ConfigError, load_settings
from trackwell.server.auth import KeyRing, hash_key

runner = CliRunner()


def _keys(config: Path, *args: str) -> str:
    result = runner.invoke(app, ["--config", str(config), "keys", *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_add_prints_a_key_once_and_stores_only_its_hash(tmp_path: Path) -> None:
    config = tmp_path / "trackwell.toml"
    config.write_text(
        '# our settings\nplan = "plan.yaml"  # the plan\n\n[destinations.cio]\ntype = "customerio"\n'
    )
    key = _keys(config, "add", "backend").strip().splitlines()[-1]
    assert key.startswith("tw_")
    text = config.read_text()
    assert key not in text and hash_key(key) in text
    assert text.startswith('# our settings\nplan = "plan.yaml"  # the plan\n')  # untouched
    second = _keys(config, "add", "backend").strip().splitlines()[-1]
    settings = load_settings(config=config)
    assert settings.sources["backend"]["key_hashes"] == [hash_key(key), hash_key(second)]
    assert "# the plan" in config.read_text()
    ring = KeyRing.from_config(settings.sources)
    assert (
        ring.find(key) is not None and ring.find(second) is not None and ring.find("tw_x") is None
    )


def test_a_browser_key_is_limited_to_anonymous_pages_and_events(tmp_path: Path) -> None:
    config = tmp_path / "trackwell.toml"
    _keys(config, "add", "web", "--browser")
    table = tomllib.loads(config.read_text())["sources"]["web"]
    assert table["types"] == ["page", "track"] and table["anonymous_only"] is True
    listed = _keys(config, "list", "--json")
    assert '"may_send": "page, track (anonymous only)"' in listed


def test_a_bad_source_name_or_table_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "trackwell.toml"
    result = runner.invoke(app, ["--config", str(config), "keys", "add", "bad name"])
    assert result.exit_code == 2 and "source name" in result.output
    config.write_text('[sources.web]\nkey_hashes = ["plain-text-key"]\n')
    with pytest.raises(ConfigError, match="sha256"):
        load_settings(config=config)
    config.write_text('[sources.web]\ntypes = ["click"]\n')
    with pytest.raises(ConfigError, match="message types"):
        load_settings(config=config)


def test_a_key_for_analytics_js_lists_its_origins_and_says_it_may_identify(
    tmp_path: Path,
) -> None:
    config = tmp_path / "trackwell.toml"
    config.write_text("# the shop\n")
    key = _keys(config, "add", "site", "--origin", "https://Shop.example", "--origin", "*")
    table = tomllib.loads(config.read_text())["sources"]["site"]
    assert table["allowed_origins"] == ["https://shop.example", "*"]
    assert table["anonymous_only"] is False  # explicit: analytics.js sends userId after identify
    assert load_settings(config=config).sources["site"] == table  # the file still loads
    second = _keys(config, "add", "site", "--origin", "https://shop.example")
    table = tomllib.loads(config.read_text())["sources"]["site"]
    assert (
        table["allowed_origins"] == ["https://shop.example", "*"] and len(table["key_hashes"]) == 2
    )
    ring = KeyRing.from_config(load_settings(config=config).sources)
    assert ring.find(key.strip()) is ring.find(second.strip()) is not None
    listed = json.loads(_keys(config, "list", "--json"))["sources"]
    assert listed[0]["allowed_origins"] == ["*", "https://shop.example"]
    _keys(config, "add", "blog", "--browser", "--origin", "https://blog.example")
    blog = tomllib.loads(config.read_text())["sources"]["blog"]
    assert blog["anonymous_only"] is True and blog["allowed_origins"] == ["https://blog.example"]
    refused = runner.invoke(
        app, ["--config", str(config), "keys", "add", "x", "--origin", "https://a.example/"]
    )
    assert refused.exit_code != 0 and "trailing slash" in refused.output


def test_origins_are_never_added_to_a_source_with_server_keys(tmp_path: Path) -> None:
    # Origins belong to the source, so listing them would publish its existing backend keys.
    config = tmp_path / "trackwell.toml"
    config.write_text("")
    _keys(config, "add", "backend")
    before = config.read_text()
    for flag in (["--origin", "https://shop.example"], ["--browser"]):
        refused = runner.invoke(app, ["--config", str(config), "keys", "add", "backend", *flag])
        assert refused.exit_code != 0 and "server keys" in refused.output
    assert config.read_text() == before


@pytest.mark.parametrize(
    "flags", [[], ["--browser"], ["--origin", "https://shop.example"]], ids=str
)
def test_a_new_key_is_printed_once_on_standard_output_only(
    tmp_path: Path, flags: list[str]
) -> None:
    # A real process: stderr is what terminals, CI logs and supervisors keep, so a key there is
    # a key leaked; stdout alone is what `KEY=$(trackwell keys add ...)` captures.
    config = tmp_path / "trackwell.toml"
    config.write_text("")
    done = subprocess.run(
        [sys.executable, "-m", "trackwell", "--config", str(config), "keys", "add", "src", *flags],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    key = done.stdout.strip()
    assert key.startswith("tw_") and done.stdout == key + "\n"
    assert key not in done.stderr and key[3:13] not in done.stderr
    assert "standard output" in done.stderr  # the instructions say where it went
    assert hash_key(key) in config.read_text()
