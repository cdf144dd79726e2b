"""`trackwell store check`: a read-only, on-demand integrity check of a SQLite file (the large,
cleanly closed files `serve` does not check at start) and of a PostgreSQL store's readiness."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from tests.conftest import EXAMPLE_PLAN
from tests.postgres import fresh_schema_url, postgres_database
from trackwell import Client
from trackwell.cli import app
from trackwell.cli import store as store_cli
from trackwell.core.time import DAY_MS, now_ms
from trackwell.store import open_store
from trackwell.store.postgres.dialect import partition_name
from trackwell.store.sqlite import integrity

__all__ = ["postgres_database"]

runner = CliRunner()
MESSAGES = 3000


def written_store(path: Path) -> Path:
    """A real store of a few thousand messages, written through the SDK and closed cleanly."""
    client = Client(plan=EXAMPLE_PLAN, store=f"sqlite:///{path}")
    try:
        for n in range(MESSAGES):
            client.track(
                f"user-{n:05d}",
                "Account Created",
                {"plan": "free", "signup_source": "organic"},
            )
    finally:
        client.close()
    assert not Path(f"{path}-wal").exists(), "a clean close leaves no WAL"
    return path


@pytest.fixture(scope="module")
def good_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One written store for the tests that only read it."""
    return written_store(tmp_path_factory.mktemp("check") / "good.db")


def fingerprint(path: Path) -> tuple[str, int]:
    """The file's bytes (hashed) and its modification time in nanoseconds."""
    return hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns


def damage_middle_page(path: Path) -> int:
    """Overwrite one page in the middle of the file with garbage; the page's number."""
    with sqlite3.connect(path) as conn:
        page_size = int(conn.execute("PRAGMA page_size").fetchone()[0])
    conn.close()
    pages = path.stat().st_size // page_size
    assert pages > 50, "the store should span many pages"
    page = pages // 2
    with path.open("r+b") as handle:
        handle.seek((page - 1) * page_size)
        handle.write(b"\xa5" * page_size)
    return page


def test_a_sound_store_passes_with_its_size_and_time(good_store: Path) -> None:
    result = runner.invoke(app, ["store", "check", "--store", f"sqlite:///{good_store}"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"ok: {good_store} (quick_check, ")
    assert " KB, " in result.stdout or " MB, " in result.stdout
    assert result.stdout.rstrip().endswith(" s)")


def test_full_runs_integrity_check_and_json_says_what_ran(good_store: Path) -> None:
    url = f"sqlite:///{good_store}"
    result = runner.invoke(app, ["store", "check", "--store", url, "--full", "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["ok"] is True and document["problems"] == []
    assert document["kind"] == "sqlite" and document["target"] == str(good_store)
    assert document["checks"] == ["integrity_check"]  # trackwell's schema declares no foreign keys
    assert document["size_bytes"] == good_store.stat().st_size
    assert document["seconds"] >= 0


def test_the_check_changes_neither_the_bytes_nor_the_mtime(good_store: Path) -> None:
    before = fingerprint(good_store)
    for extra in ([], ["--full"]):
        result = runner.invoke(
            app, ["store", "check", "--store", f"sqlite:///{good_store}", *extra]
        )
        assert result.exit_code == 0, result.output
    assert fingerprint(good_store) == before
    # A WAL, if the read-only connection left one, is empty: nothing for the next open to replay.
    wal = Path(f"{good_store}-wal")
    assert not wal.exists() or wal.stat().st_size == 0
    assert not integrity.needs_check(str(good_store)) or good_store.stat().st_size <= (
        integrity.ALWAYS_CHECK_BYTES
    )


def test_a_store_open_for_writes_is_checked_and_keeps_writing(tmp_path: Path) -> None:
    # What cron sees: a gateway holds the store open and writes before and after the check.
    url = f"sqlite:///{tmp_path / 'live.db'}"
    client = Client(plan=EXAMPLE_PLAN, store=url)
    try:
        client.track("user-1", "Account Created", {"plan": "free", "signup_source": "organic"})
        client.flush()
        result = runner.invoke(app, ["store", "check", "--store", url])
        assert result.exit_code == 0, result.output
        client.track("user-2", "Account Created", {"plan": "free", "signup_source": "organic"})
        client.flush()
    finally:
        client.close()
    with sqlite3.connect(tmp_path / "live.db") as conn:
        assert conn.execute("SELECT count(*) FROM log").fetchone()[0] == 2
    conn.close()


def test_a_store_left_by_a_killed_process_is_checked_with_its_wal_untouched(
    tmp_path: Path,
) -> None:
    db = tmp_path / "killed.db"
    code = (
        "import os\n"
        "from trackwell import Client\n"
        f"c = Client(plan={str(EXAMPLE_PLAN)!r}, store={f'sqlite:///{db}'!r})\n"
        "for n in range(500):\n"
        "    c.track(f'user-{n}', 'Account Created', {'plan': 'free', 'signup_source': 'organic'})\n"
        "c.flush()\n"
        "os._exit(0)\n"  # no close: the messages are in the WAL, not yet in the file
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    wal = Path(f"{db}-wal")
    assert wal.stat().st_size > 0
    before = fingerprint(db), fingerprint(wal)
    result = runner.invoke(app, ["store", "check", "--store", f"sqlite:///{db}"])
    assert result.exit_code == 0, result.output
    assert (fingerprint(db), fingerprint(wal)) == before, "the WAL is read, never checkpointed"


def test_a_store_damaged_in_the_middle_fails_naming_the_file(tmp_path: Path) -> None:
    db = written_store(tmp_path / "damaged.db")
    damage_middle_page(db)
    before = fingerprint(db)
    result = runner.invoke(app, ["store", "check", "--store", f"sqlite:///{db}"])
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"{db}: ") and "problem(s) found (quick_check" in lines[0]
    listed = [line for line in lines if line.startswith("  ")]
    assert 1 <= len(listed) <= integrity.PROBLEMS_LISTED
    assert any(line.startswith("  Page ") for line in listed), "SQLite names the damaged page"
    assert "damaged" in result.stdout and "restore" in result.stdout and ".recover" in result.stdout
    # SQLite's own messages only: no stored value (every user id starts `user-`) is printed.
    assert "user-" not in result.stdout
    assert fingerprint(db) == before, "a damaged file is left as it was, for recovery"


def test_a_damaged_store_fails_the_full_check_as_json(tmp_path: Path) -> None:
    db = written_store(tmp_path / "damaged.db")
    damage_middle_page(db)
    result = runner.invoke(
        app, ["store", "check", "--store", f"sqlite:///{db}", "--full", "--json"]
    )
    assert result.exit_code == 1, result.output
    document = json.loads(result.stdout)
    assert document["ok"] is False and document["target"] == str(db)
    assert 1 <= len(document["problems"]) <= integrity.PROBLEMS_LISTED


def test_a_file_garbled_past_its_first_page_fails(tmp_path: Path) -> None:
    # So damaged that not even the schema can be read: still exit 1, naming the file.
    db = written_store(tmp_path / "garbled.db")
    size = db.stat().st_size
    with db.open("r+b") as handle:
        handle.seek(4096)
        handle.write(b"\xa5" * (size - 4096))
    result = runner.invoke(app, ["store", "check", "--store", f"sqlite:///{db}"])
    assert result.exit_code == 1, result.output
    assert result.stdout.startswith(f"{db}: ") and "malformed" in result.stdout


def test_a_missing_file_exits_2_and_creates_nothing(tmp_path: Path) -> None:
    db = tmp_path / "data" / "missing.db"
    (tmp_path / "data").mkdir()
    result = runner.invoke(app, ["store", "check", "--store", f"sqlite:///{db}"])
    assert result.exit_code == 2
    assert f"{db}: no such store file" in result.stderr
    assert list((tmp_path / "data").iterdir()) == []


def test_an_unsound_foreign_key_is_listed_by_table_and_rowid(tmp_path: Path) -> None:
    # trackwell's own schema declares none; a file whose schema does gets foreign_key_check too.
    db = tmp_path / "keys.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
        conn.execute("CREATE TABLE child (id INTEGER PRIMARY KEY, parent REFERENCES parent(id))")
        conn.execute("INSERT INTO child VALUES (7, 42)")  # foreign keys are off by default
    conn.close()
    found = integrity.check_file(str(db))
    assert found.checks == ("quick_check", "foreign_key_check")
    assert found.problems == ("child rowid 7: no parent row in parent",)


def test_a_long_check_says_so_on_stderr_first(
    good_store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(integrity, "QUICK_CHECK_BYTES_PER_S", 1024)  # as if the file were huge
    result = runner.invoke(app, ["store", "check", "--store", f"sqlite:///{good_store}"])
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith(f"Checking {good_store} (")
    assert "with quick_check: about " in result.stderr
    monkeypatch.setattr(store_cli, "ANNOUNCE_AFTER_S", float("inf"))
    quiet = runner.invoke(app, ["store", "check", "--store", f"sqlite:///{good_store}"])
    assert quiet.stderr == ""


def test_a_healthy_postgresql_store_passes(postgres_database: str) -> None:
    url = fresh_schema_url(postgres_database)
    open_store(url).close()
    result = runner.invoke(app, ["store", "check", "--store", url, "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["ok"] is True and document["kind"] == "postgresql"
    assert document["checks"] == ["connection", "migrations", "day_tables"]


def test_a_postgresql_store_without_tomorrows_partition_fails_naming_it(
    postgres_database: str,
) -> None:
    url = fresh_schema_url(postgres_database)
    open_store(url).close()
    schema = url.rsplit("schema=", 1)[1]
    tomorrow = partition_name(now_ms() // DAY_MS + 1)
    with psycopg.connect(postgres_database, autocommit=True) as conn:
        conn.execute(f'DROP TABLE "{schema}"."{tomorrow}"')
    result = runner.invoke(app, ["store", "check", "--store", url])
    assert result.exit_code == 1, result.output
    assert f"table {tomorrow} is missing" in result.stdout


def test_a_database_without_a_store_fails_saying_so(postgres_database: str) -> None:
    url = fresh_schema_url(postgres_database)  # a schema nothing was ever stored in
    result = runner.invoke(app, ["store", "check", "--store", url])
    assert result.exit_code == 1, result.output
    assert "no trackwell store here" in result.stdout


def test_an_unreachable_postgresql_fails_without_the_password() -> None:
    # Port 9 (discard) has no PostgreSQL: the connection is refused at once.
    url = "postgresql://checker:s3cret@127.0.0.1:9/trackwell?connect_timeout=2"
    result = runner.invoke(app, ["store", "check", "--store", url])
    assert result.exit_code == 1, result.output
    assert "cannot connect or read" in result.stdout
    assert "s3cret" not in result.output
