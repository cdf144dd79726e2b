"""The Store protocol every backend implements, and the records it reads and writes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeAlias

from trackwell.core.delivery import DeliveryFilter
from trackwell.core.messages import Message
from trackwell.core.outcomes import OutcomeKind
from trackwell.core.privacy import AuditEntry, MarkKind, PrivacyJob, PrivacyRequest, Subject
from trackwell.core.violations import Verdict, Violation

DeliveryStatus: TypeAlias = Literal[
    "pending",
    "in_flight",
    "delivered",
    "captured",
    "retry",
    "dead",
    "waiting",
    "no_consent",
    "held",
]
MergeOutcome: TypeAlias = Literal["merged", "conflict", "refused"]
ReportResult: TypeAlias = Literal["stored", "duplicate", "dropped"]

DEFAULT_DEDUP_WINDOW_DAYS = 7
# How far back `Store.sample` looks: recent enough to be cheap on a log of any size.
SAMPLE_SCAN_ROWS = 200_000


class StoreError(Exception):
    """The store cannot do what was asked: unwritable, locked, full, or corrupt."""


class StoreUncertainError(StoreError):
    """The store stopped answering during a commit: the write may or may not have happened."""


@dataclass(frozen=True, slots=True)
class Checked:
    """A normalised, checked message on its way into the store."""

    message: Message
    verdict: Verdict
    violations: tuple[Violation, ...] = ()
    body: bytes = b""  # the message's wire JSON, when the caller already encoded it
    source: str = ""  # which source sent it (a gateway key's source, "sdk", "backfill")

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle by position: quicker than the dataclass's state dict."""
        return (Checked, (self.message, self.verdict, self.violations, self.body, self.source))


@dataclass(frozen=True, slots=True)
class Written:
    """What happened to one Checked message in `write_batch`."""

    message_id: str
    seq: int | None  # position in the log (of the earlier copy, for a duplicate); None when blocked
    duplicate: bool = False
    identity: tuple[Violation, ...] = ()  # identity_conflict and friends, decided at write time
    # Acknowledged and not stored: the person was erased (a tombstone matched) or is suppressed.
    dropped: MarkKind | None = None


@dataclass(frozen=True, slots=True)
class Delivery:
    """A message claimed for delivery to one destination."""

    destination: str
    seq: int
    message: dict[str, Any]  # the stored wire form
    attempts: int = 0


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """The outcome of one delivery attempt, as the router reports it."""

    seq: int
    outcome: OutcomeKind  # `captured`: recorded in capture mode, sent nothing; replayable
    next_attempt_ms: int | None = None  # for retry
    error: str | None = None  # the destination's response, for retry and dead; a note, captured
    # False for a probe of a tool that looks down, sent ahead of the message's own schedule:
    # recorded in the history, but not spent from the message's attempts.
    counted: bool = True


@dataclass(frozen=True, slots=True)
class DeliveryStats:
    """One destination's queue, for `trackwell deliveries`."""

    destination: str
    pending: int
    in_flight: int
    delivered: int
    retry: int
    dead: int
    waiting: int
    oldest_pending_ms: int | None
    last_error: str | None
    captured: int = 0  # recorded in capture mode, never sent: not delivered
    no_consent: int = 0  # settled unsent: the person has not consented (`core/consent.py`)
    held: int = 0  # unsent, waiting for consent information (`missing_consent: hold`)


@dataclass(frozen=True, slots=True)
class Profile:
    """One person as the store knows them."""

    user_id: str
    traits: dict[str, Any]
    trait_times: dict[str, int]  # trait -> action time (ms) of the identify that set it
    anonymous_ids: tuple[str, ...]
    first_seen_ms: int
    last_seen_ms: int


@dataclass(frozen=True, slots=True)
class MergeRecord:
    """One entry of the merge log: an anonymous id tied to a person, or a refused attempt."""

    at_ms: int
    kind: str  # "identify" or "alias"
    anonymous_id: str
    user_id: str
    message_id: str
    outcome: MergeOutcome
    detail: str = ""


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One message on a person's timeline."""

    seq: int | None
    message: dict[str, Any]
    verdict: Verdict
    violations: list[dict[str, Any]]
    deliveries: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Timeline:
    """A person's merged history: profile, anonymous ids, merges, and messages by action time."""

    profile: Profile | None
    anonymous_ids: tuple[str, ...]
    merges: tuple[MergeRecord, ...]
    entries: tuple[TimelineEntry, ...]


@dataclass(frozen=True, slots=True)
class VolumeRollup:
    """Counts of one event name from one source over one day (hour -1) or one hour."""

    day: int  # days since the epoch, UTC
    hour: int  # 0-23, or -1 for the whole day
    source: str
    name: str
    type: str
    received: int
    accepted: int
    repaired: int
    blocked: int
    missing_timestamp: int
    queue_time: int  # action time equal to arrival time, to the second


@dataclass(frozen=True, slots=True)
class DeliveryRollup:
    """One destination's outcomes for one event name over one day, with latency histograms."""

    day: int
    destination: str
    name: str
    delivered: int
    retried: int
    dead: int
    action_latency: list[int]  # histogram over core.histogram.BOUNDS: action time -> ack
    received_latency: list[int]  # receivedAt -> ack (of delivered messages only)
    captured: int = 0  # recorded in capture mode, never sent
    no_consent: int = 0  # not sent: the person has not consented to what the destination needs


@dataclass(frozen=True, slots=True)
class PeopleRollup:
    """Per day: profiles created, identify calls, and identify calls for the new profiles."""

    day: int
    new_profiles: int
    identifies: int
    identifies_of_new: int


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """One message as stored, with its verdict and violations (values already redacted)."""

    seq: int | None  # None for blocked messages, which never enter the log
    received_ms: int
    timestamp_ms: int | None
    verdict: str
    violations: list[dict[str, Any]]
    message: dict[str, Any]

    @property
    def person(self) -> str | None:
        """The user id, else the anonymous id."""
        key = self.message.get("userId") or self.message.get("anonymousId")
        return str(key) if key is not None else None

    @property
    def label(self) -> str:
        """The event or page name, else the message type."""
        return str(self.message.get("event") or self.message.get("name") or self.message["type"])


@dataclass(frozen=True, slots=True)
class PersonRow:
    """A person seen recently: user id (or an anonymous visitor's id) and the last thing they did."""

    key: str
    anonymous: bool
    last_ms: int
    last_label: str


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A message a destination refused for good."""

    seq: int
    message_id: str
    label: str
    person: str | None
    attempts: int
    error: str | None
    updated_ms: int


@dataclass(frozen=True, slots=True)
class DeliveryError:
    """One failed attempt in a destination's history."""

    seq: int
    status: str
    at_ms: int
    detail: str


@dataclass(frozen=True, slots=True)
class StoreCheck:
    """What `check_store` found: the checks run on one store, how long they took, and the
    problems (empty when the store is sound)."""

    kind: Literal["sqlite", "postgresql"]
    target: str  # the database file, or the PostgreSQL URL without its password
    checks: tuple[str, ...]  # what was run, e.g. ("quick_check", "foreign_key_check")
    seconds: float
    problems: tuple[str, ...]
    size_bytes: int | None = None  # the file's size (SQLite)

    @property
    def ok(self) -> bool:
        """No check found a problem."""
        return not self.problems


class LogWriter(Protocol):
    """Writing the log: checked messages in, one transaction per batch (accept, the writer)."""

    def write_batch(self, batch: Sequence[Checked]) -> list[Written]:
        """Store a batch in one transaction: dedup, log or blocked table, profiles, identities.

        Raises ValueError, before writing anything, when a message not blocked has a NUL in an id
        or a name (`prepare` blocks those); StoreError when the store cannot take the write."""
        ...


class Timelines(Protocol):
    """A person's history: messages by id, profiles, merged timelines and the merge log."""

    def get(self, message_id: str) -> TimelineEntry | None:
        """One stored message by id (accepted, repaired or blocked)."""
        ...

    def profile(self, key: str) -> Profile | None:
        """A person by user id or any of their anonymous ids."""
        ...

    def timeline(self, key: str, *, limit: int = 1000) -> Timeline:
        """A person's merged timeline, by user id or any anonymous id."""
        ...

    def merges(self, key: str | None = None) -> list[MergeRecord]:
        """The merge log, for one person or everyone."""
        ...


class Queues(Protocol):
    """Working the delivery queues (the router): register, claim, ack, release, pull forward."""

    def register_destination(self, name: str, filter: DeliveryFilter | None = None) -> None:
        """Create (or update the filter of) a delivery queue."""
        ...

    def claim(self, destination: str, limit: int, now_ms: int) -> list[Delivery]:
        """Due retries and new messages for a destination, oldest first, per-person ordered."""
        ...

    def ack(self, destination: str, results: Sequence[DeliveryResult], now_ms: int) -> None:
        """Record the outcome of claimed deliveries."""
        ...

    def release(self, destination: str) -> None:
        """Give back everything claimed and not acked (a router stopping)."""
        ...

    def pull_forward(
        self,
        destination: str,
        now_ms: int,
        *,
        window_ms: int,
        limit: int | None = None,
        group: int = 1,
    ) -> list[int]:
        """Make retries scheduled for later due over the next `window_ms`, oldest first, `group`
        at a time (a tool that was down answers again); returns their seqs. With `limit`, at
        most that many, and none while a retry is already due (one probe of a tool that looks
        down)."""
        ...

    def consent_traits(self, people: Sequence[str], trait: str) -> dict[str, Any]:
        """person (user id or anonymous id) -> the value of their profile's `trait`, for those
        whose profile has it (one read for the whole list)."""
        ...

    def release_held(
        self,
        destination: str,
        trait: str | None,
        now_ms: int,
        *,
        recheck_ms: int,
        limit: int,
        every: bool = False,
    ) -> int:
        """Look again at up to `limit` held messages whose next check is due, oldest check
        first: those whose person's profile now has the consent `trait` become due for delivery
        (and are decided again); the others are next looked at `recheck_ms` later. `every`
        releases them all, due or not (the destination holds nothing any more). Returns how many were
        released."""
        ...


class Replays(Protocol):
    """Scheduling stored messages for delivery again (replay, from the console or the CLI)."""

    def requeue(
        self,
        destination: str,
        *,
        dead_only: bool = False,
        captured_only: bool = False,
        held_only: bool = False,
        since_ms: int | None = None,
        message_id: str | None = None,
        now_ms: int,
    ) -> int:
        """Schedule stored messages for re-delivery (replay); returns how many.

        `dead_only`, `captured_only` and `held_only` pick dead letters, captured messages and
        messages held for consent (several: any of them). Each is decided again, consent too."""
        ...


class Rollups(Protocol):
    """Counts kept as messages are written and delivered, per day or hour (monitors, charts)."""

    def volume(self, since_day: int, until_day: int, *, hourly: bool = False) -> list[VolumeRollup]:
        """Event counts per day (or per hour, kept for 7 days) between two days inclusive."""
        ...

    def violation_counts(
        self, since_day: int, until_day: int
    ) -> list[tuple[int, str, str, str, int]]:
        """(day, source, name, code, count) between two days inclusive."""
        ...

    def blocking_counts(
        self, since_day: int, until_day: int
    ) -> list[tuple[int, str, str, str, int]]:
        """(day, source, name, code, blocked messages) between two days inclusive: the codes
        that blocked messages (a message blocked for two reasons counts under both)."""
        ...

    def delivery_rollups(self, since_day: int, until_day: int) -> list[DeliveryRollup]:
        """Per day, destination and event: outcomes and latency histograms."""
        ...

    def people_rollups(self, since_day: int, until_day: int) -> list[PeopleRollup]:
        """Per day: new profiles and identify calls."""
        ...

    def profiles_without_traits(self) -> int:
        """Profiles that no identify has given a trait (the broken-identify failure)."""
        ...


class Browsing(Protocol):
    """Bounded reads for people to look through: recent messages, people, violations, queues."""

    def count(self) -> int:
        """Messages in the log (not counting blocked ones)."""
        ...

    def log_size(self) -> int:
        """The highest log position: an upper bound of the log's size, read from the key."""
        ...

    def sample(
        self,
        *,
        limit: int = 1000,
        since_ms: int | None = None,
        type: str | None = None,
        name: str | None = None,
    ) -> list[TimelineEntry]:
        """The most recent stored messages (newest first), optionally of one type or name.

        Bounded: it looks at most at the last `SAMPLE_SCAN_ROWS` rows of the log, never the whole.
        """
        ...

    def recent_people(self, limit: int = 50) -> list[PersonRow]:
        """People with the newest messages, anonymous visitors shown under their person once tied."""
        ...

    def find_people(self, text: str, limit: int = 20) -> list[str]:
        """User ids whose traits hold `text` (an email, a name, any value): reads profiles, not the log."""
        ...

    def stored_violations(
        self, *, code: str | None = None, event: str | None = None, limit: int = 100
    ) -> list[StoredMessage]:
        """The newest messages with violations, logged or blocked, newest arrival first."""
        ...

    def dead_letters(self, destination: str, limit: int = 50) -> list[DeadLetter]:
        """A destination's dead messages, most recently failed first."""
        ...

    def delivery_errors(self, destination: str, limit: int = 10) -> list[DeliveryError]:
        """A destination's newest failed attempts (retries and dead), from the delivery history."""
        ...

    def delivery_stats(self, now_ms: int) -> list[DeliveryStats]:
        """Per destination: pending, in flight, delivered, captured, retry, dead, oldest pending,
        last error."""
        ...


@dataclass(frozen=True, slots=True)
class RetentionReport:
    """What one retention pass removed: rows (and whole partitions) older than the cut-offs."""

    log_cutoff_ms: int | None
    blocked_cutoff_ms: int | None
    log_rows: int = 0
    blocked_rows: int = 0
    partitions_dropped: tuple[str, ...] = ()
    # Queue exceptions (retry, waiting, dead, captured) and delivery history of removed rows.
    delivery_rows: int = 0
    report_rows: int = 0  # the tools' outcome reports received before the log's cut-off
    dry_run: bool = False  # counted, nothing removed


def check_retention(
    log_days: int | None,
    blocked_days: int | None,
    *,
    dedup_window_days: int = DEFAULT_DEDUP_WINDOW_DAYS,
) -> None:
    """ValueError when a retention cannot be applied: a day count below 1 (or not a whole
    number), or a log retention shorter than the dedup window (a hash hit in the window is
    confirmed against its log row, so without the row a late retry would be stored again)."""
    for name, days in (("log", log_days), ("blocked", blocked_days)):
        if days is None:
            continue
        if isinstance(days, bool) or not isinstance(days, int) or days < 1:
            raise ValueError(f"{name} retention must be a whole number of days, 1 or more")
    if log_days is not None and log_days < dedup_window_days:
        raise ValueError(
            f"log retention of {log_days} days is shorter than the dedup window"
            f" ({dedup_window_days} days): a retry of a removed message would be stored again;"
            f" keep the log at least {dedup_window_days} days"
        )


class Privacy(Protocol):
    """Erase, suppress and unsuppress people; the marks checked at the edge; propagation jobs."""

    def resolve(self, person: str) -> Subject:
        """Every identifier of the person a user id, anonymous id or email names: their user id,
        every anonymous id tied to them, their email traits (the given identifier always)."""
        ...

    def erase(
        self,
        subject: Subject,
        *,
        request_id: str,
        actor: str,
        destinations: Sequence[str],
        now_ms: int,
    ) -> PrivacyRequest:
        """Remove everything of the person in one transaction (log rows of every partition,
        blocked rows, profile, identity links, merges, queue entries, dead letters and delivery
        history of their messages, outcome reports naming them or triggered by their messages),
        leave an `erased` mark per identifier hash, a pending job per
        destination and an audit entry; then make sure no file keeps a copy (SQLite: secure
        delete and a truncating WAL checkpoint)."""
        ...

    def suppress(
        self,
        subject: Subject,
        *,
        request_id: str,
        actor: str,
        destinations: Sequence[str],
        now_ms: int,
    ) -> PrivacyRequest:
        """Mark the person suppressed (nothing new taken or delivered), keeping what is stored."""
        ...

    def unsuppress(
        self,
        subject: Subject,
        *,
        request_id: str,
        actor: str,
        destinations: Sequence[str],
        now_ms: int,
    ) -> PrivacyRequest:
        """Lift a suppression (an erase mark stays for ever)."""
        ...

    def privacy_request(self, request_id: str) -> PrivacyRequest | None:
        """One request with its per-destination receipts."""
        ...

    def privacy_requests(self, *, limit: int = 100) -> list[PrivacyRequest]:
        """The newest requests first."""
        ...

    def claim_privacy_jobs(
        self, destination: str, now_ms: int, limit: int = 10
    ) -> list[PrivacyJob]:
        """Due pending jobs of one destination, oldest first."""
        ...

    def settle_privacy_job(
        self,
        request_id: str,
        destination: str,
        status: str,
        *,
        detail: str | None,
        next_ms: int | None,
        now_ms: int,
    ) -> None:
        """Record one attempt: `retry` (with `next_ms`) counts an attempt and stays pending; a
        settled status (`core.privacy.SETTLED`) is final and forgets the job's identifiers."""
        ...

    def screen(self, messages: Sequence[dict[str, Any]]) -> list[MarkKind | None]:
        """Per wire-form message: whether its person is erased or suppressed (the router before
        sending, backfill before each batch). Cheap: the marks are cached until they change."""
        ...


class AuditLog(Protocol):
    """The append-only log of admin actions."""

    def append_audit(
        self,
        actor: str,
        action: str,
        target: str,
        detail: dict[str, Any] | None = None,
        *,
        now_ms: int,
    ) -> None:
        """Append one entry (no payload values in `detail`)."""
        ...

    def audit_entries(
        self, *, limit: int = 100, before_id: int | None = None, action: str | None = None
    ) -> list[AuditEntry]:
        """The newest entries first (older than `before_id`, of one action)."""
        ...


class Retention(Protocol):
    """Dropping what is older than the configured retention."""

    def apply_retention(
        self, *, log_days: int | None, blocked_days: int | None, now_ms: int, dry_run: bool = False
    ) -> RetentionReport:
        """Remove log and blocked rows received before the cut-offs: whole partitions or ranges
        of the key, a bounded transaction at a time, never one large DELETE.

        A cut-off is the start of the UTC day `days` days before today's (None: kept for ever).
        ValueError for a day count below 1, or a log retention shorter than the dedup window.
        With `dry_run`, counts what would go and removes nothing."""
        ...


@dataclass(frozen=True, slots=True)
class OutcomeReport:
    """What a tool reports it did for a person: a message sent, delivered, opened, a journey
    triggered (Customer.io's reporting webhooks, or another tool's signed outcome webhook).

    The receiver fills what the report says; `record_reports` fills `person` and the `trigger_*`
    fields it can resolve and stamps `received_ms`. Reads return them filled."""

    source: str  # "customerio", or "webhook:<name>" for the generic outcome webhook
    event_id: str  # the tool's id of this report: stored once per (source, event_id)
    object_type: str  # email, push, in_app, sms, slack, webhook, customer, ...: any text is kept
    metric: str  # sent, delivered, opened, clicked, converted, bounced, ...: any text is kept
    at_ms: int  # when it happened, by the report's own timestamp (reads order by it)
    received_ms: int = 0  # when trackwell stored it
    person: str | None = None  # the user id it names once resolved (else the id it gave)
    customer_id: str | None = None  # as the report named the person: the tool's customer id,
    anonymous_id: str | None = None  # an anonymous id,
    email: str | None = None  # an email (normalised),
    cio_id: str | None = None  # Customer.io's own person id
    campaign_id: str | None = None  # the campaign or workflow
    broadcast_id: str | None = None
    journey_id: str | None = None  # one person's run through a campaign
    action_id: str | None = None  # the campaign's step
    delivery_id: str | None = None  # one message the tool sent
    trigger_event_id: str | None = None  # the tool's id of the event that triggered the journey
    trigger_message_id: str | None = None  # trackwell's messageId of that event, when found
    trigger_seq: int | None = None  # its log position, when found
    trigger_event: str | None = None  # its event (or page/screen) name, when found
    body: dict[str, Any] = field(default_factory=dict)  # the report as received, kept whole


@dataclass(frozen=True, slots=True)
class RecordedReports:
    """What `record_reports` did with a batch."""

    stored: int = 0
    duplicates: int = 0  # a (source, event_id) already stored: a tool's retry
    dropped: int = 0  # naming an erased or suppressed person: acknowledged, not stored
    # Of those stored, how many were tied to the logged message that triggered them.
    linked: int = 0
    # Per report, in the order given: "stored", "duplicate" or "dropped".
    results: tuple[ReportResult, ...] = ()


@dataclass(frozen=True, slots=True)
class ReportCount:
    """Reports of one source, campaign (or broadcast), object type and metric over a window."""

    source: str
    campaign_id: str | None
    broadcast_id: str | None
    object_type: str
    metric: str
    reports: int
    people: int  # distinct persons


@dataclass(frozen=True, slots=True)
class EventOutcomes:
    """For one event over a window: how many people sent it and what the tools did about it."""

    event: str
    since_ms: int
    until_ms: int
    senders: int  # distinct persons who sent the event (anonymous ids counted under their user)
    triggered: int  # of those, how many have a report whose trigger was one of these messages
    metrics: dict[str, int]  # metric -> reports triggered by those messages
    campaigns: dict[str, int]  # campaign (or broadcast) id -> distinct persons it reached


class Reports(Protocol):
    """What the tools reported doing (outcomes), linked to people and to the triggering message."""

    def record_reports(self, reports: Sequence[OutcomeReport], now_ms: int) -> RecordedReports:
        """Store reports in one transaction, once per (source, event_id); resolve each person
        (anonymous id, email, Customer.io id, else the trigger message's person) and the trackwell
        message that triggered it; drop those naming an erased or suppressed person. Raises
        StoreError when the store cannot take the write (nothing is stored then)."""
        ...

    def reports_for_person(
        self, key: str, *, limit: int = 100, since_ms: int | None = None
    ) -> list[OutcomeReport]:
        """A person's newest `limit` reports (by user id, any anonymous id or email, merged ids
        included), oldest first by the report's own time."""
        ...

    def reports_for_message(self, message_id: str) -> list[OutcomeReport]:
        """The reports a trackwell message triggered, oldest first by the report's own time."""
        ...

    def report_counts(
        self, since_ms: int, until_ms: int, *, source: str | None = None
    ) -> list[ReportCount]:
        """Reports per source, campaign, object type and metric whose own time is in
        [since_ms, until_ms) (monitors, the console)."""
        ...

    def event_outcomes(self, event: str, since_ms: int, until_ms: int) -> EventOutcomes:
        """For event `event`: the people who sent it in [since_ms, until_ms) (received time) and
        the reports those messages triggered (linked when they arrived, or naming a message's
        ULID). Reads the log's rows of the window, found by position (no index by name)."""
        ...


class Store(
    LogWriter,
    Timelines,
    Queues,
    Replays,
    Rollups,
    Browsing,
    Privacy,
    AuditLog,
    Retention,
    Reports,
    Protocol,
):
    """Durable storage for the log, profiles, identities and delivery queues: every role at once.

    A backend implements this; a consumer asks only for the roles it uses (the router for
    `Queues`, the monitors for `Rollups` and `Browsing`, ...), so the type checker proves what
    each one may touch."""

    url: str

    def close(self) -> None:
        """Close every connection."""
        ...
