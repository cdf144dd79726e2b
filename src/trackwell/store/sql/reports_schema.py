"""The table of migration `0010_reports`, written once for SQLite and PostgreSQL."""

from __future__ import annotations


def reports_schema(serial_key: str, bigint: str) -> list[str]:
    """The statements of `0010_reports`, given the backend's auto-numbered key and 64-bit
    integer types."""
    return [
        # One row per report a tool sent (Customer.io's reporting webhooks, a signed outcome
        # webhook). `(source, event_id)` is unique: a tool retrying a report stores it once.
        # `body` keeps the report whole, so metrics and fields not known here are never lost.
        f"CREATE TABLE reports (id {serial_key}, source TEXT NOT NULL, event_id TEXT NOT NULL,"
        f" object_type TEXT NOT NULL, metric TEXT NOT NULL, at_ms {bigint} NOT NULL,"
        f" received_ms {bigint} NOT NULL, person TEXT, customer_id TEXT, anonymous_id TEXT,"
        " email TEXT, cio_id TEXT, campaign_id TEXT, broadcast_id TEXT, journey_id TEXT,"
        " action_id TEXT, delivery_id TEXT, trigger_event_id TEXT, trigger_message_id TEXT,"
        f" trigger_seq {bigint}, trigger_event TEXT, body TEXT NOT NULL,"
        " UNIQUE (source, event_id))",
        # A person's reports (and an erase's deletes) by the resolved person or by email.
        "CREATE INDEX reports_person ON reports (person, at_ms) WHERE person IS NOT NULL",
        "CREATE INDEX reports_email ON reports (email) WHERE email IS NOT NULL",
        # What one message triggered: by trackwell's messageId, or by the tool's event id (a
        # report stored before its message could be found).
        "CREATE INDEX reports_trigger_message ON reports (trigger_message_id)"
        " WHERE trigger_message_id IS NOT NULL",
        "CREATE INDEX reports_trigger_event_id ON reports (trigger_event_id)"
        " WHERE trigger_event_id IS NOT NULL",
        # An erase removes the reports of the person's log rows by position.
        "CREATE INDEX reports_trigger_seq ON reports (trigger_seq) WHERE trigger_seq IS NOT NULL",
        # What an event triggered over a window (`event_outcomes`), counts over a window
        # (monitors) and retention (by arrival).
        "CREATE INDEX reports_trigger_event ON reports (trigger_event, at_ms)"
        " WHERE trigger_event IS NOT NULL",
        "CREATE INDEX reports_at ON reports (at_ms)",
        "CREATE INDEX reports_received ON reports (received_ms)",
    ]
