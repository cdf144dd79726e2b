"""Erasing one person from a big store: 5 million messages of many people on SQLite (and, with
`--postgres URL`, on PostgreSQL), then `resolve` + `erase` of several people, timed.

Run by hand: `python bench/bench_erase.py [--messages 5000000] [--people 100000] [--erase 5]
[--postgres postgresql://postgres@127.0.0.1:5432/postgres]`. The SQLite store is built once and
kept under /tmp (`--cache`; each run erases people not erased before); the PostgreSQL one is
built in a schema of its own (`--schema`, kept for the next run). Rows are inserted with SQL in
bulk (the log, a profile with an email and an anonymous id per person, a blocked message and a
dead letter for some), each person's messages spread across the whole log, as in a store that
took traffic for months. Prints one row per erase and the median.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from trackwell.core.time import DAY_MS  # noqa: E402
from trackwell.store import Store, open_store  # noqa: E402

DESTINATION = "hook"
CHUNK = 50_000
DAYS = 30  # received over this many days (PostgreSQL: as many partitions)


def user(index: int) -> str:
    return f"user-{index:07d}"


def visitor(index: int) -> str:
    return f"anon-{index:07d}"


def email(index: int) -> str:
    return f"person{index:07d}@example.com"


def log_rows(messages: int, people: int, start_ms: int) -> Iterator[list[tuple[Any, ...]]]:
    """Log rows in chunks: message n belongs to person n % people (so each person's messages
    are spread over the whole log), every tenth one anonymous, received over DAYS days."""
    span = DAYS * DAY_MS
    rows: list[tuple[Any, ...]] = []
    for seq in range(1, messages + 1):
        person = seq % people
        anonymous = seq % 10 == 0
        received = start_ms + span * seq // (messages + 1)
        body = {
            "type": "track",
            "messageId": f"m-{seq:09d}",
            "event": "Feature Used",
            "properties": {"feature_name": "projects", "n": seq},
            "timestamp": received,
        }
        if anonymous:
            body["anonymousId"] = visitor(person)
        else:
            body["userId"] = user(person)
        rows.append(
            (
                seq,
                f"m-{seq:09d}",
                "track",
                "Feature Used",
                None if anonymous else user(person),
                visitor(person) if anonymous else None,
                received,
                received,
                "accepted",
                None,
                orjson.dumps(body),
            )
        )
        if len(rows) == CHUNK:
            yield rows
            rows = []
    if rows:
        yield rows


def person_rows(people: int, now: int) -> dict[str, list[tuple[Any, ...]]]:
    """Profiles, email index, identity links, and a blocked message and a dead letter for one
    person in fifty."""
    return {
        "profiles": [
            (user(i), orjson.dumps({"email": email(i)}).decode(), "{}", now, now)
            for i in range(people)
        ],
        "profile_emails": [(user(i), email(i)) for i in range(people)],
        "identities": [(visitor(i), user(i), now) for i in range(people)],
        "blocked": [
            (f"b-{i}", "track", "Feature Usedd", user(i), None, now, now, "[]", b"{}")
            for i in range(0, people, 50)
        ],
        "deliveries": [
            (DESTINATION, i + people, "dead", 1, None, user(i), "400", now)
            for i in range(0, people, 50)
        ],
    }


INSERTS = {
    "profiles": "INSERT INTO profiles VALUES (?,?,?,?,?)",
    "profile_emails": "INSERT INTO profile_emails VALUES (?,?)",
    "identities": "INSERT INTO identities VALUES (?,?,?)",
    "blocked": "INSERT INTO blocked (message_id, type, name, user_id, anonymous_id, timestamp_ms,"
    " received_ms, violations, body) VALUES (?,?,?,?,?,?,?,?,?)",
    "deliveries": "INSERT INTO deliveries (destination, seq, status, attempts, next_ms, person,"
    " last_error, updated_ms) VALUES (?,?,?,?,?,?,?,?)",
}


def build_sqlite(path: Path, messages: int, people: int) -> None:
    """Create the store (schema), then fill it with plain sqlite3 in bulk."""
    import sqlite3

    now = int(time.time() * 1000)
    store = open_store(f"sqlite:///{path}")
    store.register_destination(DESTINATION)
    store.close()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("PRAGMA cache_size = -1000000")
    conn.execute("BEGIN")
    for rows in log_rows(messages, people, now - DAYS * DAY_MS):
        conn.executemany("INSERT INTO log VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows)
    for table, rows in person_rows(people, now).items():
        conn.executemany(INSERTS[table], rows)
    conn.execute("UPDATE destinations SET cursor = ?, start_seq = 0", (messages,))
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def build_postgres(url: str, messages: int, people: int) -> None:
    """Create the store (schema, partitions), then COPY the rows in."""
    from trackwell.store.postgres import PostgresStore

    now = int(time.time() * 1000)
    store = PostgresStore(url)
    store.register_destination(DESTINATION)
    store.ensure_partitions(now - DAYS * DAY_MS - DAY_MS, days_ahead=DAYS + 2)
    with store._pg.unbounded() as conn:  # a bench fills the tables directly
        raw = conn.raw
        columns = "seq, message_id, type, name, user_id, anonymous_id, timestamp_ms, received_ms, verdict, violations, body"
        for rows in log_rows(messages, people, now - DAYS * DAY_MS):
            with raw.cursor() as cursor, cursor.copy(f"COPY log ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        for table, rows in person_rows(people, now).items():
            conn.executemany(INSERTS[table], rows)
        raw.execute("UPDATE log_counter SET next = %s", (messages + 1,))
        raw.execute("UPDATE destinations SET cursor = %s, start_seq = 0", (messages,))
        raw.execute("ANALYZE")
    store.close()


def erase_some(
    store: Store, people: int, count: int, seed: int
) -> list[tuple[str, float, float, dict[str, int]]]:
    """Erase `count` people not erased yet (found by email, as a request names them): who,
    seconds in all, seconds of the scrub after the commit, rows removed per table."""
    rng = random.Random(seed)
    done: list[tuple[str, float, float, dict[str, int]]] = []
    # The scrub after the commit (SQLite: WAL checkpoint; PostgreSQL: vacuum), timed apart.
    scrub = getattr(store, "_after_erase")  # noqa: B009
    scrubbed: list[float] = []

    def timed(erased: Any) -> None:
        started = time.perf_counter()
        scrub(erased)
        scrubbed.append(time.perf_counter() - started)

    setattr(store, "_after_erase", timed)  # noqa: B010
    while len(done) < count:
        index = rng.randrange(people)
        if store.profile(user(index)) is None:
            continue  # erased by an earlier run
        started = time.perf_counter()
        subject = store.resolve(email(index))
        request = store.erase(
            subject,
            request_id=f"bench-{index}-{time.time_ns()}",
            actor="bench",
            destinations=[DESTINATION],
            now_ms=int(time.time() * 1000),
        )
        total = time.perf_counter() - started
        done.append((user(index), total, scrubbed[-1], dict(request.erased)))
    return done


def report(label: str, rows: list[tuple[str, float, float, dict[str, int]]]) -> None:
    print(f"\n{label}")
    print(
        f"{'person':>14} {'seconds':>8} {'of which scrub':>15} {'log rows':>9} {'other rows':>11}"
    )
    for person, seconds, scrub, erased in rows:
        other = sum(erased.values()) - erased.get("log", 0)
        print(f"{person:>14} {seconds:>8.3f} {scrub:>15.3f} {erased.get('log', 0):>9} {other:>11}")
    median = statistics.median(s for _, s, _, _ in rows)
    print(f"{'median':>14} {median:>8.3f} {statistics.median(s for _, _, s, _ in rows):>15.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5_000_000)
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--erase", type=int, default=5)
    parser.add_argument("--cache", type=Path, default=None)
    parser.add_argument("--postgres", default=None, help="also on this PostgreSQL server")
    parser.add_argument("--schema", default=None)
    args = parser.parse_args()
    seed = time.time_ns()
    name = f"trackwell-bench-erase-{args.messages}-{args.people}"
    path = args.cache or Path("/tmp") / f"{name}.db"
    if not path.exists():
        started = time.perf_counter()
        build_sqlite(path, args.messages, args.people)
        print(f"built {path} in {time.perf_counter() - started:.0f} s")
    store = open_store(f"sqlite:///{path}")
    try:
        report(
            f"SQLite, {store.log_size():,} messages, {args.people:,} people ({path.stat().st_size / 1e9:.1f} GB)",
            erase_some(store, args.people, args.erase, seed),
        )
    finally:
        store.close()
    if args.postgres:
        import psycopg

        schema = args.schema or name.replace("-", "_")
        with psycopg.connect(args.postgres, autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_tables WHERE schemaname = %s AND tablename = 'profiles'",
                (schema,),
            ).fetchone()
        url = f"{args.postgres}?schema={schema}"
        if exists is None:
            started = time.perf_counter()
            build_postgres(url, args.messages, args.people)
            print(f"built schema {schema} in {time.perf_counter() - started:.0f} s")
        store = open_store(url)
        try:
            report(
                f"PostgreSQL, {store.log_size():,} messages, {args.people:,} people, {DAYS} partitions",
                erase_some(store, args.people, args.erase, seed),
            )
        finally:
            store.close()


if __name__ == "__main__":
    main()
