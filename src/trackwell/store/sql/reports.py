"""Outcome reports in SQL: storing what the tools did once per (source, event id), resolving the
person and the trackwell message that triggered it, and the reads over them (issue 20).

A Customer.io report names the triggering event by the ULID trackwell sent it under
(`core.ids.event_ulid`: the message's action time and a hash of its messageId). The time says
where to look (the person's log rows within a day of it, through the log's person indexes) and
the hash which row it was; nothing needs an index by ULID. A report whose message cannot be found
when it arrives (the message is not stored yet, or its person is not tied yet) is still found
from the message's side later: `for_message` computes the message's ULID and reads by it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import Any

import orjson

from trackwell.core.ids import event_ulid, ulid_millis
from trackwell.core.operations import CIO_ID_PREFIX
from trackwell.core.privacy import EMAIL, ID, normalise_email
from trackwell.core.time import DAY_MS
from trackwell.store.base import (
    EventOutcomes,
    OutcomeReport,
    RecordedReports,
    ReportCount,
    ReportResult,
)
from trackwell.store.sql import privacy
from trackwell.store.sql.dialect import Conn, Dialect, storable_text
from trackwell.store.sql.marks import Marks
from trackwell.store.sql.retention import find_cut
from trackwell.store.sql.writes import message_hash

# Ids per statement (SQLite caps bound parameters; see writes.CHUNK).
CHUNK = 400
# How far from a ULID's time the triggering message's stored timestamp may be: the ULID carries
# the action time the destination read (`timestamp`, else `originalTimestamp`), the log the
# normalised `timestamp`; they agree for messages the gateway took, a day covers the rest.
TRIGGER_SLACK_MS = DAY_MS

COLUMNS = (
    "source, event_id, object_type, metric, at_ms, received_ms, person, customer_id,"
    " anonymous_id, email, cio_id, campaign_id, broadcast_id, journey_id, action_id,"
    " delivery_id, trigger_event_id, trigger_message_id, trigger_seq, trigger_event, body"
)
_INSERT = (
    f"INSERT INTO reports ({COLUMNS}) VALUES ({','.join('?' * 21)})"
    " ON CONFLICT (source, event_id) DO NOTHING"
)


def _marks(count: int) -> str:
    """`?,?,?`: `count` placeholders."""
    return ",".join("?" * count)


def _parts(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    """Slices of at most CHUNK items (one statement each)."""
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


def record(
    conn: Conn, dialect: Dialect, marks: Marks, reports: Sequence[OutcomeReport], now_ms: int
) -> RecordedReports:
    """Store the reports not stored yet, in the caller's transaction; those naming an erased or
    suppressed person are dropped."""
    marked = marks.refresh(conn)
    tables = dialect.tables(conn, "dedup_")
    results: list[ReportResult] = []
    linked = 0
    for report in reports:
        if marks.kind_of(marked, _identifiers(report)) is not None:
            results.append("dropped")
            continue
        full = _resolved(conn, tables, report, now_ms)
        if full.person is not None and marks.kind_of(marked, [(ID, full.person)]) is not None:
            results.append("dropped")
            continue
        cursor = conn.execute(_INSERT, _row(full))
        if cursor.rowcount == 1:
            results.append("stored")
            linked += full.trigger_seq is not None
        else:
            results.append("duplicate")
    return RecordedReports(
        stored=results.count("stored"),
        duplicates=results.count("duplicate"),
        dropped=results.count("dropped"),
        linked=linked,
        results=tuple(results),
    )


def _identifiers(report: OutcomeReport) -> list[tuple[str, str]]:
    """The identifiers a report names, in the namespaces of the privacy marks."""
    found = [
        (ID, value) for value in (report.customer_id, report.anonymous_id, report.cio_id) if value
    ]
    if report.cio_id:
        found.append((ID, CIO_ID_PREFIX + report.cio_id))
    if report.email:
        found.append((EMAIL, report.email))
    return found


def _owner(conn: Conn, key: str) -> str:
    """The user an anonymous id (or `cio_<id>`) is tied to, else the key itself."""
    row = conn.execute("SELECT user_id FROM identities WHERE anonymous_id = ?", (key,)).fetchone()
    return str(row[0]) if row is not None else key


def _person(conn: Conn, report: OutcomeReport) -> str | None:
    """The person a report names: its customer id or anonymous id (through the identity
    links), else the one profile with its email, else its Customer.io id in the log's form."""
    for key in (report.customer_id, report.anonymous_id):
        if key:
            return _owner(conn, key)
    if report.email:
        users = [
            str(row[0])
            for row in conn.execute(
                "SELECT user_id FROM profile_emails WHERE email = ? LIMIT 2",
                (normalise_email(report.email),),
            )
        ]
        if len(users) == 1:
            return users[0]
    if report.cio_id:
        return _owner(conn, CIO_ID_PREFIX + report.cio_id)
    return None


def _resolved(conn: Conn, tables: set[str], report: OutcomeReport, now_ms: int) -> OutcomeReport:
    """The report with its person, its trigger message (when found) and its arrival time."""
    person = _person(conn, report)
    found = _trigger(conn, tables, report, person)
    values: dict[str, Any] = {"person": person, "received_ms": report.received_ms or now_ms}
    if report.email:
        values["email"] = normalise_email(report.email)
    if found is not None:
        seq, message_id, name, user_id, anonymous_id = found
        values.update(trigger_message_id=message_id, trigger_seq=seq, trigger_event=name)
        if person is None:
            values["person"] = user_id or (_owner(conn, anonymous_id) if anonymous_id else None)
    return dataclasses.replace(report, **values)


Found = tuple[int, str, str | None, str | None, str | None]


def find_message(conn: Conn, tables: Iterable[str], message_id: str) -> Found | None:
    """(seq, messageId, name, user id, anonymous id) of a logged message within the dedup
    window, through its hash (no scan); None when it is older or unknown."""
    hash_ = message_hash(message_id)
    for table in sorted(tables, reverse=True):
        hit = conn.execute(f'SELECT seq FROM "{table}" WHERE hash = ?', (hash_,)).fetchone()
        if hit is None:
            continue
        row = conn.execute(
            "SELECT seq, message_id, name, user_id, anonymous_id FROM log"
            " WHERE seq = ? AND message_id = ?",
            (hit[0], message_id),
        ).fetchone()
        if row is not None:
            return int(row[0]), str(row[1]), row[2], row[3], row[4]
    return None


def _trigger(
    conn: Conn, tables: set[str], report: OutcomeReport, person: str | None
) -> Found | None:
    """The logged message that triggered the report: by trackwell's messageId when the report
    gives it (or gives it as the tool's event id), else by the ULID trackwell sent it under,
    among the person's messages near the ULID's time."""
    for candidate in (report.trigger_message_id, report.trigger_event_id):
        if candidate:
            found = find_message(conn, tables, candidate)
            if found is not None:
                return found
    event_id = report.trigger_event_id
    millis = ulid_millis(event_id) if event_id else None
    if event_id is None or millis is None:
        return None
    keys = _person_keys(conn, report, person)
    if not keys:
        return None
    wanted = event_id.upper()
    for part in _parts(sorted(keys)):
        marks = _marks(len(part))
        rows = conn.execute(
            "SELECT seq, message_id, name, user_id, anonymous_id FROM log"
            f" WHERE (user_id IN ({marks}) OR anonymous_id IN ({marks}))"
            " AND timestamp_ms BETWEEN ? AND ?",
            [*part, *part, millis - TRIGGER_SLACK_MS, millis + TRIGGER_SLACK_MS],
        )
        for seq, message_id, name, user_id, anonymous_id in rows:
            if event_ulid(str(message_id), millis) == wanted:
                return int(seq), str(message_id), name, user_id, anonymous_id
    return None


def _person_keys(conn: Conn, report: OutcomeReport, person: str | None) -> set[str]:
    """Every id the person's log rows may carry: the ids the report gives, the resolved user and
    the anonymous ids tied to them."""
    keys = {key for key in (person, report.customer_id, report.anonymous_id) if key}
    if report.cio_id:
        keys.add(CIO_ID_PREFIX + report.cio_id)
    if person is not None:
        keys.update(
            str(row[0])
            for row in conn.execute(
                "SELECT anonymous_id FROM identities WHERE user_id = ?", (person,)
            )
        )
    return keys


def _row(report: OutcomeReport) -> tuple[Any, ...]:
    """The report as the INSERT's parameters, in COLUMNS order (text made storable)."""
    text = storable_text
    return (
        text(report.source),
        text(report.event_id),
        text(report.object_type),
        text(report.metric),
        report.at_ms,
        report.received_ms,
        text(report.person),
        text(report.customer_id),
        text(report.anonymous_id),
        text(report.email),
        text(report.cio_id),
        text(report.campaign_id),
        text(report.broadcast_id),
        text(report.journey_id),
        text(report.action_id),
        text(report.delivery_id),
        text(report.trigger_event_id),
        text(report.trigger_message_id),
        report.trigger_seq,
        text(report.trigger_event),
        orjson.dumps(report.body).decode(),
    )


def _report(row: Sequence[Any]) -> OutcomeReport:
    """A row read in COLUMNS order as a report."""
    return OutcomeReport(
        source=row[0],
        event_id=row[1],
        object_type=row[2],
        metric=row[3],
        at_ms=int(row[4]),
        received_ms=int(row[5]),
        person=row[6],
        customer_id=row[7],
        anonymous_id=row[8],
        email=row[9],
        cio_id=row[10],
        campaign_id=row[11],
        broadcast_id=row[12],
        journey_id=row[13],
        action_id=row[14],
        delivery_id=row[15],
        trigger_event_id=row[16],
        trigger_message_id=row[17],
        trigger_seq=None if row[18] is None else int(row[18]),
        trigger_event=row[19],
        body=orjson.loads(row[20]),
    )


def _ordered(rows: Iterable[Sequence[Any]]) -> list[OutcomeReport]:
    """Reports oldest first by their own time (ties by arrival order)."""
    found = [(int(row[4]), int(row[21]), _report(row)) for row in rows]
    found.sort(key=lambda item: (item[0], item[1]))
    return [report for _, _, report in found]


def for_person(conn: Conn, key: str, *, limit: int, since_ms: int | None) -> list[OutcomeReport]:
    """The person's newest `limit` reports, oldest first; `key` is resolved as an erase would
    (user id, anonymous ids, emails), so reports stored before a merge are found after it."""
    subject = privacy.resolve(conn, key)
    ids = {*subject.user_ids, *subject.anonymous_ids, key}
    keys = sorted({*ids, *(CIO_ID_PREFIX + value for value in ids)})
    emails = sorted(subject.emails)
    since = since_ms if since_ms is not None else -(1 << 62)
    rows: dict[int, Sequence[Any]] = {}
    for column, values in (("person", keys), ("email", emails)):
        for part in _parts(values):
            query = (
                f"SELECT {COLUMNS}, id FROM reports WHERE {column} IN ({_marks(len(part))})"
                " AND at_ms >= ? ORDER BY at_ms DESC, id DESC LIMIT ?"
            )
            for row in conn.execute(query, [*part, since, limit]):
                rows[int(row[21])] = row
    newest = sorted(rows.values(), key=lambda row: (int(row[4]), int(row[21])))[-limit:]
    return _ordered(newest)


def for_message(conn: Conn, dialect: Dialect, message_id: str) -> list[OutcomeReport]:
    """The reports a message triggered: linked when they arrived, or naming the ULID the
    message was sent to Customer.io under (computed from its stored time)."""
    event_ids = [message_id]
    found = find_message(conn, dialect.tables(conn, "dedup_"), message_id)
    if found is not None:
        row = conn.execute("SELECT timestamp_ms FROM log WHERE seq = ?", (found[0],)).fetchone()
        if row is not None:
            event_ids.append(event_ulid(message_id, int(row[0])))
    else:
        # Older than the dedup window: the log has no index by id, so this one scans.
        for (timestamp_ms,) in conn.execute(
            "SELECT timestamp_ms FROM log WHERE message_id = ? LIMIT 1", (message_id,)
        ):
            event_ids.append(event_ulid(message_id, int(timestamp_ms)))
    rows: dict[int, Sequence[Any]] = {}
    query = f"SELECT {COLUMNS}, id FROM reports WHERE trigger_message_id = ?"
    for row in conn.execute(query, (message_id,)):
        rows[int(row[21])] = row
    query = (
        f"SELECT {COLUMNS}, id FROM reports WHERE trigger_event_id IN ({_marks(len(event_ids))})"
    )
    for row in conn.execute(query, event_ids):
        rows[int(row[21])] = row
    return _ordered(rows.values())


def counts(conn: Conn, since_ms: int, until_ms: int, source: str | None) -> list[ReportCount]:
    """Reports per source, campaign, broadcast, object type and metric in the window."""
    query = (
        "SELECT source, campaign_id, broadcast_id, object_type, metric, count(*),"
        " count(DISTINCT person) FROM reports WHERE at_ms >= ? AND at_ms < ?"
    )
    params: list[Any] = [since_ms, until_ms]
    if source is not None:
        query += " AND source = ?"
        params.append(source)
    query += " GROUP BY source, campaign_id, broadcast_id, object_type, metric"
    found = [
        ReportCount(row[0], row[1], row[2], row[3], row[4], int(row[5]), int(row[6]))
        for row in conn.execute(query, params)
    ]
    # Sorted here: the backends order NULLs differently.
    found.sort(
        key=lambda c: (c.source, c.campaign_id or "", c.broadcast_id or "", c.object_type, c.metric)
    )
    return found


def _first_received_at(conn: Conn, at_ms: int) -> int:
    """The first log position received at or after `at_ms` (past the end when none is): a
    binary search over the key, whose order follows arrival (`retention.find_cut`)."""
    cut = find_cut(conn, "log", "seq", at_ms)
    if cut.below is not None:
        return cut.below
    low = conn.execute("SELECT min(seq) FROM log").fetchone()[0]
    return 0 if low is None else int(low)


# The person a log row is: its user, the user its anonymous id is tied to, else the anonymous id.
_LOG_PERSON = "coalesce(log.user_id, identities.user_id, log.anonymous_id)"


def event_outcomes(conn: Conn, event: str, since_ms: int, until_ms: int) -> EventOutcomes:
    """Senders of `event` received in the window and the reports those very messages triggered.
    A person is counted once, as the log's rows name them: an anonymous id tied to a user is the
    user. The log is read only between the window's positions (found by binary search), never
    whole; a report is matched to a message by the link made when it arrived or by the message's
    ULID (so one that could not be linked then, its person not tied yet, counts too)."""
    low, high = _first_received_at(conn, since_ms), _first_received_at(conn, until_ms)
    person_of: dict[str, str] = {}  # messageId or its ULID -> the sender
    for message_id, timestamp_ms, person in conn.execute(
        f"SELECT log.message_id, log.timestamp_ms, {_LOG_PERSON} FROM log"
        " LEFT JOIN identities ON identities.anonymous_id = log.anonymous_id"
        " WHERE log.name = ? AND log.type = 'track' AND log.seq >= ? AND log.seq < ?"
        " AND log.received_ms >= ? AND log.received_ms < ?",
        (event, low, high, since_ms, until_ms),
    ):
        person_of[str(message_id)] = person
        person_of[event_ulid(str(message_id), int(timestamp_ms))] = person
    found: dict[int, tuple[str, str, str | None, str | None]] = {}
    keys = sorted(person_of)
    for column in ("trigger_message_id", "trigger_event_id"):
        for part in _parts(keys):
            query = (
                f"SELECT id, {column}, metric, campaign_id, broadcast_id FROM reports"
                f" WHERE {column} IN ({_marks(len(part))})"
            )
            for row_id, key, metric, campaign_id, broadcast_id in conn.execute(query, part):
                found[int(row_id)] = (person_of[key], metric, campaign_id, broadcast_id)
    people: set[str] = set()
    metrics: dict[str, int] = {}
    campaigns: dict[str, set[str]] = {}
    for person, metric, campaign_id, broadcast_id in found.values():
        metrics[metric] = metrics.get(metric, 0) + 1
        people.add(person)
        campaign = campaign_id or (f"broadcast:{broadcast_id}" if broadcast_id else None)
        if campaign is not None:
            campaigns.setdefault(campaign, set()).add(person)
    return EventOutcomes(
        event=event,
        since_ms=since_ms,
        until_ms=until_ms,
        senders=len(set(person_of.values())),
        triggered=len(people),
        metrics=dict(sorted(metrics.items())),
        campaigns={name: len(found) for name, found in sorted(campaigns.items())},
    )
