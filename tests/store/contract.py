"""The Store contract: what every backend must do, written against the protocol only.

A backend's test module subclasses `StoreContract` and provides a `store` fixture that yields a
fresh, empty store (see `test_sqlite_contract.py`). Nothing here may reach past the `Store`
protocol, `open_store` and `trackwell.pipeline.accept`, so PostgreSQL can run it unchanged.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from trackwell.core.operations import cio_external_id
from trackwell.pipeline.accept import Accepted, accept, prepare
from trackwell.plan import Plan, PropertySpec
from trackwell.quality.compiled import CompiledPlan, compile_plan
from trackwell.store import (
    Delivery,
    DeliveryFilter,
    DeliveryResult,
    DeliveryStats,
    Store,
    StoreError,
    Timeline,
    open_store,
)

# Every message is received at NOW; action times are minutes into the hour before it.
NOW = datetime.now(UTC).replace(microsecond=0)
NOW_MS = int(NOW.timestamp() * 1000)
HOOK = "hook"
FEATURE = {"feature_name": "projects"}
INVITE = {"invitee_role": "member", "invite_method": "email"}


def at(minute: float) -> str:
    """An action time `minute` minutes into the hour before NOW (ISO-8601)."""
    return (NOW - timedelta(minutes=60 - minute)).isoformat()


def at_ms(minute: float) -> int:
    """`at(minute)` in Unix milliseconds."""
    return int((NOW - timedelta(minutes=60 - minute)).timestamp() * 1000)


def now_ms() -> int:
    """The wall clock in milliseconds, the `now_ms` a router would pass."""
    return int(time.time() * 1000)


def track(
    message_id: str,
    user_id: str | None = "user-1",
    *,
    minute: float = 30,
    anonymous_id: str | None = None,
    event: str = "Feature Used",
    properties: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A valid track message in wire form."""
    message: dict[str, Any] = {
        "type": "track",
        "messageId": message_id,
        "event": event,
        "properties": dict(FEATURE if properties is None else properties),
        "timestamp": at(minute),
    }
    if user_id is not None:
        message["userId"] = user_id
    if anonymous_id is not None:
        message["anonymousId"] = anonymous_id
    return message


def page(
    message_id: str,
    anonymous_id: str | None,
    *,
    minute: float,
    name: str = "Pricing",
    user_id: str | None = None,
) -> dict[str, Any]:
    """A planned page view, anonymous unless `user_id` is given."""
    message: dict[str, Any] = {
        "type": "page",
        "messageId": message_id,
        "name": name,
        "timestamp": at(minute),
    }
    if anonymous_id is not None:
        message["anonymousId"] = anonymous_id
    if user_id is not None:
        message["userId"] = user_id
    return message


def identify(
    message_id: str,
    user_id: str,
    *,
    minute: float,
    anonymous_id: str | None = None,
    **traits: Any,
) -> dict[str, Any]:
    """An identify with the plan's required traits (override any of them)."""
    message: dict[str, Any] = {
        "type": "identify",
        "messageId": message_id,
        "userId": user_id,
        "traits": {"email": f"{user_id}@example.com", "created_at": 1_700_000_000, **traits},
        "timestamp": at(minute),
    }
    if anonymous_id is not None:
        message["anonymousId"] = anonymous_id
    return message


def alias(message_id: str, previous_id: str, user_id: str, *, minute: float) -> dict[str, Any]:
    """An alias tying `previous_id` to `user_id`."""
    return {
        "type": "alias",
        "messageId": message_id,
        "previousId": previous_id,
        "userId": user_id,
        "timestamp": at(minute),
    }


def message_ids(timeline: Timeline) -> list[str]:
    """The messageIds of a timeline, in its order."""
    return [entry.message["messageId"] for entry in timeline.entries]


def seqs(deliveries: list[Delivery]) -> list[int]:
    """The log positions of claimed deliveries."""
    return [d.seq for d in deliveries]


def claimed_ids(deliveries: list[Delivery]) -> list[str]:
    """The messageIds of claimed deliveries, in claim order."""
    return [d.message["messageId"] for d in deliveries]


def claim_all(store: Store, destination: str, now: int) -> list[str]:
    """Claim (without acking) until nothing more comes; the messageIds in claim order."""
    found: list[str] = []
    for _ in range(100):
        batch = store.claim(destination, 10, now)
        if not batch:
            return found
        found += claimed_ids(batch)
    raise AssertionError(f"{destination}: claims never ran dry")


def codes(violations: Any) -> set[str]:
    """Violation codes from Violation objects or their stored dict form."""
    return {v["code"] if isinstance(v, dict) else v.code for v in violations}


class StoreContract:
    """Behaviour every Store backend must show. Subclass it and provide a `store` fixture."""

    @pytest.fixture
    def compiled(self, example_plan: Plan) -> CompiledPlan:
        return compile_plan(example_plan)

    def write(
        self,
        store: Store,
        compiled: CompiledPlan,
        *messages: dict[str, Any],
        received_at: datetime = NOW,
    ) -> list[Accepted]:
        """Messages through the real pipeline, as one batch."""
        return accept(store, compiled, list(messages), received_at=received_at)

    def stats(self, store: Store, destination: str = HOOK) -> DeliveryStats:
        found = [s for s in store.delivery_stats(now_ms()) if s.destination == destination]
        assert len(found) == 1, f"no stats for {destination!r}"
        return found[0]

    # -- the log ------------------------------------------------------------------------------

    def test_a_large_batch_is_stored_whole_with_its_duplicates_and_people(
        self, store: Store, compiled: CompiledPlan
    ) -> None:
        # Far more rows than one multi-row INSERT takes: the statements are cut into parts.
        messages = [track(f"big-{i}", f"user-{i % 300}", minute=i / 100) for i in range(1000)]
        messages += [track(f"big-{i}", f"user-{i % 300}") for i in range(0, 1000, 7)]  # repeats
        accepted = self.write(store, compiled, *messages)
        assert sum(not a.duplicate for a in accepted) == 1000
        assert sum(a.duplicate for a in accepted) == len(range(0, 1000, 7))
        assert store.count() == 1000
        positions = [a.seq for a in accepted[:1000]]
        assert positions == sorted(positions) and len(set(positions)) == 1000  # type: ignore[type-var]
        # user-0 acted at minutes 0, 3, 6 and 9 (its repeat at minute 30 was a duplicate).
        profile = store.profile("user-0")
        assert profile is not None
        assert (profile.first_seen_ms, profile.last_seen_ms) == (at_ms(0), at_ms(9))
        assert store.profile("user-299") is not None and store.profile("user-300") is None
        stored = store.get("big-999")
        assert stored is not None and stored.seq == accepted[999].seq

    def test_new_profiles_and_their_identifies_are_counted_once(
        self, store: Store, compiled: CompiledPlan
    ) -> None:
        today = int(time.time() * 1000) // 86_400_000
        self.write(
            store,
            compiled,
            track("n1", "old-1"),
            track("n2", "old-2"),
            identify("n3", "new-1", minute=31),
        )
        self.write(
            store,
            compiled,
            track("n4", "old-1"),  # known since the batch before
            track("n5", "new-2"),
            track("n6", "new-2"),  # twice in one batch, one profile
            identify("n7", "old-2", minute=32),  # an identify of someone already known
        )
        (day,) = store.people_rollups(today, today)
        assert (day.new_profiles, day.identifies, day.identifies_of_new) == (4, 2, 1)

    def test_write_batch_keeps_batch_order_and_seqs_grow_across_batches(
        self, store: Store, compiled: CompiledPlan
    ) -> None:
        first = self.write(store, compiled, *(track(f"m{i}", minute=50 - i) for i in range(5)))
        second = self.write(store, compiled, track("m5", minute=1), track("m6", minute=2))

        assert [a.message_id for a in first + second] == [f"m{i}" for i in range(7)]
        positions = [a.seq or 0 for a in first + second]
        assert all(seq > 0 for seq in positions)
        assert positions == sorted(positions) and len(set(positions)) == 7  # arrival order
        assert store.count() == 7
        for accepted in first + second:
            entry = store.get(accepted.message_id)
            assert entry is not None and entry.seq == accepted.seq

    def test_write_batch_reports_one_written_per_message(
        self, store: Store, compiled: CompiledPlan
    ) -> None:
        batch = [prepare(compiled, m, NOW) for m in (track("a"), track("b"), track("a"))]
        written = store.write_batch(batch)
        assert [w.message_id for w in written] == ["a", "b", "a"]
        assert [w.duplicate for w in written] == [False, False, True]
        assert written[0].seq is not None and written[1].seq is not None
        assert written[0].seq < written[1].seq
        assert store.write_batch([]) == []

    def test_get_returns_the_stored_wire_message(
        self, store: Store, compiled: CompiledPlan
    ) -> None:
        self.write(store, compiled, track("m1", "user-7", minute=12))
        entry = store.get("m1")
        assert entry is not None
        assert entry.verdict == "accepted"
        assert entry.violations == []
        assert entry.message["type"] == "track"
        assert entry.message["userId"] == "user-7"
        assert entry.message["event"] == "Feature Used"
        assert entry.message["properties"] == FEATURE
        assert entry.message["timestamp"].startswith(at(12)[:19])
        assert store.get("never-written") is None

    def test_a_message_id_repeated_in_one_batch_is_stored_once(
        self, store: Store, compiled: CompiledPlan
    ) -> None:
        result = self.write(
            store,
            compiled,
            track("same", minute=1, properties={"feature_name": "projects"}),
            track("same", minute=2, properties={"feature_name": "reports"}),
        )
        assert [a.duplicate for a in result] == [False, True]
        assert store.count() == 1
        entry = store.get("same")
        assert entry is not None and entry.message["properties"] == {"feature_name": "projects"}

    def test_a_message_id_seen_in_an_earlier_batch_is_stored_once(
        self, store: Store, compiled: CompiledPlan
    ) -> None:
        self.write(store, compiled, track("retry-me", minute=1), track("other", minute=2))
        again = self.write(
            store, compiled, track("retry-me", minute=5, properties={"feature_name": "reports"})
        )
        assert again[0].duplicate is True
        assert store.count() == 2
        entry = store.get("retry-me")
        assert entry is not None and entry.message["properties"] == FEATURE  # the first copy

    def test_blocked_messages_are_kept_with_their_violations(
        self, store: Store, compiled: CompiledPlan
    ) -> None:
        result = self.write(
            store,
            compiled,
            track("typo", event="Feature Usedd", minute=3),
            track("placeholder", "undefined", minute=4),
            track("fine", minute=5),
        )
        assert [a.verdict for a in result] == ["blocked", "blocked", "accepted"]
        assert result[0].seq is None and result[1].seq is None
        assert store.count() == 1  # blocked messages are not in the log

        typo = store.get("typo")
        assert typo is not None
        assert typo.verdict == "blocked" and typo.seq is None
        assert codes(typo.violations) == {"unplanned_event"}
        assert typo.violations[0]["path"] == "event"
        assert typo.message["event"] == "Feature Usedd"
        placeholder = store.get("placeholder")
        assert placeholder is not None and placeholder.verdict == "blocked"
        assert "invalid_identity" in codes(placeholder.violations)

        timeline = store.timeline("user-1")
        assert [(e.message["messageId"], e.verdict) for e in timeline.entries] == [
            ("typo", "blocked"),
            ("fine", "accepted"),
        ]

    def test_a_timeline_keeps_arrival_order_within_one_millisecond(
        self, store: Store, compiled: CompiledPlan
    ) -> None:
        # Same action time to the millisecond: arrival order decides, blocked or not, within a
        # batch and across batches (a blocked one used to be sorted first).
        self.write(
            store,
            compiled,
            track("first", minute=7),
            track("typo-1", event="Feature Usedd", minute=7),
            track("second", minute=7),
        )
        self.write(store, compiled, track("typo-2", event="Feature Usedd", minute=7))
        self.write(
            store,
            compiled,
            track("third", minute=7),
            track("typo-3", event="Feature Usedd", minute=7),
        )
        self.write(store, compiled, track("earlier", minute=6))
        timeline = store.timeline("user-1")
        assert [e.message["messageId"] for e in timeline.entries] == [
            "earlier",
            "first",
            "typo-1",
            "second",
            "typo-2",
            "third",
            "typo-3",
        ]

    def test_rollups_count_the_codes_that_blocked_each_sources_messages(
        self, store: Store, compiled: CompiledPlan
    ) -> None:
        messages = [
            track("typo-1", event="Feature Usedd"),
            track("typo-2", event="Feature Usedd"),
            track("placeholder", "undefined"),
            track("fine"),
        ]
        accept(store, compiled, messages, received_at=NOW, source="web")
        accept(store, compiled, [track("other", event="Feature Usedd")], received_at=NOW)
        day = NOW_MS // 86_400_000
        blocking = {
            (source, name, code): n
            for _d, source, name, code, n in store.blocking_counts(day - 1, day + 1)
        }
        assert blocking[("web", "Feature Usedd", "unplanned_event")] == 2
        assert blocking[("web", "Feature Used", "invalid_identity")] == 1
        assert sum(n for (source, _, _), n in blocking.items() if source == "web") == 3
        assert not any(code == "strict_mode" for _s, _n, code in blocking)
        # Every code is still counted as before, whether it blocked or not.
        counted = {(s, name, code) for _d, s, name, code, _n in store.violation_counts(day, day)}
        assert ("web", "Feature Usedd", "unplanned_event") in counted

    def test_a_blocked_message_resent_fixed_with_the_same_id_is_stored(
        self, store: Store, compiled: CompiledPlan
    ) -> None:
        self.write(store, compiled, track("fix-me", event="Feature Usedd"))
        fixed = self.write(store, compiled, track("fix-me"))
        assert fixed[0].duplicate is False and fixed[0].verdict == "accepted"
        assert store.count() == 1
        entry = store.get("fix-me")
        assert entry is not None and entry.verdict == "accepted"

    def test_repaired_messages_are_logged_with_their_violations(
        self, store: Store, compiled: CompiledPlan
    ) -> None:
        self.write(store, compiled, track("extra", properties={**FEATURE, "colour": "blue"}))
        entry = store.get("extra")
        assert entry is not None
        assert entry.verdict == "repaired" and entry.seq is not None
        assert codes(entry.violations) == {"unplanned_property"}
        assert entry.message["properties"] == FEATURE  # the unplanned key was omitted
        assert store.count() == 1

    # -- profiles -------------------------------------------------------------------------------

    def test_identify_creates_a_profile_and_a_later_one_updates_only_its_traits(
        self, store: Store, compiled: CompiledPlan
    ) -> None:
        self.write(store, compiled, identify("i1", "u1", minute=10, name="Ada", plan="free"))
        first = store.profile("u1")
        assert first is not None
        assert first.traits == {
            "email": "u1@example.com",
            "created_at": 1_700_000_000,
            "name": "Ada",
            "plan": "free",
        }
        assert first.trait_times["plan"] == at_ms(10)

        self.write(store, compiled, identify("i2", "u1", minute=20, plan="pro"))
        later = store.profile("u1")
        assert later is not None
        assert later.traits["plan"] == "pro"
        assert later.traits["name"] == "Ada"  # not carried by the later identify: kept
        assert later.trait_times["plan"] == at_ms(20)
        assert later.trait_times["name"] == at_ms(10)

    def test_an_older_identify_arriving_late_does_not_overwrite_newer_traits(
        self, store: Store, compiled: CompiledPlan
    ) -> None:
        self.write(store, compiled, identify("new", "u1", minute=40, plan="pro"))
        self.write(
            store, compiled, identify("old", "u1", minute=5, plan="free", lifecycle_stage="trial")
        )
        profile = store.profile("u1")
        assert profile is not None
        assert profile.traits["plan"] == "pro"
        assert profile.trait_times["plan"] == at_ms(40)
        # A trait the newer identify never set is still filled in from the older one.
        assert profile.traits["lifecycle_stage"] == "trial"
        # ...and the late identify still counts for first seen.
        assert profile.first_seen_ms == at_ms(5)

    def test_an_older_identify_in_the_same_batch_does_not_overwrite_newer_traits(
        self, store: Store, compiled: CompiledPlan
    ) -> None:
        self.write(
            store,
            compiled,
            identify("new", "u1", minute=40, plan="pro"),
            identify("old", "u1", minute=5, plan="free"),
        )
        profile = store.profile("u1")
        assert profile is not None and profile.traits["plan"] == "pro"

    def test_first_and_last_seen_follow_action_time_not_arrival(
        self, store: Store, compiled: CompiledPlan
    ) -> None:
        self.write(store, compiled, track("t1", "u1", minute=30))
        self.write(store, compiled, track("t2", "u1", minute=45), track("t0", "u1", minute=10))
        self.write(store, compiled, track("t3", "u1", minute=20))
        profile = store.profile("u1")
        assert profile is not None
        assert profile.user_id == "u1"
        assert profile.first_seen_ms == at_ms(10)
        assert profile.last_seen_ms == at_ms(45)
        assert store.profile("nobody") is None

    # -- identity ---------------------------------------------------------------------------------

    @pytest.mark.parametrize("batches", ["one batch", "one batch per message"])
    def test_anonymous_page_views_then_signup_then_events_are_one_timeline(
        self, store: Store, compiled: CompiledPlan, batches: str
    ) -> None:
        journey = [
            page("pv1", "anon-1", minute=1),
            page("pv2", "anon-1", minute=2, name="Integrations"),
            identify("signup", "u1", minute=3, anonymous_id="anon-1"),
            track("ev1", "u1", minute=4),
            track("ev2", "u1", minute=6),
            page("pv3", "anon-1", minute=5, name="Help Center"),  # the cookie, after signup
            page("stranger", "anon-2", minute=2),
        ]
        if batches == "one batch":
            self.write(store, compiled, *journey)
        else:
            for message in journey:
                self.write(store, compiled, message)

        expected = ["pv1", "pv2", "signup", "ev1", "pv3", "ev2"]  # action-time order
        by_user = store.timeline("u1")
        by_anonymous = store.timeline("anon-1")
        assert message_ids(by_user) == expected
        assert message_ids(by_anonymous) == expected
        assert by_user.anonymous_ids == ("anon-1",)
        assert by_user.profile is not None and by_user.profile.user_id == "u1"
        assert by_anonymous.profile is not None and by_anonymous.profile.user_id == "u1"
        profile = store.profile("anon-1")
        assert profile is not None
        assert profile.user_id == "u1" and profile.anonymous_ids == ("anon-1",)
        assert message_ids(store.timeline("anon-2")) == ["stranger"]

        merges = store.merges("u1")
        assert [(m.kind, m.anonymous_id, m.user_id, m.message_id, m.outcome) for m in merges] == [
            ("identify", "anon-1", "u1", "signup", "merged")
        ]

    def test_an_unknown_anonymous_visitor_has_a_timeline_but_no_profile(
        self, store: Store, compiled: CompiledPlan
    ) -> None:
        self.write(
            store, compiled, page("pv1", "anon-9", minute=1), page("pv2", "anon-9", minute=2)
        )
        timeline = store.timeline("anon-9")
        assert message_ids(timeline) == ["pv1", "pv2"]
        assert timeline.profile is None
        assert store.profile("anon-9") is None
        assert message_ids(store.timeline("nobody-at-all")) == []

    def test_alias_merges_a_previous_anonymous_id(
        self, store: Store, compiled: CompiledPlan
    ) -> None:
        self.write(store, compiled, page("pv1", "anon-1", minute=1))
        self.write(store, compiled, track("ev1", "u1", minute=3))
        result = self.write(store, compiled, alias("al", "anon-1", "u1", minute=4))
        assert result[0].verdict == "accepted" and result[0].violations == ()

        assert message_ids(store.timeline("u1")) == ["pv1", "ev1", "al"]
        assert message_ids(store.timeline("anon-1")) == ["pv1", "ev1", "al"]
        merges = store.merges("anon-1")
        assert [(m.kind, m.anonymous_id, m.user_id, m.outcome) for m in merges] == [
            ("alias", "anon-1", "u1", "merged")
        ]
        # A server's alias names no anonymousId; the stored one says previousId is this person's
        # anonymous id, so a tool ties the visitor's history instead of merging two people.
        stored = store.get("al")
        assert stored is not None and stored.message["anonymousId"] == "anon-1"

    @pytest.mark.parametrize("placeholder", ["undefined", "null", "0", "guest"])
    def test_placeholder_ids_never_merge(
        self, store: Store, compiled: CompiledPlan, placeholder: str
    ) -> None:
        self.write(store, compiled, page("pv-other", placeholder, minute=1), track("t", "u1"))
        result = self.write(
            store,
            compiled,
            identify("id", "u1", minute=2, anonymous_id=placeholder),
            alias("al", placeholder, "u2", minute=3),
        )
        assert [a.verdict for a in result] == ["blocked", "blocked"]
        assert "invalid_identity" in codes(result[0].violations)
        assert "invalid_identity" in codes(result[1].violations)
        assert store.merges() == []
        assert store.timeline("u1").anonymous_ids == ()
        assert "pv-other" not in message_ids(store.timeline("u1"))
        assert "pv-other" not in message_ids(store.timeline("u2"))

    def test_an_anonymous_id_of_one_person_is_not_moved_to_another(
        self, store: Store, compiled: CompiledPlan
    ) -> None:
        self.write(store, compiled, page("pv1", "anon-1", minute=1))
        self.write(store, compiled, identify("id-a", "user-a", minute=2, anonymous_id="anon-1"))
        result = self.write(
            store, compiled, identify("id-b", "user-b", minute=3, anonymous_id="anon-1")
        )

        assert "identity_conflict" in codes(result[0].violations)
        stored = store.get("id-b")
        assert stored is not None
        assert "identity_conflict" in codes(stored.violations)
        conflict = next(v for v in stored.violations if v["code"] == "identity_conflict")
        assert conflict["path"] == "anonymousId"
        assert "user-a" in conflict["message"]

        owner = store.profile("anon-1")
        assert owner is not None and owner.user_id == "user-a"
        assert "pv1" in message_ids(store.timeline("user-a"))
        assert "pv1" not in message_ids(store.timeline("user-b"))
        assert store.timeline("user-b").anonymous_ids == ()

        outcomes = [(m.user_id, m.anonymous_id, m.outcome) for m in store.merges()]
        assert outcomes == [("user-a", "anon-1", "merged"), ("user-b", "anon-1", "conflict")]
        conflict_record = store.merges("user-b")[-1]
        assert conflict_record.message_id == "id-b" and "user-a" in conflict_record.detail

    @pytest.mark.parametrize("batches", ["separate batches", "one batch"])
    def test_an_identified_user_is_never_aliased_into_another(
        self, store: Store, compiled: CompiledPlan, batches: str
    ) -> None:
        messages = [
            identify("id-a", "user-a", minute=1),
            track("ev-a", "user-a", minute=2),
            identify("id-b", "user-b", minute=3),
            alias("al", "user-a", "user-b", minute=4),
        ]
        if batches == "one batch":
            result = self.write(store, compiled, *messages)
        else:
            result = [self.write(store, compiled, m)[0] for m in messages]

        assert "identity_conflict" in codes(result[-1].violations)
        stored = store.get("al")
        assert stored is not None and "identity_conflict" in codes(stored.violations)
        refused = [m for m in store.merges() if m.message_id == "al"]
        assert [(m.kind, m.anonymous_id, m.user_id, m.outcome) for m in refused] == [
            ("alias", "user-a", "user-b", "refused")
        ]
        assert refused[0].detail
        profile_a = store.profile("user-a")
        assert profile_a is not None and profile_a.user_id == "user-a"
        assert "ev-a" not in message_ids(store.timeline("user-b"))
        assert "anonymousId" not in stored.message  # two known people: a merge, said as such
        assert message_ids(store.timeline("user-a")) == ["id-a", "ev-a"]

    def test_the_merge_log_records_who_when_how_and_why(
        self, store: Store, compiled: CompiledPlan
    ) -> None:
        before = now_ms()
        self.write(store, compiled, identify("i1", "u1", minute=1, anonymous_id="anon-1"))
        self.write(store, compiled, identify("i1b", "u1", minute=2, anonymous_id="anon-1"))
        self.write(store, compiled, alias("a1", "anon-2", "u1", minute=3))
        self.write(store, compiled, identify("i2", "u2", minute=4, anonymous_id="anon-3"))
        after = now_ms()

        everyone = store.merges()
        # Re-identifying with an anonymous id already tied to the same person logs nothing.
        assert [(m.kind, m.anonymous_id, m.user_id, m.message_id, m.outcome) for m in everyone] == [
            ("identify", "anon-1", "u1", "i1", "merged"),
            ("alias", "anon-2", "u1", "a1", "merged"),
            ("identify", "anon-3", "u2", "i2", "merged"),
        ]
        assert all(before - 1000 <= m.at_ms <= after + 1000 for m in everyone)
        assert [m.message_id for m in store.merges("u1")] == ["i1", "a1"]
        assert [m.message_id for m in store.merges("anon-2")] == ["i1", "a1"]
        assert [m.message_id for m in store.merges("anon-3")] == ["i2"]
        assert store.profile("u1") is not None
        assert set(store.timeline("u1").anonymous_ids) == {"anon-1", "anon-2"}
        assert len(store.timeline("anon-2").merges) == 2

    # -- delivery queues --------------------------------------------------------------------------

    def test_claim_returns_messages_written_after_registration_in_order(
        self, store: Store, compiled: CompiledPlan
    ) -> None:
        self.write(store, compiled, track("before"))
        store.register_destination(HOOK)
        self.write(
            store, compiled, *(track(f"m{i}", f"user-{i % 2}", minute=50 - i) for i in range(5))
        )

        first = store.claim(HOOK, 3, now_ms())
        assert claimed_ids(first) == ["m0", "m1", "m2"]  # log order, not action time
        assert all(d.destination == HOOK and d.attempts == 0 for d in first)
        assert seqs(first) == sorted(seqs(first))
        assert first[0].message["event"] == "Feature Used"
        rest = store.claim(HOOK, 10, now_ms())
        assert claimed_ids(rest) == ["m3", "m4"]  # claimed ones are not handed out twice
        assert store.claim(HOOK, 10, now_ms()) == []
        stats = self.stats(store)
        assert stats.in_flight == 5 and stats.pending == 0

    def test_a_persons_messages_after_their_identify_wait_for_it(
        self, store: Store, compiled: CompiledPlan
    ) -> None:
        store.register_destination(HOOK)
        self.write(
            store,
            compiled,
            identify("id", "u1", minute=1),
            track("after", "u1", minute=2),
            track("other", "u2", minute=3),
        )
        now = now_ms()
        first = store.claim(HOOK, 10, now)
        assert claimed_ids(first)[0] == "id"
        assert "after" not in claimed_ids(first)  # never in the same request as the identify
        store.ack(HOOK, [DeliveryResult(first[0].seq, "retry", now + 100, "503")], now)
        rest = claim_all(store, HOOK, now + 1)
        assert "after" not in rest  # waits while the identify is retrying
        assert sorted(claimed_ids(first)[1:] + rest) == ["other"]

        [retried] = store.claim(HOOK, 10, now + 100)
        assert retried.message["messageId"] == "id"
        store.ack(HOOK, [DeliveryResult(retried.seq, "delivered")], now + 101)
        assert claim_all(store, HOOK, now + 102) == ["after"]

    def test_another_store_on_the_same_database_resumes_the_queue(
        self, store: Store, compiled: CompiledPlan
    ) -> None:
        if ":memory:" in store.url:
            pytest.skip("an in-memory database cannot be opened twice")
        store.register_destination(HOOK)
        self.write(store, compiled, *(track(f"m{i}", f"user-{i}") for i in range(1, 5)))
        now = now_ms()
        claimed = store.claim(HOOK, 2, now)
        assert claimed_ids(claimed) == ["m1", "m2"]
        store.ack(HOOK, [DeliveryResult(claimed[0].seq, "delivered")], now)

        other = open_store(store.url)  # another process, after the first one died
        try:
            assert other.claim(HOOK, 10, now) == []  # the first one still holds the queue
            later = now + 600_000  # long after any lease of a dead owner ran out
            assert claim_all(other, HOOK, later) == ["m2", "m3", "m4"]  # m2 was never acked
            other.release(HOOK)
            # A clean hand-over needs no waiting: the first store takes the queue back at once.
            assert claim_all(store, HOOK, later) == ["m2", "m3", "m4"]
        finally:
            other.close()

    def test_claim_of_an_unknown_destination_is_a_store_error(self, store: Store) -> None:
        with pytest.raises(StoreError):
            store.claim("nowhere", 10, now_ms())

    def test_registering_again_keeps_the_queue_position(
        self, store: Store, compiled: CompiledPlan
    ) -> None:
        store.register_destination(HOOK)
        self.write(store, compiled, track("m1"))
        store.register_destination(HOOK)
        assert claimed_ids(store.claim(HOOK, 10, now_ms())) == ["m1"]

    def test_ack_delivered_advances_the_queue(self, store: Store, compiled: CompiledPlan) -> None:
        store.register_destination(HOOK)
        self.write(store, compiled, track("m1"), track("m2"), track("m3"))
        claimed = store.claim(HOOK, 10, now_ms())
        store.ack(HOOK, [DeliveryResult(d.seq, "delivered") for d in claimed], now_ms())

        stats = self.stats(store)
        assert (stats.delivered, stats.pending, stats.in_flight) == (3, 0, 0)
        assert (stats.retry, stats.dead, stats.waiting) == (0, 0, 0)
        assert store.claim(HOOK, 10, now_ms()) == []
        self.write(store, compiled, track("m4"), track("m5"))
        assert self.stats(store).pending == 2
        assert claimed_ids(store.claim(HOOK, 10, now_ms())) == ["m4", "m5"]

    def test_a_retry_is_claimed_again_only_when_due(
        self, store: Store, compiled: CompiledPlan
    ) -> None:
        store.register_destination(HOOK)
        self.write(store, compiled, track("m1"))
        now = now_ms()
        [delivery] = store.claim(HOOK, 10, now)
        store.ack(
            HOOK,
            [DeliveryResult(delivery.seq, "retry", now + 60_000, "503 Service Unavailable")],
            now,
        )

        stats = self.stats(store)
        assert (stats.retry, stats.in_flight, stats.delivered) == (1, 0, 0)
        assert stats.last_error == "503 Service Unavailable"
        assert store.claim(HOOK, 10, now) == []
        assert store.claim(HOOK, 10, now + 59_999) == []
        [again] = store.claim(HOOK, 10, now + 60_000)
        assert again.seq == delivery.seq and again.attempts == 1
        assert again.message["messageId"] == "m1"
        store.ack(HOOK, [DeliveryResult(again.seq, "delivered")], now + 60_001)
        stats = self.stats(store)
        assert (stats.retry, stats.delivered) == (0, 1)

    def test_pull_forward_makes_later_retries_due_in_groups_and_probes_one(
        self, store: Store, compiled: CompiledPlan
    ) -> None:
        store.register_destination(HOOK)
        self.write(store, compiled, *(track(f"m{n}", f"person-{n}") for n in range(5)))
        now = now_ms()
        claimed = store.claim(HOOK, 10, now)
        store.ack(
            HOOK,
            [DeliveryResult(d.seq, "retry", now + 600_000, "HTTP 503") for d in claimed],
            now,
        )
        # A probe: the oldest one only, and nothing more while a retry is due.
        [probe] = store.pull_forward(HOOK, now + 1, window_ms=0, limit=1)
        assert probe == claimed[0].seq
        assert store.pull_forward(HOOK, now + 1, window_ms=0, limit=1) == []
        [again] = store.claim(HOOK, 1, now + 1)
        assert again.seq == probe
        # A probe sent ahead of schedule does not spend an attempt; one on schedule does.
        store.ack(HOOK, [DeliveryResult(probe, "retry", now + 600_000, "HTTP 503", False)], now + 2)
        [again] = store.claim(HOOK, 1, now + 600_000)
        assert again.attempts == 1
        store.ack(HOOK, [DeliveryResult(again.seq, "retry", now + 900_000, "HTTP 503")], now + 3)
        # The tool answers again: the rest come due two at a time over a 1 s window.
        pulled = store.pull_forward(HOOK, now + 10, window_ms=1000, group=2)
        assert pulled == [d.seq for d in claimed]
        assert seqs(store.claim(HOOK, 10, now + 10)) == pulled[:2]
        assert seqs(store.claim(HOOK, 10, now + 343)) == pulled[2:4]
        assert seqs(store.claim(HOOK, 10, now + 676)) == pulled[4:]
        [first] = [d for d in claimed if d.seq == probe]
        assert first.attempts == 0

    def test_a_retrying_message_holds_back_that_persons_later_messages(
        self, store: Store, compiled: CompiledPlan
    ) -> None:
        store.register_destination(HOOK)
        self.write(store, compiled, track("p1", "person"))
        now = now_ms()
        [first] = store.claim(HOOK, 10, now)
        store.ack(HOOK, [DeliveryResult(first.seq, "retry", now + 1000, "timeout")], now)

        self.write(
            store,
            compiled,
            track("p2", "person"),
            track("q1", "someone-else"),
            track("p3", "person"),
        )
        assert claimed_ids(store.claim(HOOK, 10, now + 1)) == ["q1"]
        assert self.stats(store).waiting == 2

        # When due, only the retrying message goes: the waiting ones stay behind it.
        retried = store.claim(HOOK, 10, now + 1000)
        assert claimed_ids(retried) == ["p1"]
        self.write(store, compiled, track("p4", "person"))
        assert store.claim(HOOK, 10, now + 1001) == []

        store.ack(HOOK, [DeliveryResult(first.seq, "delivered")], now + 1002)
        released = store.claim(HOOK, 10, now + 1003)
        assert claimed_ids(released) == ["p2", "p3", "p4"]
        store.ack(HOOK, [DeliveryResult(d.seq, "delivered") for d in released], now + 1004)
        stats = self.stats(store)
        assert (stats.waiting, stats.retry, stats.delivered) == (0, 0, 4)

    def test_a_person_known_only_by_customerio_id_keeps_their_order(
        self, store: Store, compiled: CompiledPlan
    ) -> None:
        # The gateway keeps an unknown `cio_<id>` in context.externalIds, with no userId: the
        # barrier must still see one person, or a delete could overtake the identify before it.
        def addressed(message_id: str) -> dict[str, Any]:
            message = track(message_id, None)
            message["context"] = {"externalIds": [cio_external_id("a1b2")]}
            return message

        store.register_destination(HOOK)
        self.write(store, compiled, addressed("c1"))
        now = now_ms()
        [first] = store.claim(HOOK, 10, now)
        store.ack(HOOK, [DeliveryResult(first.seq, "retry", now + 1000, "timeout")], now)
        self.write(store, compiled, addressed("c2"))
        assert store.claim(HOOK, 10, now + 1) == []
        assert self.stats(store).waiting == 1
        assert [e.message["messageId"] for e in store.timeline("cio_a1b2").entries] == ["c1", "c2"]

    def test_a_dead_message_releases_the_waiting_ones_and_blocks_nothing(
        self, store: Store, compiled: CompiledPlan
    ) -> None:
        store.register_destination(HOOK)
        self.write(store, compiled, track("p1", "person"))
        now = now_ms()
        [first] = store.claim(HOOK, 10, now)
        store.ack(HOOK, [DeliveryResult(first.seq, "retry", now + 10, "timeout")], now)
        self.write(store, compiled, track("p2", "person"))
        assert store.claim(HOOK, 10, now + 1) == []

        assert claimed_ids(store.claim(HOOK, 10, now + 10)) == ["p1"]
        store.ack(HOOK, [DeliveryResult(first.seq, "dead", error="400 Bad Request")], now + 11)
        [second] = store.claim(HOOK, 10, now + 12)
        assert second.message["messageId"] == "p2"
        store.ack(HOOK, [DeliveryResult(second.seq, "delivered")], now + 12)

        self.write(store, compiled, track("p3", "person"))
        assert claimed_ids(store.claim(HOOK, 10, now + 13)) == ["p3"]
        stats = self.stats(store)
        assert stats.dead == 1 and stats.last_error == "400 Bad Request"

    def test_a_message_that_dies_at_once_blocks_nothing(
        self, store: Store, compiled: CompiledPlan
    ) -> None:
        store.register_destination(HOOK)
        self.write(store, compiled, track("p1", "person"))
        [first] = store.claim(HOOK, 10, now_ms())
        store.ack(HOOK, [DeliveryResult(first.seq, "dead", error="422")], now_ms())
        self.write(store, compiled, track("p2", "person"))
        assert claimed_ids(store.claim(HOOK, 10, now_ms())) == ["p2"]
        assert self.stats(store).dead == 1

    def test_claims_respect_each_destinations_filter(
        self, store: Store, compiled: CompiledPlan
    ) -> None:
        store.register_destination(
            "crm",
            DeliveryFilter(
                types=frozenset({"identify", "track"}),
                events=frozenset({"Feature Used", "Invite Sent"}),
                exclude_events=frozenset({"Invite Sent"}),
            ),
        )
        store.register_destination("web", DeliveryFilter(types=frozenset({"page"})))
        store.register_destination("all")
        self.write(
            store,
            compiled,
            identify("id", "u1", minute=1),
            track("feature", "u1", minute=2),
            track("invite", "u1", minute=3, event="Invite Sent", properties=INVITE),
            page("pv", "anon-1", minute=4),
            track(
                "onboarding",
                "u1",
                minute=5,
                event="Onboarding Completed",
                properties={"steps_completed": 3},
            ),
        )
        assert claim_all(store, "crm", now_ms()) == ["id", "feature"]
        assert claim_all(store, "web", now_ms()) == ["pv"]
        assert claim_all(store, "all", now_ms()) == [
            "id",
            "feature",
            "invite",
            "pv",
            "onboarding",
        ]
        pending = {s.destination: s.in_flight for s in store.delivery_stats(now_ms())}
        assert pending == {"crm": 2, "web": 1, "all": 5}

    def test_updating_a_filter_applies_to_later_claims(
        self, store: Store, compiled: CompiledPlan
    ) -> None:
        store.register_destination(HOOK)
        store.register_destination(HOOK, DeliveryFilter(types=frozenset({"page"})))
        self.write(store, compiled, track("t"), page("pv", "anon-1", minute=4))
        assert claimed_ids(store.claim(HOOK, 10, now_ms())) == ["pv"]

    def test_release_makes_unacked_claims_claimable_again(
        self, store: Store, compiled: CompiledPlan
    ) -> None:
        store.register_destination(HOOK)
        self.write(store, compiled, track("r1", "retrying"))
        now = now_ms()
        [retrying] = store.claim(HOOK, 10, now)
        store.ack(HOOK, [DeliveryResult(retrying.seq, "retry", now, "timeout")], now)
        self.write(store, compiled, track("m1", "a"), track("m2", "b"), track("m3", "c"))

        claimed = store.claim(HOOK, 10, now)
        assert claimed_ids(claimed) == ["r1", "m1", "m2", "m3"]
        assert self.stats(store).in_flight == 4
        store.ack(HOOK, [DeliveryResult(claimed[1].seq, "delivered")], now)  # m1 done
        store.release(HOOK)
        assert self.stats(store).in_flight == 0

        again = store.claim(HOOK, 10, now)
        assert sorted(claimed_ids(again)) == ["m2", "m3", "r1"]
        assert self.stats(store).delivered == 1

    def test_requeue_dead_only_schedules_dead_messages_again(
        self, store: Store, compiled: CompiledPlan
    ) -> None:
        store.register_destination(HOOK)
        self.write(store, compiled, track("dead", "a"), track("fine", "b"))
        now = now_ms()
        dead, fine = store.claim(HOOK, 10, now)
        store.ack(
            HOOK,
            [DeliveryResult(dead.seq, "dead", error="401"), DeliveryResult(fine.seq, "delivered")],
            now,
        )
        assert store.claim(HOOK, 10, now) == []

        assert store.requeue(HOOK, dead_only=True, now_ms=now) == 1
        assert self.stats(store).dead == 0
        assert claimed_ids(store.claim(HOOK, 10, now)) == ["dead"]

    def test_captured_is_its_own_settled_state_and_replayable(
        self, store: Store, compiled: CompiledPlan
    ) -> None:
        store.register_destination(HOOK)
        self.write(store, compiled, track("cap", "a"), track("later", "a", minute=31))
        now = now_ms()
        captured, later = store.claim(HOOK, 10, now)
        note = "capture mode: recorded, not sent to the tool"
        store.ack(
            HOOK,
            [
                DeliveryResult(captured.seq, "captured", error=note),
                DeliveryResult(later.seq, "retry", now, "503"),
            ],
            now,
        )
        stats = self.stats(store)
        assert (stats.captured, stats.delivered, stats.pending) == (1, 0, 0)
        assert stats.last_error == "503"  # a capture note is not an error
        entry = store.get("cap")
        assert entry is not None and entry.deliveries[HOOK]["status"] == "captured"
        assert entry.deliveries[HOOK]["error"] == note
        day = now // 86_400_000
        (rollup,) = store.delivery_rollups(day, day)
        assert (rollup.captured, rollup.delivered, rollup.retried) == (1, 0, 1)
        assert sum(rollup.received_latency) == 0  # no latency: it never reached the tool
        assert claimed_ids(store.claim(HOOK, 10, now)) == ["later"]
        store.ack(HOOK, [DeliveryResult(later.seq, "delivered")], now)

        assert store.requeue(HOOK, dead_only=True, now_ms=now) == 0
        assert store.requeue(HOOK, captured_only=True, now_ms=now) == 1
        assert self.stats(store).captured == 0
        [again] = store.claim(HOOK, 10, now)
        assert again.message["messageId"] == "cap"
        store.ack(HOOK, [DeliveryResult(again.seq, "delivered")], now)
        stats = self.stats(store)
        assert (stats.captured, stats.delivered, stats.retry) == (0, 2, 0)
        entry = store.get("cap")
        assert entry is not None and entry.deliveries[HOOK]["status"] == "delivered"

    def consent_plan(self, example_plan: Plan) -> CompiledPlan:
        """The example plan with an object trait `consent` (category -> bool) planned."""
        traits = (*example_plan.traits, PropertySpec("consent", "object"))
        return compile_plan(dataclasses.replace(example_plan, traits=traits))

    def test_consent_traits_reads_profiles_by_user_or_tied_anonymous_id(
        self, store: Store, example_plan: Plan
    ) -> None:
        compiled = self.consent_plan(example_plan)
        self.write(
            store,
            compiled,
            identify("i1", "ann", minute=1, anonymous_id="anon-ann", consent={"marketing": True}),
            identify("i2", "bo", minute=2),
        )
        found = store.consent_traits(["ann", "anon-ann", "bo", "nobody", "ann"], "consent")
        assert found == {"ann": {"marketing": True}, "anon-ann": {"marketing": True}}
        assert store.consent_traits([], "consent") == {}
        assert store.consent_traits(["ann"], "email") == {"ann": "ann@example.com"}

    def test_no_consent_and_held_are_states_of_their_own(
        self, store: Store, compiled: CompiledPlan
    ) -> None:
        store.register_destination(HOOK)
        self.write(
            store,
            compiled,
            track("refused", "a"),
            track("held", "b", minute=31),
            track("later", "b", minute=32),
        )
        now = now_ms()
        refused, held, later = store.claim(HOOK, 10, now)
        store.ack(
            HOOK,
            [
                DeliveryResult(refused.seq, "no_consent", error="no consent for marketing"),
                DeliveryResult(held.seq, "held", now + 30_000, "no consent information", False),
                DeliveryResult(later.seq, "delivered"),
            ],
            now,
        )
        stats = self.stats(store)
        assert (stats.no_consent, stats.held, stats.delivered, stats.pending) == (1, 1, 1, 0)
        assert (stats.retry, stats.waiting, stats.oldest_pending_ms) == (0, 0, None)
        assert stats.last_error is None  # a consent decision is not the tool's error
        entry = store.get("refused")
        assert entry is not None
        assert entry.deliveries[HOOK]["status"] == "no_consent"
        assert entry.deliveries[HOOK]["error"] == "no consent for marketing"
        entry = store.get("held")
        assert entry is not None and entry.deliveries[HOOK]["status"] == "held"
        assert entry.deliveries[HOOK]["attempts"] == 0  # nothing was sent
        day = now // 86_400_000
        (rollup,) = store.delivery_rollups(day, day)
        assert (rollup.no_consent, rollup.delivered, rollup.dead, rollup.retried) == (1, 1, 0, 0)
        assert store.claim(HOOK, 10, now + 60_000) == []  # held is never claimed by itself

        assert store.requeue(HOOK, held_only=True, now_ms=now) == 1
        assert claimed_ids(store.claim(HOOK, 10, now)) == ["held"]

    def test_held_messages_are_released_when_the_consent_trait_arrives(
        self, store: Store, example_plan: Plan
    ) -> None:
        compiled = self.consent_plan(example_plan)
        store.register_destination(HOOK)
        self.write(store, compiled, track("h1", "ann"), track("h2", "bo", minute=31))
        now = now_ms()
        first, second = store.claim(HOOK, 10, now)
        store.ack(
            HOOK,
            [
                DeliveryResult(d.seq, "held", now + 1_000, "no consent information", False)
                for d in (first, second)
            ],
            now,
        )

        def release(at: int, trait: str | None = "consent", *, every: bool = False) -> int:
            return store.release_held(HOOK, trait, at, recheck_ms=5_000, limit=100, every=every)

        assert release(now) == 0  # not due yet
        assert release(now + 1_000) == 0  # no trait yet
        self.write(store, compiled, identify("i1", "ann", minute=40, consent={"ads": False}))
        # Looked at a moment ago: the next look is `recheck_ms` after it.
        assert release(now + 2_000) == 0
        assert release(now + 6_000) == 1
        assert claimed_ids(store.claim(HOOK, 10, now + 6_000)) == ["h1"]
        assert self.stats(store).held == 1
        # Without a trait to wait for, or told to, every due held message is released.
        assert release(now + 6_000, None, every=True) == 1  # due or not
        assert claimed_ids(store.claim(HOOK, 10, now + 6_000)) == ["h2"]

    def test_requeue_by_message_id_redelivers_a_delivered_message(
        self, store: Store, compiled: CompiledPlan
    ) -> None:
        store.register_destination(HOOK)
        self.write(store, compiled, track("m1", "a"), track("m2", "b"))
        now = now_ms()
        claimed = store.claim(HOOK, 10, now)
        store.ack(HOOK, [DeliveryResult(d.seq, "delivered") for d in claimed], now)

        assert store.requeue(HOOK, message_id="m2", now_ms=now) == 1
        assert claimed_ids(store.claim(HOOK, 10, now)) == ["m2"]
        assert store.requeue(HOOK, message_id="missing", now_ms=now) == 0

    def test_requeue_since_replays_what_was_received_since(
        self, store: Store, compiled: CompiledPlan
    ) -> None:
        store.register_destination(HOOK)
        earlier = NOW - timedelta(hours=2)
        self.write(store, compiled, track("old", "a", minute=-90), received_at=earlier)
        self.write(store, compiled, track("new1", "b"), track("new2", "c"))
        now = now_ms()
        claimed = store.claim(HOOK, 10, now)
        assert claimed_ids(claimed) == ["old", "new1", "new2"]
        store.ack(HOOK, [DeliveryResult(d.seq, "delivered") for d in claimed], now)

        since = int((NOW - timedelta(hours=1)).timestamp() * 1000)
        assert store.requeue(HOOK, since_ms=since, now_ms=now) == 2
        assert claimed_ids(store.claim(HOOK, 10, now)) == ["new1", "new2"]

    def test_requeue_only_replays_what_the_destination_takes(
        self, store: Store, compiled: CompiledPlan
    ) -> None:
        store.register_destination(HOOK, DeliveryFilter(types=frozenset({"identify"})))
        self.write(store, compiled, identify("id", "u1", minute=1), track("t", "u1", minute=2))
        now = now_ms()
        claimed = store.claim(HOOK, 10, now)
        assert claimed_ids(claimed) == ["id"]
        store.ack(HOOK, [DeliveryResult(d.seq, "delivered") for d in claimed], now)

        # A replay must not send the destination what its filter keeps from it.
        assert store.requeue(HOOK, since_ms=0, now_ms=now) == 1
        assert claimed_ids(store.claim(HOOK, 10, now)) == ["id"]

    def test_requeue_of_an_unknown_destination_is_a_store_error(self, store: Store) -> None:
        with pytest.raises(StoreError):
            store.requeue("nowhere", dead_only=True, now_ms=now_ms())

    def test_delivery_stats_describe_each_queue(self, store: Store, compiled: CompiledPlan) -> None:
        store.register_destination(HOOK)
        store.register_destination("idle")
        self.write(store, compiled, *(track(f"m{i}", f"user-{i}") for i in range(6)))
        now = now_ms()
        claimed = store.claim(HOOK, 4, now)
        store.ack(
            HOOK,
            [
                DeliveryResult(claimed[0].seq, "delivered"),
                DeliveryResult(claimed[1].seq, "retry", now + 5000, "429 Too Many Requests"),
                DeliveryResult(claimed[2].seq, "dead", error="400 Bad Request"),
            ],
            now,
        )
        hook = self.stats(store, HOOK)
        assert hook.destination == HOOK
        assert (hook.delivered, hook.retry, hook.dead, hook.waiting) == (1, 1, 1, 0)
        assert hook.in_flight == 1  # claimed[3]
        assert hook.pending == 2  # m4, m5: never claimed
        assert hook.last_error in {"429 Too Many Requests", "400 Bad Request"}
        assert hook.oldest_pending_ms is not None
        assert abs(hook.oldest_pending_ms - (now_ms() - NOW_MS)) < 5000

        idle = self.stats(store, "idle")
        assert (idle.pending, idle.in_flight, idle.delivered) == (6, 0, 0)
        assert (idle.retry, idle.dead, idle.waiting) == (0, 0, 0)
        assert idle.last_error is None
        assert idle.oldest_pending_ms is not None

        store.register_destination("empty")
        empty = self.stats(store, "empty")
        assert (empty.pending, empty.oldest_pending_ms) == (0, None)

    def test_timeline_entries_carry_each_destinations_delivery_state(
        self, store: Store, compiled: CompiledPlan
    ) -> None:
        store.register_destination(HOOK)
        store.register_destination("web", DeliveryFilter(types=frozenset({"page"})))
        self.write(
            store,
            compiled,
            *(track(f"m{i}", "u1", minute=i) for i in range(1, 6)),
            page("pv", None, user_id="u1", minute=6),
        )
        now = now_ms()
        claimed = {d.message["messageId"]: d.seq for d in store.claim(HOOK, 4, now)}
        store.ack(
            HOOK,
            [
                DeliveryResult(claimed["m1"], "delivered"),
                DeliveryResult(claimed["m2"], "retry", now + 60_000, "503"),
            ],
            now,
        )
        states = {
            e.message["messageId"]: {name: d["status"] for name, d in e.deliveries.items()}
            for e in store.timeline("u1").entries
        }
        assert states["m1"] == {HOOK: "delivered"}
        assert states["m2"] == {HOOK: "retry"}
        assert states["m3"] == {HOOK: "in_flight"}
        assert states["m4"] == {HOOK: "in_flight"}
        assert states["m5"] == {HOOK: "pending"}
        assert states["pv"] == {HOOK: "pending", "web": "pending"}
        m2 = store.get("m2")
        assert m2 is not None
        assert m2.deliveries[HOOK]["attempts"] == 1 and m2.deliveries[HOOK]["error"] == "503"

        store.ack(HOOK, [DeliveryResult(claimed["m3"], "dead", error="400")], now)
        dead = store.get("m3")
        assert dead is not None and dead.deliveries[HOOK]["status"] == "dead"

    def test_a_destination_registered_later_does_not_claim_older_messages_as_delivered(
        self, store: Store, compiled: CompiledPlan
    ) -> None:
        self.write(store, compiled, track("old", "u1", minute=1))
        store.register_destination(HOOK)
        self.write(store, compiled, track("new", "u1", minute=2))
        old = store.get("old")
        new = store.get("new")
        assert old is not None and new is not None
        # "old" was never handed to the destination: it must not show as delivered to it.
        assert old.deliveries.get(HOOK, {}).get("status") != "delivered"
        assert new.deliveries[HOOK]["status"] == "pending"

    def test_sample_is_newest_first_and_filters(self, store: Store, compiled: CompiledPlan) -> None:
        self.write(store, compiled, *(track(f"s{i}", minute=i) for i in range(5)))
        self.write(store, compiled, identify("id-s", "user-1", minute=6))
        newest = store.sample(limit=3)
        assert [e.message["messageId"] for e in newest] == ["id-s", "s4", "s3"]
        tracks = store.sample(limit=10, type="track", name="Feature Used")
        assert [e.message["messageId"] for e in tracks] == ["s4", "s3", "s2", "s1", "s0"]
        assert store.sample(limit=10, name="Nothing Like It") == []
        assert all(e.verdict in ("accepted", "repaired") for e in newest)

    # -- retention ------------------------------------------------------------------------------

    def test_retention_removes_what_arrived_before_the_cutoff_and_keeps_the_rest(
        self, store: Store, compiled: CompiledPlan
    ) -> None:
        store.register_destination(HOOK)
        old = NOW - timedelta(days=10)
        self.write(
            store,
            compiled,
            track("old-dead", minute=1),
            track("old-sent", minute=2),
            track("old-typo", event="Feature Usedd", minute=3),
            received_at=old,
        )
        now = now_ms()
        dead, sent = store.claim(HOOK, 10, now)
        store.ack(
            HOOK,
            [DeliveryResult(dead.seq, "dead", error="400"), DeliveryResult(sent.seq, "delivered")],
            now,
        )
        self.write(store, compiled, track("new", minute=4), track("new-typo", event="Oops"))

        report = store.apply_retention(log_days=7, blocked_days=7, now_ms=NOW_MS)

        assert (report.log_rows, report.blocked_rows) == (2, 1)
        assert report.delivery_rows == 2  # the dead letter and its history entry
        assert (
            report.log_cutoff_ms
            == report.blocked_cutoff_ms
            == (NOW_MS // 86_400_000 - 7) * (86_400_000)
        )
        for gone in ("old-dead", "old-sent", "old-typo"):
            assert store.get(gone) is None
        assert store.get("new") is not None and store.get("new-typo") is not None
        assert message_ids(store.timeline("user-1")) == ["new", "new-typo"]
        assert store.count() == 1
        assert store.dead_letters(HOOK) == []
        assert self.stats(store).dead == 0
        assert claimed_ids(store.claim(HOOK, 10, now_ms())) == ["new"]
        # A second pass finds nothing more to remove.
        again = store.apply_retention(log_days=7, blocked_days=7, now_ms=NOW_MS)
        assert (again.log_rows, again.blocked_rows, again.partitions_dropped) == (0, 0, ())

    def test_retention_shorter_than_the_dedup_window_is_refused(
        self, store: Store, compiled: CompiledPlan
    ) -> None:
        self.write(store, compiled, track("old", minute=1), received_at=NOW - timedelta(days=30))
        with pytest.raises(ValueError, match="dedup window"):
            store.apply_retention(log_days=6, blocked_days=None, now_ms=NOW_MS)
        with pytest.raises(ValueError, match="1 or more"):
            store.apply_retention(log_days=None, blocked_days=0, now_ms=NOW_MS)
        assert store.get("old") is not None
