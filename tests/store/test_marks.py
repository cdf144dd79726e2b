"""The edge's fast identifier hash is `core.privacy.identifier_hash`, and its reading of a
parsed message's identifiers agrees with the wire-form reader."""

from __future__ import annotations

import secrets

import pytest

from trackwell.core.messages import from_json
from trackwell.core.privacy import identifier_hash, message_identifiers
from trackwell.store.sql.marks import Hasher, identifiers_of


@pytest.mark.parametrize("size", [0, 16, 32, 64, 65, 200])
def test_the_fast_hash_is_the_identifier_hash(size: int) -> None:
    pepper = secrets.token_bytes(size)
    hasher = Hasher(pepper)
    for kind, value in [("id", "user-1"), ("id", "ünï-ç0de"), ("email", " Ann@Example.COM ")]:
        assert hasher(kind, value) == identifier_hash(kind, value, pepper)


@pytest.mark.parametrize(
    "wire",
    [
        {"type": "track", "event": "E", "userId": "u", "anonymousId": "a"},
        {"type": "alias", "userId": "u", "previousId": "p"},
        {"type": "identify", "userId": "u", "traits": {"email": "A@b.c"}},
        {
            "type": "track",
            "event": "E",
            "anonymousId": "a",
            "context": {
                "traits": {"email": "x@y.z"},
                "externalIds": [{"id": "cio-1", "type": "cio_id", "collection": "users"}],
            },
        },
        {"type": "page", "anonymousId": "a", "context": {"ip": "1.2.3.4"}},
    ],
)
def test_a_parsed_message_names_the_identifiers_its_wire_form_does(wire: dict[str, object]) -> None:
    message = from_json({**wire, "messageId": "m1"})
    assert sorted(identifiers_of(message)) == sorted(message_identifiers(wire))
