"""`trackwell keys add|list`: a key printed once, only its hash in trackwell.toml, the rest kept."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from trackwell.cli import app
from trackwell.io.config import ConfigError, load_settings
from trackwell.server.auth import KeyRing, hash_key

from ..conftest import ROOT

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
    assert '"may_send": "page, track (anonymous only), at most 100 events/s"' in listed


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


def test_a_source_holds_one_kind_of_key(tmp_path: Path) -> None:
    # A server key added to a browser source would be as limited as a browser key while its
    # owner believes it is a server key; a browser key added to an analytics.js source would turn
    # that source's keys anonymous-only. Each is refused and the file is left alone.
    config = tmp_path / "trackwell.toml"
    _keys(config, "add", "web", "--browser")
    _keys(config, "add", "site", "--origin", "https://shop.example")
    before = config.read_text()
    for source, flags in (("web", []), ("web", ["--origin", "https://a.example"]), ("site", [])):
        refused = runner.invoke(app, ["--config", str(config), "keys", "add", source, *flags])
        assert refused.exit_code != 0 and "nothing was changed" in refused.output
    refused = runner.invoke(app, ["--config", str(config), "keys", "add", "site", "--browser"])
    assert refused.exit_code != 0 and "holds web keys" in refused.output
    assert config.read_text() == before
    again = runner.invoke(app, ["--config", str(config), "keys", "add", "web", "--browser"])
    assert again.exit_code == 0 and "Browser key" in again.stderr
    assert "Segment clients" not in again.stderr


def test_revoke_removes_one_key_by_prefix_hash_or_key(tmp_path: Path) -> None:
    config = tmp_path / "trackwell.toml"
    keys = [_keys(config, "add", "backend").strip() for _ in range(3)]
    hashes = [hash_key(k) for k in keys]
    _keys(config, "revoke", "backend", hashes[0][: len("sha256:") + 12])
    _keys(config, "revoke", "backend", hashes[1])
    assert load_settings(config=config).sources["backend"]["key_hashes"] == [hashes[2]]
    for reference in ("sha256:ab", "tw_not_a_key", "zzzzzzzzzz"):
        refused = runner.invoke(
            app, ["--config", str(config), "keys", "revoke", "backend", reference]
        )
        assert refused.exit_code != 0 and "error:" in refused.output
    missing = runner.invoke(app, ["--config", str(config), "keys", "revoke", "nope", keys[2]])
    assert missing.exit_code != 0 and "no source 'nope'" in missing.output
    _keys(config, "revoke", "backend", keys[2])
    ring = KeyRing.from_config(load_settings(config=config).sources)
    assert all(ring.find(k) is None for k in keys)


def test_rotate_prints_a_new_key_and_the_old_one_works_until_the_overlap_ends(
    tmp_path: Path,
) -> None:
    config = tmp_path / "trackwell.toml"
    old = _keys(config, "add", "web", "--browser").strip()
    result = runner.invoke(
        app, ["--config", str(config), "keys", "rotate", "web", "--overlap", "2h"]
    )
    assert result.exit_code == 0, result.output
    new = result.stdout.strip()
    assert new.startswith("tw_") and new != old and "Browser key" in result.stderr
    sources = load_settings(config=config).sources
    expiry = sources["web"]["key_expires"][hash_key(old)]
    assert timedelta(hours=1, minutes=59) < expiry - datetime.now(UTC) <= timedelta(hours=2)
    ring = KeyRing.from_config(sources)
    assert ring.find(old) is ring.find(new) is ring.sources["web"]
    [listed] = json.loads(_keys(config, "list", "--json"))["sources"]
    assert listed["expires"] == {hash_key(old)[:19]: expiry.isoformat()}
    assert "(until " in _keys(config, "list")
    assert ring.find(old, now=expiry + timedelta(seconds=1)) is None
    assert ring.find(new, now=expiry + timedelta(days=1)) is ring.sources["web"]
    # without --overlap the old keys stop at once
    newest = _keys(config, "rotate", "web").strip()
    ring = KeyRing.from_config(load_settings(config=config).sources)
    assert ring.find(old) is None and ring.find(new) is None and ring.find(newest) is not None
    bad = runner.invoke(app, ["--config", str(config), "keys", "rotate", "web", "--overlap", "2x"])
    assert bad.exit_code != 0 and "not a duration" in bad.output


def test_rotate_and_revoke_as_a_process_print_no_traceback(tmp_path: Path) -> None:
    config = tmp_path / "trackwell.toml"
    environment = {**os.environ, "PYTHONPATH": str(ROOT / "src")}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "trackwell", "--config", str(config), "keys", *args]
        return subprocess.run(command, capture_output=True, text=True, env=environment, timeout=60)

    added = run("add", "backend")
    assert added.returncode == 0, added.stderr
    rotated = run("rotate", "backend", "--overlap", "10m")
    assert rotated.returncode == 0 and rotated.stdout.strip().startswith("tw_"), rotated.stderr
    for failed in (
        run("rotate", "nope"),
        run("revoke", "backend", "sha256:00"),
        run("rotate", "backend", "--overlap", "soon"),
    ):
        assert failed.returncode != 0 and "error:" in failed.stderr
        assert "Traceback" not in failed.stderr + failed.stdout
    revoked = run("revoke", "backend", added.stdout.strip())
    assert revoked.returncode == 0, revoked.stderr
    table = tomllib.loads(config.read_text())["sources"]["backend"]
    assert table["key_hashes"] == [hash_key(rotated.stdout.strip())]
    assert "key_expires" not in table


def test_key_expires_is_a_checked_setting(tmp_path: Path) -> None:
    config = tmp_path / "trackwell.toml"
    known, other = hash_key("tw_a"), hash_key("tw_b")
    for table, words in (
        (f'key_expires = {{"{other}" = 2026-12-08T18:00:00Z}}', "not one of key_hashes"),
        (f'key_expires = {{"{known}" = 2026-12-08T18:00:00}}', "with its offset"),
        ('key_expires = "tomorrow"', "must be a table"),
    ):
        config.write_text(f'[sources.web]\nkey_hashes = ["{known}"]\n{table}\n')
        with pytest.raises(ConfigError, match=words):
            load_settings(config=config)
    config.write_text(
        f'[sources.web]\nkey_hashes = ["{known}"]\n'
        f'key_expires = {{"{known}" = 2026-12-08T18:00:00+01:00}}\n'
    )
    assert load_settings(config=config).sources["web"]["key_expires"][known].utcoffset()
