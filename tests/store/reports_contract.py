"""The outcome-reports part of the Store contract: what the tools reported doing, stored once,
linked to people and to the trackwell message that triggered it, written against the protocol.

A backend's test module subclasses `ReportsContract` next to `StoreContract`, with the same
`store` fixture.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from tests.store.contract import NOW, NOW_MS, at_ms, identify, now_ms, track
from trackwell.core.ids import event_ulid
from trackwell.core.time import DAY_MS
from trackwell.pipeline.accept import Accepted, accept
from trackwell.plan import Plan
from trackwell.quality.compiled import CompiledPlan, compile_plan
from trackwell.store import OutcomeReport, Store


def report(
    event_id: str,
    metric: str = "sent",
    *,
    minute: float = 40,
    source: str = "customerio",
    **fields: Any,
) -> OutcomeReport:
    """A report of an email, `minute` minutes into the hour before NOW."""
    values: dict[str, Any] = {
        "source": source,
        "event_id": event_id,
        "object_type": "email",
        "metric": metric,
        "at_ms": at_ms(minute),
        "campaign_id": "7",
        "body": {"event_id": event_id, "metric": metric, "object_type": "email"},
    }
    values.update(fields)
    return OutcomeReport(**values)


class ReportsContract:
    """Outcome reports on every backend. Provide a `store` fixture."""

    @pytest.fixture
    def compiled(self, example_plan: Plan) -> CompiledPlan:
        """The example plan, compiled."""
        return compile_plan(example_plan)

    def write(
        self, store: Store, compiled: CompiledPlan, *messages: dict[str, Any]
    ) -> list[Accepted]:
        """Messages through the real pipeline, as one batch."""
        return accept(store, compiled, list(messages), received_at=NOW)

    def test_a_report_is_stored_once_per_source_and_event_id(self, store: Store) -> None:
        first = store.record_reports([report("r1", customer_id="ann")], now_ms())
        again = store.record_reports(
            [report("r1", customer_id="ann"), report("r1", customer_id="ann")], now_ms()
        )
        other_tool = store.record_reports(
            [report("r1", source="webhook:braze", customer_id="ann")], now_ms()
        )
        assert (first.stored, first.duplicates) == (1, 0)
        assert (again.stored, again.duplicates) == (0, 2)
        assert again.results == ("duplicate", "duplicate")
        assert (other_tool.stored, other_tool.duplicates) == (1, 0)
        assert sorted(r.source for r in store.reports_for_person("ann")) == [
            "customerio",
            "webhook:braze",
        ]

    def test_a_report_is_linked_to_the_message_customerio_received(
        self, store: Store, compiled: CompiledPlan
    ) -> None:
        (accepted,) = self.write(store, compiled, track("m1", "ann", minute=30))
        # Customer.io names the triggering event by the ULID trackwell sent it under.
        ulid = event_ulid("m1", at_ms(30))
        recorded = store.record_reports(
            [report("r1", customer_id="ann", trigger_event_id=ulid)], now_ms()
        )
        assert (recorded.stored, recorded.linked) == (1, 1)
        (found,) = store.reports_for_message("m1")
        assert found.trigger_message_id == "m1"
        assert found.trigger_seq == accepted.seq
        assert found.trigger_event == "Feature Used"
        assert found.person == "ann"
        assert found.received_ms > 0
        assert store.reports_for_message("m-unknown") == []

    def test_a_generic_report_is_linked_by_the_trackwell_message_id(
        self, store: Store, compiled: CompiledPlan
    ) -> None:
        self.write(store, compiled, track("m1", "ann", minute=30))
        store.record_reports(
            [report("g1", source="webhook:braze", trigger_message_id="m1")], now_ms()
        )
        (found,) = store.reports_for_message("m1")
        # Named by nobody but its trigger: the person is the message's.
        assert found.person == "ann" and found.trigger_event == "Feature Used"

    def test_reports_read_in_the_order_they_happened_not_arrived(self, store: Store) -> None:
        store.record_reports([report("r2", "delivered", minute=45, customer_id="ann")], now_ms())
        store.record_reports([report("r3", "opened", minute=50, customer_id="ann")], now_ms())
        store.record_reports([report("r1", "sent", minute=40, customer_id="ann")], now_ms())
        assert [r.metric for r in store.reports_for_person("ann")] == [
            "sent",
            "delivered",
            "opened",
        ]
        # The newest two, still oldest first; and only those since a time.
        assert [r.metric for r in store.reports_for_person("ann", limit=2)] == [
            "delivered",
            "opened",
        ]
        assert [r.metric for r in store.reports_for_person("ann", since_ms=at_ms(44))] == [
            "delivered",
            "opened",
        ]

    def test_unknown_metrics_and_object_types_are_kept_whole(self, store: Store) -> None:
        body = {"event_id": "r1", "metric": "teleported", "data": {"new_field": [1, 2]}}
        store.record_reports(
            [report("r1", "teleported", object_type="hologram", customer_id="ann", body=body)],
            now_ms(),
        )
        (found,) = store.reports_for_person("ann")
        assert (found.metric, found.object_type, found.body) == ("teleported", "hologram", body)

    def test_an_anonymous_report_joins_the_person_after_a_later_merge(
        self, store: Store, compiled: CompiledPlan
    ) -> None:
        self.write(store, compiled, track("m-anon", None, anonymous_id="anon-1", minute=20))
        ulid = event_ulid("m-anon", at_ms(20))
        # Customer.io already knows the person (the merge reached it first); trackwell not yet.
        store.record_reports(
            [report("r1", customer_id="ann", trigger_event_id=ulid, minute=21)], now_ms()
        )
        store.record_reports([report("r2", anonymous_id="anon-1", minute=22)], now_ms())
        assert [r.event_id for r in store.reports_for_person("anon-1")] == ["r2"]

        self.write(store, compiled, identify("i1", "ann", anonymous_id="anon-1", minute=25))

        assert [r.event_id for r in store.reports_for_person("ann")] == ["r1", "r2"]
        assert [r.event_id for r in store.reports_for_person("anon-1")] == ["r1", "r2"]
        # Not linked when it arrived, found from the message's side now.
        assert [r.event_id for r in store.reports_for_message("m-anon")] == ["r1"]
        # ... and counted for the event: the anonymous sender is ann now.
        outcomes = store.event_outcomes("Feature Used", NOW_MS - DAY_MS, now_ms() + 1)
        assert (outcomes.senders, outcomes.triggered, outcomes.metrics) == (1, 1, {"sent": 1})
        # A report arriving after the merge is linked at once.
        recorded = store.record_reports(
            [report("r3", "opened", customer_id="ann", trigger_event_id=ulid, minute=30)],
            now_ms(),
        )
        assert recorded.linked == 1

    def test_a_report_naming_only_an_email_or_a_customerio_id_finds_its_person(
        self, store: Store, compiled: CompiledPlan
    ) -> None:
        self.write(store, compiled, identify("i1", "ann", minute=10, email="Ann@Example.com"))
        store.record_reports(
            [
                report("r1", email="ann@example.com"),
                report("r2", cio_id="c0ffee", minute=41),
            ],
            now_ms(),
        )
        by_email = store.reports_for_person("ann@example.com")
        assert [r.event_id for r in by_email] == ["r1"] and by_email[0].person == "ann"
        assert [r.event_id for r in store.reports_for_person("ann")] == ["r1"]
        (by_cio,) = store.reports_for_person("c0ffee")
        assert by_cio.person == "cio_c0ffee"

    def test_erasing_a_person_removes_their_reports_and_refuses_new_ones(
        self, store: Store, compiled: CompiledPlan
    ) -> None:
        self.write(store, compiled, track("m1", "ann", minute=30), track("m2", "bob", minute=30))
        ulid = event_ulid("m1", at_ms(30))
        store.record_reports(
            [
                report("r1", customer_id="ann"),
                report("r2", email="ann@example.com"),
                # Names nobody but is triggered by one of Ann's messages.
                report("r3", trigger_event_id="x", trigger_message_id="m1"),
                report("r4", customer_id="bob"),
            ],
            now_ms(),
        )
        request = store.erase(
            dataclasses.replace(store.resolve("ann"), emails=("ann@example.com",)),
            request_id="req-1",
            actor="cli",
            destinations=[],
            now_ms=now_ms(),
        )
        assert request.erased["reports"] == 3
        assert store.reports_for_person("ann") == []
        assert store.reports_for_message("m1") == []
        assert [r.event_id for r in store.reports_for_person("bob")] == ["r4"]
        later = store.record_reports(
            [
                report("r5", customer_id="ann", trigger_event_id=ulid),
                report("r6", email="ANN@example.com"),
            ],
            now_ms(),
        )
        assert (later.stored, later.dropped) == (0, 2)
        assert store.reports_for_person("ann") == []

    def test_reports_follow_the_logs_retention(self, store: Store) -> None:
        now = now_ms()
        store.record_reports(
            [
                report("old", customer_id="ann", received_ms=now - 30 * DAY_MS),
                report("new", customer_id="ann"),
            ],
            now,
        )
        dry = store.apply_retention(log_days=10, blocked_days=None, now_ms=now, dry_run=True)
        assert dry.report_rows == 1
        assert len(store.reports_for_person("ann")) == 2
        done = store.apply_retention(log_days=10, blocked_days=None, now_ms=now)
        assert done.report_rows == 1
        assert [r.event_id for r in store.reports_for_person("ann")] == ["new"]

    def test_counts_per_campaign_and_metric_over_a_window(self, store: Store) -> None:
        store.record_reports(
            [
                report("r1", "sent", customer_id="ann"),
                report("r2", "sent", customer_id="bob"),
                report("r3", "opened", customer_id="ann"),
                report("r4", "sent", customer_id="ann", campaign_id=None, broadcast_id="3"),
                report("r5", "sent", customer_id="cy", minute=5),  # before the window
            ],
            now_ms(),
        )
        counts = store.report_counts(at_ms(30), at_ms(60))
        assert [(c.campaign_id, c.broadcast_id, c.metric, c.reports, c.people) for c in counts] == [
            (None, "3", "sent", 1, 1),
            ("7", None, "opened", 1, 1),
            ("7", None, "sent", 2, 2),
        ]
        assert store.report_counts(at_ms(30), at_ms(60), source="webhook:other") == []

    def test_event_outcomes_count_senders_and_the_people_a_journey_reached(
        self, store: Store, compiled: CompiledPlan
    ) -> None:
        self.write(
            store,
            compiled,
            track("m1", "ann", minute=10),
            track("m2", "bob", minute=11),
            track("m3", None, anonymous_id="anon-cy", minute=12),
            track("m4", "ann", minute=13),
        )
        store.record_reports(
            [
                report(
                    "r1", "sent", customer_id="ann", trigger_event_id=event_ulid("m1", at_ms(10))
                ),
                report(
                    "r2", "opened", customer_id="ann", trigger_event_id=event_ulid("m1", at_ms(10))
                ),
                report(
                    "r3", "sent", customer_id="bob", trigger_event_id=event_ulid("m2", at_ms(11))
                ),
            ],
            now_ms(),
        )
        outcomes = store.event_outcomes("Feature Used", NOW_MS - DAY_MS, now_ms() + 1)
        assert outcomes.senders == 3
        assert outcomes.triggered == 2
        assert outcomes.metrics == {"opened": 1, "sent": 2}
        assert outcomes.campaigns == {"7": 2}
        assert store.event_outcomes("Other Event", NOW_MS - DAY_MS, now_ms()).senders == 0
        # Messages received outside the window count for nothing, nor do their reports.
        before = store.event_outcomes("Feature Used", NOW_MS - DAY_MS, NOW_MS)
        assert (before.senders, before.triggered, before.metrics) == (0, 0, {})
