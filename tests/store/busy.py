"""A busy store for erase tests: many people, identify and alias merges, blocked messages,
retries and dead letters, with identifiers that never contain one another (so a byte search
for one person's finds only theirs)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.store.contract import HOOK, NOW, alias, identify, now_ms, page, track
from trackwell.pipeline.accept import prepare
from trackwell.quality.compiled import CompiledPlan
from trackwell.store import DeliveryResult, Store

PEOPLE = 120
MESSAGES_EACH = 30  # about 3,600 messages in all


@dataclass(frozen=True)
class Person:
    """One person's identifiers and message ids in the busy store."""

    index: int

    @property
    def user(self) -> str:
        return f"usr{self.index:04d}q"

    @property
    def visitor(self) -> str:
        return f"anv{self.index:04d}q"

    @property
    def second_visitor(self) -> str:
        return f"anw{self.index:04d}q"

    @property
    def email(self) -> str:
        return f"mail{self.index:04d}q@example.com"

    def message_id(self, number: int) -> str:
        return f"msg{self.index:04d}n{number:03d}q"

    @property
    def identifiers(self) -> list[str]:
        """What must not be found anywhere once the person is erased."""
        return [
            self.user,
            self.visitor,
            self.second_visitor,
            self.email,
            self.message_id(0),
            self.message_id(MESSAGES_EACH - 1),
        ]


def messages_of(person: Person) -> list[dict[str, Any]]:
    """A visitor's page views, the identify that ties them, an alias of a second visitor id,
    tracked events, and a blocked event (an unplanned name)."""
    mid = person.message_id
    found: list[dict[str, Any]] = [
        page(mid(0), person.visitor, minute=1),
        page(mid(1), person.visitor, minute=2),
        identify(mid(2), person.user, minute=3, anonymous_id=person.visitor, email=person.email),
        page(mid(3), person.second_visitor, minute=4),
        alias(mid(4), person.second_visitor, person.user, minute=5),
        track(mid(5), person.user, event="Feature Usedd", minute=6),
    ]
    for number in range(len(found), MESSAGES_EACH):
        found.append(track(mid(number), person.user, minute=6 + number / 10))
    for message in found[5:]:
        message["context"] = {"traits": {"email": person.email}}
    return found


def fill(store: Store, compiled: CompiledPlan, people: int = PEOPLE) -> list[Person]:
    """Write everyone's messages (interleaved, in batches), then deliver them to HOOK with a
    dead letter and a retry for every third person."""
    everyone = [Person(i) for i in range(people)]
    store.register_destination(HOOK)
    streams = [messages_of(p) for p in everyone]
    interleaved = [stream[k] for k in range(MESSAGES_EACH) for stream in streams]
    for start in range(0, len(interleaved), 500):
        batch = interleaved[start : start + 500]
        store.write_batch([prepare(compiled, m, NOW) for m in batch])
    now = now_ms()
    while claimed := store.claim(HOOK, 500, now):
        results = []
        for delivery in claimed:
            number = int(delivery.message["messageId"][8:11])
            index = int(delivery.message["messageId"][3:7])
            if index % 3 == 0 and number == 7:
                results.append(DeliveryResult(delivery.seq, "dead", error="400 bad"))
            elif index % 3 == 0 and number == 8:
                results.append(
                    DeliveryResult(
                        delivery.seq, "retry", next_attempt_ms=now + 600_000, error="503"
                    )
                )
            else:
                results.append(DeliveryResult(delivery.seq, "delivered"))
        store.ack(HOOK, results, now)
    return everyone
