"""The privacy part of the Store contract: resolve, erase, suppress, the marks checked at the
edge, propagation jobs and the audit log, written against the protocol only.

A backend's test module subclasses `PrivacyContract` next to `StoreContract`, with the same
`store` fixture.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.store.contract import (
    HOOK,
    NOW,
    alias,
    identify,
    now_ms,
    page,
    track,
)
from trackwell.core.operations import cio_external_id
from trackwell.core.privacy import Subject
from trackwell.pipeline.accept import Accepted, accept, prepare
from trackwell.plan import Plan
from trackwell.quality.compiled import CompiledPlan, compile_plan
from trackwell.store import DeliveryResult, Store

TODAY = int(time.time() * 1000) // 86_400_000


def everything_of(store: Store, *keys: str) -> dict[str, Any]:
    """What the store still shows of these people through its protocol."""
    return {
        key: (
            [e.message["messageId"] for e in store.timeline(key).entries],
            store.profile(key),
            store.merges(key),
        )
        for key in keys
    }


class PrivacyContract:
    """Erase, suppress and the audit log, on every backend. Provide a `store` fixture."""

    @pytest.fixture
    def compiled(self, example_plan: Plan) -> CompiledPlan:
        return compile_plan(example_plan)

    def write(self, store: Store, compiled: CompiledPlan, *messages: dict[str, Any]) -> list[Any]:
        """Messages through the real pipeline, as one batch; what `write_batch` said of each."""
        return store.write_batch([prepare(compiled, m, NOW) for m in messages])

    def accept(
        self, store: Store, compiled: CompiledPlan, *messages: dict[str, Any]
    ) -> list[Accepted]:
        return accept(store, compiled, list(messages), received_at=NOW)

    def busy(self, store: Store, compiled: CompiledPlan) -> None:
        """Ann (a visitor, then identified, then aliased another visitor id) and Bob."""
        self.write(
            store,
            compiled,
            page("p1", "anon-ann", minute=1),
            identify("i1", "ann", minute=2, anonymous_id="anon-ann", email="Ann@Example.com"),
            track("t1", "ann", minute=3),
            page("p2", "anon-ann-2", minute=4),
            alias("a1", "anon-ann-2", "ann", minute=5),
            track("typo", "ann", event="Feature Usedd", minute=6),  # blocked
            page("p3", "anon-bob", minute=7),
            identify("i2", "bob", minute=8, anonymous_id="anon-bob"),
            track("t2", "bob", minute=9),
            track("typo-bob", "bob", event="Feature Usedd", minute=10),
        )

    # -- resolve ------------------------------------------------------------------------------

    def test_resolve_finds_the_whole_person_from_any_identifier(
        self, store: Store, compiled: CompiledPlan
    ) -> None:
        self.busy(store, compiled)
        expected = Subject(("ann",), ("anon-ann", "anon-ann-2"), ("ann@example.com",))
        for key in ("ann", "anon-ann", "anon-ann-2", "ANN@example.com ", "ann@example.com"):
            assert store.resolve(key) == expected, key
        assert store.resolve("bob").emails == ("bob@example.com",)

    def test_resolve_of_an_unknown_identifier_still_names_it(
        self, store: Store, compiled: CompiledPlan
    ) -> None:
        self.busy(store, compiled)
        assert store.resolve("visitor-9") == Subject((), ("visitor-9",), ())
        assert store.resolve("Nobody@Example.com") == Subject((), (), ("nobody@example.com",))
        self.write(store, compiled, page("p9", "visitor-9", minute=1))
        assert store.resolve("visitor-9") == Subject((), ("visitor-9",), ())

    def test_resolve_by_email_follows_a_changed_email_trait(
        self, store: Store, compiled: CompiledPlan
    ) -> None:
        self.write(store, compiled, identify("i1", "carl", minute=1, email="old@example.com"))
        self.write(store, compiled, identify("i2", "carl", minute=2, email="new@example.com"))
        assert store.resolve("new@example.com").user_ids == ("carl",)
        assert store.resolve("old@example.com").user_ids == ()

    # -- erase --------------------------------------------------------------------------------

    def test_erase_removes_everything_of_the_person_and_nothing_of_others(
        self, store: Store, compiled: CompiledPlan
    ) -> None:
        store.register_destination(HOOK)
        self.busy(store, compiled)
        now = now_ms()
        claimed = []
        while batch := store.claim(HOOK, 100, now):  # an identify ends a claim: several
            claimed += batch
        # One of Ann's messages dies and one is retried; Bob's retry stays.
        by_id = {d.message["messageId"]: d.seq for d in claimed}
        store.ack(
            HOOK,
            [
                DeliveryResult(by_id["t1"], "dead", error="400"),
                DeliveryResult(by_id["p1"], "retry", next_attempt_ms=now + 60_000, error="503"),
                DeliveryResult(by_id["t2"], "retry", next_attempt_ms=now + 60_000, error="503"),
            ],
            now,
        )
        bob_before = everything_of(store, "bob", "anon-bob")
        count_before = store.count()

        request = store.erase(
            store.resolve("anon-ann-2"),
            request_id="req-1",
            actor="cli",
            destinations=[HOOK, "other"],
            now_ms=now,
        )

        assert request.kind == "erase" and request.identifiers == 4
        assert request.erased["log"] == 5  # p1, i1, t1, p2, a1
        assert request.erased["blocked"] == 1
        assert request.erased["profiles"] == 1
        assert request.erased["identities"] == 2
        assert request.erased["merges"] == 2
        assert request.erased["deliveries"] >= 2
        assert store.count() == count_before - 5
        for key in ("ann", "anon-ann", "anon-ann-2"):
            timeline = store.timeline(key)
            assert timeline.entries == () and timeline.profile is None, key
            assert store.merges(key) == [], key
        for message_id in ("p1", "i1", "t1", "p2", "a1", "typo"):
            assert store.get(message_id) is None, message_id
        assert store.dead_letters(HOOK) == []
        assert [e.seq for e in store.delivery_errors(HOOK, 50)] == [by_id["t2"]]
        assert everything_of(store, "bob", "anon-bob") == bob_before
        assert store.resolve("ann@example.com").user_ids == ()
        assert [r.destination for r in request.receipts] == [HOOK, "other"]
        assert {r.status for r in request.receipts} == {"pending"}
        assert request.status == "pending"

    def test_an_erase_is_audited_with_counts_only(
        self, store: Store, compiled: CompiledPlan
    ) -> None:
        self.busy(store, compiled)
        store.erase(
            store.resolve("ann"), request_id="req-1", actor="key:k1", destinations=[], now_ms=5
        )
        (entry,) = store.audit_entries()
        assert (entry.actor, entry.action, entry.target, entry.at_ms) == (
            "key:k1",
            "erase",
            "req-1",
            5,
        )
        text = repr(entry.detail)
        assert "ann" not in text.lower() and "anon" not in text
        assert entry.detail["erased"]["log"] == 5
        assert store.privacy_request("req-1") is not None
        assert store.privacy_request("req-1").status == "done"  # type: ignore[union-attr]

    def test_nothing_of_an_erased_person_is_taken_again(
        self, store: Store, compiled: CompiledPlan
    ) -> None:
        self.busy(store, compiled)
        store.erase(store.resolve("ann"), request_id="r", actor="cli", destinations=[], now_ms=1)
        count = store.count()
        external = {"externalIds": [{"id": "anon-ann", "type": "custom", "collection": "users"}]}
        replayed = [
            track("t1", "ann", minute=3),  # a replay of an erased message, same id
            page("late", "anon-ann-2", minute=11),  # a late retry of a client
            track("mail", None, minute=12, anonymous_id="fresh-visitor"),
            alias("a9", "anon-ann", "someone-else", minute=13),
            track("typo2", "ann", event="Feature Usedd", minute=14),  # would be blocked
            track("ext", None, minute=15, anonymous_id="x-1"),
        ]
        replayed[2]["context"] = {"traits": {"email": " ANN@example.com"}}
        replayed[5]["context"] = external
        written = self.write(store, compiled, *replayed, track("fine", "bob", minute=16))
        assert [w.dropped for w in written] == ["erased"] * 6 + [None]
        assert all(w.seq is None for w in written[:6]) and written[6].seq is not None
        assert store.count() == count + 1
        assert store.resolve("ann") == Subject((), ("ann",), ())
        assert store.profile("someone-else") is None
        for key in ("ann", "anon-ann", "anon-ann-2", "fresh-visitor", "x-1"):
            assert store.timeline(key).entries == (), key
        dropped = {
            (name, code): count
            for _day, _source, name, code, count in store.violation_counts(TODAY - 1, TODAY + 1)
            if code in ("erased", "suppressed")
        }
        assert dropped == {
            ("Feature Used", "erased"): 3,
            ("Feature Usedd", "erased"): 1,
            ("Pricing", "erased"): 1,
            ("", "erased"): 1,
        }

    def test_an_email_the_person_had_before_is_erased_too(
        self, store: Store, compiled: CompiledPlan
    ) -> None:
        self.write(store, compiled, identify("i1", "dee", minute=1, email="dee@old.example"))
        self.write(store, compiled, identify("i2", "dee", minute=2, email="dee@new.example"))
        subject = store.resolve("dee")
        assert subject.emails == ("dee@new.example",)  # the profile's
        request = store.erase(subject, request_id="r", actor="cli", destinations=["a"], now_ms=1)
        assert request.identifiers == 3
        (job,) = store.claim_privacy_jobs("a", now_ms=1)
        assert job.subject.emails == ("dee@new.example", "dee@old.example")
        stray = track("s1", None, anonymous_id="v-1")
        stray["context"] = {"traits": {"email": "DEE@old.example"}}
        assert [w.dropped for w in self.write(store, compiled, stray)] == ["erased"]

    def test_an_in_flight_message_erased_before_its_ack_leaves_no_queue_row(
        self, store: Store, compiled: CompiledPlan
    ) -> None:
        store.register_destination(HOOK)
        self.write(store, compiled, track("t1", "ann", minute=1), track("t2", "bob", minute=2))
        now = now_ms()
        ann, bob = store.claim(HOOK, 10, now)
        store.erase(store.resolve("ann"), request_id="r", actor="cli", destinations=[], now_ms=now)
        store.ack(
            HOOK,
            [
                DeliveryResult(ann.seq, "dead", error="400"),
                DeliveryResult(bob.seq, "dead", error="410"),
            ],
            now,
        )
        assert [d.seq for d in store.dead_letters(HOOK)] == [bob.seq]
        assert [e.seq for e in store.delivery_errors(HOOK)] == [bob.seq]

    def test_a_person_known_only_by_customerio_id_is_erased_by_that_id(
        self, store: Store, compiled: CompiledPlan
    ) -> None:
        message = track("c1", None)
        message["context"] = {"externalIds": [cio_external_id("a1b2")]}
        self.write(store, compiled, message, track("t2", "bob"))
        request = store.erase(
            store.resolve("a1b2"), request_id="r", actor="cli", destinations=[], now_ms=1
        )
        assert request.erased["log"] == 1 and store.get("c1") is None and store.count() == 1
        again = dict(message, messageId="c2")
        assert [w.dropped for w in self.write(store, compiled, again)] == ["erased"]

    # -- suppress -----------------------------------------------------------------------------

    def test_suppress_keeps_the_data_and_takes_nothing_new_until_lifted(
        self, store: Store, compiled: CompiledPlan
    ) -> None:
        self.busy(store, compiled)
        before = everything_of(store, "ann")
        request = store.suppress(
            store.resolve("ann"), request_id="s1", actor="console", destinations=[HOOK], now_ms=1
        )
        assert request.kind == "suppress" and request.erased == {}
        assert everything_of(store, "ann") == before
        written = self.write(
            store, compiled, track("n1", "ann", minute=20), track("n2", "bob", minute=21)
        )
        assert [w.dropped for w in written] == ["suppressed", None]
        assert store.screen(
            [track("x", "ann"), track("y", None, anonymous_id="anon-ann"), track("z", "bob")]
        ) == [
            "suppressed",
            "suppressed",
            None,
        ]
        store.unsuppress(
            store.resolve("ann"), request_id="s2", actor="console", destinations=[HOOK], now_ms=2
        )
        written = self.write(store, compiled, track("n3", "ann", minute=22))
        assert written[0].dropped is None and written[0].seq is not None
        assert store.screen([track("x", "ann")]) == [None]
        assert [r.id for r in store.privacy_requests()] == ["s2", "s1"]
        assert [e.action for e in store.audit_entries()] == ["unsuppress", "suppress"]

    def test_an_erase_outlives_suppress_and_unsuppress(
        self, store: Store, compiled: CompiledPlan
    ) -> None:
        self.busy(store, compiled)
        subject = store.resolve("ann")
        store.suppress(subject, request_id="s1", actor="cli", destinations=[], now_ms=1)
        store.erase(subject, request_id="e1", actor="cli", destinations=[], now_ms=2)
        store.suppress(subject, request_id="s2", actor="cli", destinations=[], now_ms=3)
        store.unsuppress(subject, request_id="s3", actor="cli", destinations=[], now_ms=4)
        messages = [track("x", "ann"), {"type": "identify", "traits": {"email": "ann@example.com"}}]
        assert store.screen(messages) == ["erased", "erased"]
        assert [w.dropped for w in self.write(store, compiled, track("n", "ann"))] == ["erased"]

    # -- jobs ---------------------------------------------------------------------------------

    def test_privacy_jobs_are_claimed_once_per_lease_and_settled(
        self, store: Store, compiled: CompiledPlan
    ) -> None:
        self.busy(store, compiled)
        subject = store.resolve("ann")
        store.erase(subject, request_id="r1", actor="cli", destinations=["a", "b"], now_ms=1000)
        store.suppress(
            store.resolve("bob"), request_id="r2", actor="cli", destinations=["a"], now_ms=2000
        )
        (job,) = store.claim_privacy_jobs("a", now_ms=1500)
        assert (job.request_id, job.kind, job.destination, job.attempts) == ("r1", "erase", "a", 0)
        assert job.subject == subject
        # Leased: neither this worker nor another takes it again for a minute.
        assert [j.request_id for j in store.claim_privacy_jobs("a", now_ms=2500)] == ["r2"]
        assert store.claim_privacy_jobs("a", now_ms=3000) == []
        store.settle_privacy_job("r1", "a", "retry", detail="503", next_ms=70_000, now_ms=3000)
        assert store.claim_privacy_jobs("a", now_ms=62_000, limit=10) == []  # r2 leased till 62_500
        (again,) = [j for j in store.claim_privacy_jobs("a", now_ms=70_000) if j.request_id == "r1"]
        assert again.attempts == 1
        store.settle_privacy_job("r1", "a", "done", detail="204", next_ms=None, now_ms=71_000)
        store.settle_privacy_job(
            "r1", "b", "not_supported", detail="no key", next_ms=None, now_ms=72_000
        )
        late = store.claim_privacy_jobs("a", now_ms=10**12)
        assert [j.request_id for j in late] == ["r2"]  # a settled job is never claimed again
        request = store.privacy_request("r1")
        assert request is not None and request.status == "done"
        assert [(r.destination, r.status, r.attempts, r.detail) for r in request.receipts] == [
            ("a", "done", 2, "204"),
            ("b", "not_supported", 0, "no key"),
        ]
        assert request.finished_ms == 72_000
        # A settled job is final: a late retry does not reopen it.
        store.settle_privacy_job("r1", "a", "retry", detail="late", next_ms=1, now_ms=80_000)
        assert store.privacy_request("r1") == request
        with pytest.raises(ValueError):
            store.settle_privacy_job("r2", "a", "maybe", detail=None, next_ms=None, now_ms=1)

    def test_a_failed_job_fails_the_request(self, store: Store) -> None:
        store.erase(Subject(("u",)), request_id="r", actor="cli", destinations=["a", "b"], now_ms=1)
        store.settle_privacy_job("r", "a", "failed", detail="403", next_ms=None, now_ms=2)
        assert store.privacy_request("r").status == "pending"  # type: ignore[union-attr]
        store.settle_privacy_job("r", "b", "captured", detail=None, next_ms=None, now_ms=3)
        assert store.privacy_request("r").status == "failed"  # type: ignore[union-attr]
        assert store.privacy_request("nope") is None

    # -- the audit log ------------------------------------------------------------------------

    def test_the_audit_log_pages_newest_first_and_filters_by_action(self, store: Store) -> None:
        for index in range(5):
            action = "key_added" if index % 2 else "replay"
            store.append_audit(f"key:{index}", action, f"t{index}", {"n": index}, now_ms=index)
        store.append_audit("cli", "plan_reloaded", "v2", now_ms=9)
        entries = store.audit_entries()
        assert [e.target for e in entries] == ["v2", "t4", "t3", "t2", "t1", "t0"]
        assert entries[0].detail == {} and entries[1].detail == {"n": 4}
        older = store.audit_entries(limit=2, before_id=entries[2].id)
        assert [e.target for e in older] == ["t2", "t1"]
        assert [e.target for e in store.audit_entries(action="key_added")] == ["t3", "t1"]
        assert store.audit_entries(limit=1, action="nothing") == []
