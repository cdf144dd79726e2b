"""`keys add/rotate/revoke` edit trackwell.toml as a person would: only the lines that change do.

Comments, blank lines, key order, other tables and the layout of arrays stay byte for byte.
"""

from __future__ import annotations

import difflib
import tomllib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from trackwell.server.auth import hash_key
from trackwell.server.keyfile import KeyFileError, add_key_hash, revoke_key, rotate_keys

H1, H2, H3, H4 = (hash_key(f"tw_test_key_number_{n}") for n in range(1, 5))
UNTIL = datetime(2027, 1, 31, 12, 0, tzinfo=UTC)

CONFIG = f"""\
# trackwell configuration for the shop
plan = "tracking-plan.yaml"   # relative to this file

[store]
url = "sqlite:///.trackwell/trackwell.db"  # the embedded store

# Sources: one per sending app.
[sources.backend]
# the Django app
key_hashes = [
    "{H1}",  # added in January
    "{H2}",
]
types = ["track", "identify"]    # keep these two

# Destinations below are managed by hand.
[destinations.cio]
kind = "customerio"
site_id = "abc"  # from the Customer.io settings page
"""


def changes(before: str, after: str) -> tuple[list[str], list[str]]:
    """The lines removed and the lines added, in order."""
    diff = list(difflib.ndiff(before.splitlines(), after.splitlines()))
    return (
        [line[2:] for line in diff if line.startswith("- ")],
        [line[2:] for line in diff if line.startswith("+ ")],
    )


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "trackwell.toml"
    path.write_text(CONFIG)
    return path


def test_add_to_a_source_changes_only_its_key_list(config: Path) -> None:
    add_key_hash(config, "backend", H3, browser=False)
    after = config.read_text()
    assert changes(CONFIG, after) == ([], [f'    "{H3}",'])
    assert after.index(f'"{H3}"') < after.index("types = ")  # inside the list, in place


def test_a_new_source_is_appended_and_nothing_else_moves(config: Path) -> None:
    add_key_hash(config, "web", H3, browser=False, origins=["https://shop.example"])
    after = config.read_text()
    assert after.startswith(CONFIG)
    assert tomllib.loads(after)["sources"]["web"] == {
        "key_hashes": [H3],
        "allowed_origins": ["https://shop.example"],
        "anonymous_only": False,
    }


def test_rotate_with_an_overlap_adds_two_lines_where_they_belong(config: Path) -> None:
    assert rotate_keys(config, "backend", H3, UNTIL) == 2
    after = config.read_text()
    removed, added = changes(CONFIG, after)
    assert removed == []
    assert added[0] == f'    "{H3}",'
    assert added[1].startswith("key_expires = {") and len(added) == 2
    # The new setting sits in the source's table, above the comment about destinations.
    assert after.index("key_expires") < after.index("# Destinations below")
    table = tomllib.loads(after)["sources"]["backend"]
    assert table["key_expires"] == {H1: UNTIL, H2: UNTIL}
    assert table["types"] == ["track", "identify"]

    # An earlier expiry is kept; a later rotation adds the new key's.
    rotate_keys(config, "backend", H4, datetime(2027, 6, 1, tzinfo=UTC))
    table = tomllib.loads(config.read_text())["sources"]["backend"]
    assert table["key_expires"] == {H1: UNTIL, H2: UNTIL, H3: datetime(2027, 6, 1, tzinfo=UTC)}
    assert table["key_hashes"] == [H1, H2, H3, H4]


def test_revoke_removes_its_line_and_its_expiry(config: Path) -> None:
    rotate_keys(config, "backend", H3, UNTIL)
    rotated = config.read_text()
    assert revoke_key(config, "backend", H2) == H2
    after = config.read_text()
    removed, added = changes(rotated, after)
    assert removed[0] == f'    "{H2}",'
    assert [line.split(" = ")[0] for line in (removed[1], added[0])] == ["key_expires"] * 2
    assert len(removed) == 2 and len(added) == 1
    assert tomllib.loads(after)["sources"]["backend"]["key_expires"] == {H1: UNTIL}

    revoke_key(config, "backend", H1)
    table = tomllib.loads(config.read_text())["sources"]["backend"]
    assert table["key_hashes"] == [H3] and "key_expires" not in table  # none left: gone
    assert config.read_text().endswith(CONFIG[CONFIG.index("\n# Destinations") :])


def test_rotate_at_once_keeps_the_rest_of_the_file(config: Path) -> None:
    rotate_keys(config, "backend", H3, None)
    after = config.read_text()
    removed, added = changes(CONFIG, after)
    assert f'    "{H1}",  # added in January' in removed and f'    "{H2}",' in removed
    assert all("key_hashes" not in line or line == "key_hashes = [" for line in removed + added)
    assert tomllib.loads(after)["sources"]["backend"]["key_hashes"] == [H3]
    for line in CONFIG.splitlines():
        if H1 not in line and H2 not in line:
            assert line in after.splitlines(), f"lost: {line!r}"


def test_sources_written_as_an_inline_table_are_edited_in_place(tmp_path: Path) -> None:
    path = tmp_path / "trackwell.toml"
    path.write_text(f'# inline\nsources = {{ backend = {{ key_hashes = ["{H1}"] }} }}\n')
    add_key_hash(path, "web", H2, browser=True)
    add_key_hash(path, "backend", H3, browser=False)
    data = tomllib.loads(path.read_text())
    assert data["sources"]["backend"]["key_hashes"] == [H1, H3]
    assert data["sources"]["web"]["anonymous_only"] is True
    assert path.read_text().startswith("# inline\n")


def test_invalid_toml_is_refused_and_left_alone(config: Path) -> None:
    config.write_text(CONFIG + "[store\n")
    with pytest.raises(KeyFileError, match="invalid TOML"):
        add_key_hash(config, "backend", H3, browser=False)
    assert config.read_text() == CONFIG + "[store\n"
