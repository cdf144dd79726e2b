"""Erase, suppress and unsuppress in SQL: resolving a person, deleting what is theirs through
indexes, the marks left behind, the requests and their propagation jobs (issue 18).

What an erase searches: every row keyed by one of the person's ids (log rows of every partition
by `user_id` or `anonymous_id`, including the `cio_<id>` form the log keeps for a person named
only by a Customer.io id; blocked rows; the profile and its email index; identity links and
merge records by either id; queue rows and delivery history of the deleted log positions; the
tools' outcome reports naming the person or triggered by their messages). What
it does not search: the bodies of other people's messages that happen to quote the person's
email or id (a blocked message naming nobody, an alias of someone else whose `previousId` was
refused a merge with this person's id), which only a full scan of the log could find. Rollup
counts stay: they hold no personal data.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from trackwell.core.operations import CIO_ID_PREFIX
from trackwell.core.privacy import (
    EMAIL,
    SETTLED,
    MarkKind,
    PrivacyJob,
    PrivacyRequest,
    Receipt,
    RequestKind,
    Subject,
    message_identifiers,
    normalise_email,
)
from trackwell.core.time import DAY_MS
from trackwell.store.sql import audit
from trackwell.store.sql.dialect import Conn, Dialect

# A claimed job is not handed to another worker for this long (its worker crashed, or is slow).
JOB_LEASE_MS = 60_000
# Ids per statement (SQLite caps bound parameters; see writes.CHUNK).
CHUNK = 400
# Statuses that count an attempt when a job settles: something was sent to the tool.
SENT = frozenset(["done", "failed"])


@dataclass
class Erased:
    """What one erase removed: rows per table, and the days of the log rows (PostgreSQL
    vacuums those partitions)."""

    counts: dict[str, int] = field(default_factory=dict)
    days: set[int] = field(default_factory=set)


def _parts(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


def _marks(count: int) -> str:
    return ",".join("?" * count)


def pepper(conn: Conn) -> bytes:
    """The store's identifier-hash key."""
    return bytes(conn.execute("SELECT pepper FROM privacy_state WHERE id = 1").fetchone()[0])


def resolve(conn: Conn, person: str) -> Subject:
    """Every identifier of the person a user id, anonymous id or email names (the identifier
    itself always, so a visitor never identified, or an email never seen, is erasable too)."""
    users: set[str] = set()
    anonymous: set[str] = set()
    emails: set[str] = set()
    owner = conn.execute(
        "SELECT user_id FROM identities WHERE anonymous_id = ?", (person,)
    ).fetchone()
    if owner is not None:
        users.add(owner[0])
        anonymous.add(person)
    if conn.execute("SELECT 1 FROM profiles WHERE user_id = ?", (person,)).fetchone():
        users.add(person)
    if "@" in person:
        email = normalise_email(person)
        found = conn.execute("SELECT user_id FROM profile_emails WHERE email = ?", (email,))
        matched = {row[0] for row in found}
        if matched:
            users |= matched
            emails.add(email)
    if not users and not anonymous and not emails:
        if _seen(conn, "user_id", person):
            users.add(person)
        elif _seen(conn, "anonymous_id", person):
            anonymous.add(person)
        elif "@" not in person:
            # Never seen here (retention removed them, or they reached the tools another way):
            # the tools may know them by it as a user id, which is what deletion requests name,
            # so it is sent as one; it is marked once, as ids share one namespace.
            users.add(person)
        else:
            emails.add(normalise_email(person))
    return widen(conn, Subject(tuple(sorted(users)), tuple(sorted(anonymous)), tuple(emails)))


def _seen(conn: Conn, column: str, value: str) -> bool:
    """Whether the log or the blocked table has a row with this id (through their indexes)."""
    for table in ("log", "blocked"):
        query = f"SELECT 1 FROM {table} WHERE {column} = ? LIMIT 1"
        if conn.execute(query, (value,)).fetchone() is not None:
            return True
    return False


def widen(conn: Conn, subject: Subject) -> Subject:
    """The subject with every anonymous id tied to its users and their email traits (an erase
    widens again inside its transaction: an identify may have tied one since `resolve`)."""
    users = list(subject.user_ids)
    anonymous = set(subject.anonymous_ids)
    emails = {normalise_email(email) for email in subject.emails}
    for part in _parts(users):
        marks = _marks(len(part))
        query = f"SELECT anonymous_id FROM identities WHERE user_id IN ({marks})"
        anonymous.update(row[0] for row in conn.execute(query, part))
        query = f"SELECT email FROM profile_emails WHERE user_id IN ({marks})"
        emails.update(row[0] for row in conn.execute(query, part))
    anonymous -= set(users)
    return Subject(tuple(users), tuple(sorted(anonymous)), tuple(sorted(emails)))


def _delete_in(conn: Conn, table: str, column: str, values: Sequence[Any]) -> int:
    """DELETE the rows whose `column` is one of `values`, a chunk a statement; rows removed."""
    removed = 0
    for part in _parts(values):
        cursor = conn.execute(f"DELETE FROM {table} WHERE {column} IN ({_marks(len(part))})", part)
        removed += max(cursor.rowcount, 0)
    return removed


def erase(
    conn: Conn, dialect: Dialect, subject: Subject, request_id: str, now_ms: int
) -> tuple[Subject, Erased]:
    """Delete everything of the person and mark them erased, in the caller's transaction; the
    subject as widened under the writers' lock, and what was removed."""
    # Taken first: the same row lock every write batch takes to reserve log positions
    # (PostgreSQL), so no batch is half-way between reading the marks and committing.
    dialect.reserve_seqs(conn, 0)
    subject = widen(conn, subject)
    ids = sorted({*subject.user_ids, *subject.anonymous_ids})
    # The log's person column holds `cio_<id>` for a person named only by a Customer.io id.
    person_keys = sorted({*ids, *(CIO_ID_PREFIX + value for value in ids)})
    erased = Erased()
    seqs: set[int] = set()
    identifies: list[int] = []
    for column, values in (("user_id", ids), ("anonymous_id", person_keys)):
        for part in _parts(values):
            query = (
                f"SELECT seq, received_ms, type FROM log WHERE {column} IN ({_marks(len(part))})"
            )
            for seq, received_ms, type_ in conn.execute(query, part):
                seqs.add(int(seq))
                erased.days.add(int(received_ms) // DAY_MS)
                if type_ == "identify":
                    identifies.append(int(seq))
    # Every email the person's identifies ever gave (the profile keeps only the latest): a
    # message naming the person by an older one alone is refused at the edge too.
    subject = _with_emails(subject, _identify_emails(conn, identifies))
    positions = sorted(seqs)
    if positions:
        # Removing the newest rows must not let the next write reuse their positions: cursors
        # past them already count them as settled (SQLite's `max(seq) + 1`).
        dialect.keep_seqs_above(conn, positions[-1])
    counts = erased.counts
    counts["deliveries"] = _delete_in(conn, "deliveries", "seq", positions)
    counts["delivery_history"] = _delete_in(conn, "delivery_history", "seq", positions)
    counts["log"] = _delete_in(conn, "log", "user_id", ids) + _delete_in(
        conn, "log", "anonymous_id", person_keys
    )
    counts["blocked"] = _delete_in(conn, "blocked", "user_id", ids) + _delete_in(
        conn, "blocked", "anonymous_id", ids
    )
    counts["profiles"] = _delete_in(conn, "profiles", "user_id", ids)
    _delete_in(conn, "profile_emails", "user_id", ids)
    counts["identities"] = _delete_in(conn, "identities", "user_id", ids) + _delete_in(
        conn, "identities", "anonymous_id", ids
    )
    counts["merges"] = _delete_in(conn, "merges", "user_id", ids) + _delete_in(
        conn, "merges", "anonymous_id", ids
    )
    # The tools' outcome reports: by the person they were resolved to, by email, and those
    # triggered by the person's deleted messages.
    counts["reports"] = (
        _delete_in(conn, "reports", "person", person_keys)
        + _delete_in(conn, "reports", "email", sorted(subject.emails))
        + _delete_in(conn, "reports", "trigger_seq", positions)
    )
    _mark(conn, subject, "erased", request_id, now_ms)
    return subject, erased


def _identify_emails(conn: Conn, seqs: Sequence[int]) -> set[str]:
    """The email traits of these identify messages (bodies read by log position)."""
    found: set[str] = set()
    for part in _parts(sorted(set(seqs))):
        query = f"SELECT body FROM log WHERE seq IN ({_marks(len(part))})"
        for (body,) in conn.execute(query, part):
            message = orjson.loads(bytes(body))
            found.update(
                normalise_email(value)
                for kind, value in message_identifiers(message)
                if kind == EMAIL
            )
    return found


def _with_emails(subject: Subject, emails: set[str]) -> Subject:
    """The subject with these emails too."""
    if emails <= set(subject.emails):
        return subject
    merged = tuple(sorted({*subject.emails, *emails}))
    return Subject(subject.user_ids, subject.anonymous_ids, merged)


def suppress(
    conn: Conn, dialect: Dialect, subject: Subject, request_id: str, now_ms: int
) -> Subject:
    """Mark the person suppressed (an erased identifier stays erased); the widened subject."""
    dialect.reserve_seqs(conn, 0)  # serialised with write batches, as `erase`
    subject = widen(conn, subject)
    _mark(conn, subject, "suppressed", request_id, now_ms)
    return subject


def unsuppress(conn: Conn, dialect: Dialect, subject: Subject) -> Subject:
    """Remove the person's `suppressed` marks (never an `erased` one); the widened subject."""
    dialect.reserve_seqs(conn, 0)
    subject = widen(conn, subject)
    hashes = sorted(subject.hashes(pepper(conn)))
    for part in _parts(hashes):
        conn.execute(
            f"DELETE FROM privacy_marks WHERE kind = 'suppressed' AND hash IN ({_marks(len(part))})",
            part,
        )
    _bump(conn)
    return subject


def _mark(conn: Conn, subject: Subject, kind: MarkKind, request_id: str, now_ms: int) -> None:
    hashes = sorted(subject.hashes(pepper(conn)))
    # An erase turns a suppression into an erasure; a suppression leaves an erasure alone.
    tail = (
        " ON CONFLICT (hash) DO UPDATE SET kind = excluded.kind, request_id = excluded.request_id"
        if kind == "erased"
        else " ON CONFLICT (hash) DO NOTHING"
    )
    conn.executemany(
        "INSERT INTO privacy_marks (hash, kind, request_id, created_ms) VALUES (?, ?, ?, ?)" + tail,
        [(hash_, kind, request_id, now_ms) for hash_ in hashes],
    )
    _bump(conn)


def _bump(conn: Conn) -> None:
    """Tell every cached copy of the marks (every process) that they changed."""
    conn.execute("UPDATE privacy_state SET generation = generation + 1 WHERE id = 1")


def record(
    conn: Conn,
    *,
    request_id: str,
    kind: RequestKind,
    actor: str,
    subject: Subject,
    destinations: Sequence[str],
    now_ms: int,
    erased: dict[str, int] | None = None,
) -> None:
    """The request row, a pending job per destination and the audit entry (counts only)."""
    conn.execute(
        "INSERT INTO privacy_requests (id, kind, created_ms, actor, identifiers, erased)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (request_id, kind, now_ms, actor, len(subject), orjson.dumps(erased or {}).decode()),
    )
    identifiers = orjson.dumps(
        {
            "user_ids": subject.user_ids,
            "anonymous_ids": subject.anonymous_ids,
            "emails": subject.emails,
        }
    ).decode()
    conn.executemany(
        "INSERT INTO privacy_jobs (request_id, destination, kind, status, attempts, next_ms,"
        " updated_ms, detail, identifiers) VALUES (?, ?, ?, 'pending', 0, ?, ?, NULL, ?)",
        [
            (request_id, name, kind, now_ms, now_ms, identifiers)
            for name in sorted(set(destinations))
        ],
    )
    detail: dict[str, Any] = {"identifiers": len(subject), "destinations": len(set(destinations))}
    if erased is not None:
        detail["erased"] = erased
    audit.append(conn, actor, kind, request_id, detail, now_ms)


def request(conn: Conn, request_id: str) -> PrivacyRequest | None:
    """One request with its receipts."""
    row = conn.execute(
        "SELECT id, kind, created_ms, actor, identifiers, erased FROM privacy_requests WHERE id = ?",
        (request_id,),
    ).fetchone()
    return None if row is None else _request(conn, row)


def requests(conn: Conn, limit: int) -> list[PrivacyRequest]:
    """The newest requests first."""
    rows = conn.execute(
        "SELECT id, kind, created_ms, actor, identifiers, erased FROM privacy_requests"
        " ORDER BY created_ms DESC, id DESC LIMIT ?",
        (limit,),
    ).fetchall()
    return [_request(conn, row) for row in rows]


def _request(conn: Conn, row: Sequence[Any]) -> PrivacyRequest:
    receipts = tuple(
        Receipt(name, status, int(attempts), int(updated_ms), detail)
        for name, status, attempts, updated_ms, detail in conn.execute(
            "SELECT destination, status, attempts, updated_ms, detail FROM privacy_jobs"
            " WHERE request_id = ? ORDER BY destination",
            (row[0],),
        )
    )
    return PrivacyRequest(
        id=row[0],
        kind=row[1],
        created_ms=int(row[2]),
        actor=row[3],
        identifiers=int(row[4]),
        receipts=receipts,
        erased=orjson.loads(row[5]),
    )


def claim_jobs(conn: Conn, destination: str, now_ms: int, limit: int) -> list[PrivacyJob]:
    """Due pending jobs of a destination, oldest first, each leased for `JOB_LEASE_MS`: the
    conditional UPDATE takes a job only if no other worker took it since it was read."""
    due = conn.execute(
        "SELECT request_id FROM privacy_jobs WHERE destination = ? AND status = 'pending'"
        " AND next_ms <= ? ORDER BY next_ms, request_id LIMIT ?",
        (destination, now_ms, limit),
    ).fetchall()
    jobs: list[PrivacyJob] = []
    for (request_id,) in due:
        rows = conn.execute(
            "UPDATE privacy_jobs SET next_ms = ? WHERE request_id = ? AND destination = ?"
            " AND status = 'pending' AND next_ms <= ? RETURNING kind, identifiers, attempts",
            (now_ms + JOB_LEASE_MS, request_id, destination, now_ms),
        ).fetchall()
        if not rows or rows[0][1] is None:
            continue  # another worker took it in between
        row = rows[0]
        ids = orjson.loads(row[1])
        subject = Subject(
            tuple(ids.get("user_ids", ())),
            tuple(ids.get("anonymous_ids", ())),
            tuple(ids.get("emails", ())),
        )
        jobs.append(PrivacyJob(request_id, row[0], destination, subject, int(row[2])))
    return jobs


def settle_job(
    conn: Conn,
    request_id: str,
    destination: str,
    status: str,
    *,
    detail: str | None,
    next_ms: int | None,
    now_ms: int,
) -> None:
    """Record one attempt of a job (see `Privacy.settle_privacy_job`)."""
    if status == "retry":
        conn.execute(
            "UPDATE privacy_jobs SET attempts = attempts + 1, next_ms = ?, detail = ?,"
            " updated_ms = ? WHERE request_id = ? AND destination = ? AND status = 'pending'",
            (now_ms if next_ms is None else next_ms, detail, now_ms, request_id, destination),
        )
        return
    if status not in SETTLED:
        raise ValueError(f"unknown privacy job status {status!r}")
    conn.execute(
        "UPDATE privacy_jobs SET status = ?, attempts = attempts + ?, detail = ?, updated_ms = ?,"
        " identifiers = NULL WHERE request_id = ? AND destination = ? AND status = 'pending'",
        (status, 1 if status in SENT else 0, detail, now_ms, request_id, destination),
    )
