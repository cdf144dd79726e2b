"""Write keys: generated once, stored as SHA-256 hashes, looked up in constant time."""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request

from trackwell.core.operations import PERSON_ADDRESSED_OPERATIONS, cio_id_of, operation_of
from trackwell.core.tokens import HASH_PREFIX, hash_token, new_token, token_digest
from trackwell.server.problems import Problem

KEY_PREFIX = "tw_"
# The source a `--write-key` / TRACKWELL_WRITE_KEY key belongs to (quick starts, development).
DEFAULT_SOURCE = "default"
BROWSER_TYPES = ("page", "track")
# Events a second an anonymous-only browser source may send without a `rate_limit` of its own:
# a page sends a few per visit, so this is ample for a marketing site and keeps a key copied from
# a page from flooding the store (`rate_limit` overrides it).
BROWSER_RATE_LIMIT = 100.0
# Top-level keys a browser message may not carry: a person's id under another spelling
# (`user_id`, `UserID`, ...) would otherwise ride along in the message's extra fields to the tools.
_USER_ID_SPELLINGS = frozenset({"userid"})
# `allowed_origins = ["*"]`: web pages of any origin may send with the source's key.
ANY_ORIGIN = "*"
# analytics.js names people after identify(): what its source needs instead of a browser key.
IDENTIFYING_BROWSER_HELP = (
    "for analytics.js use a source that lists its pages' allowed_origins with anonymous_only ="
    " false (`trackwell keys add NAME --origin https://...`)"
)
UNAUTHORIZED = {"WWW-Authenticate": 'Basic realm="trackwell"'}
# Hex digits of a key's hash that name it (as `trackwell keys list` shows them).
KEY_ID_DIGITS = 12


@dataclass(frozen=True, slots=True)
class Source:
    """A sender of messages and what its keys may send."""

    name: str
    types: frozenset[str] | None = None  # None: every message type
    anonymous_only: bool = False  # a browser key: anonymous page and track only
    rate_limit: float | None = None  # events per second on average (None: no limit)
    strict: bool = False  # a request with a blocked message is refused whole (400)
    # Web page origins (`https://host[:port]`) that may send with this source's keys; `*` is any.
    allowed_origins: frozenset[str] = frozenset()

    @property
    def public(self) -> bool:
        """Whether its keys are published in web pages (a browser key, or listed origins)."""
        return self.anonymous_only or bool(self.allowed_origins)

    def allows_origin(self, origin: str) -> bool:
        """Whether a browser request with this `Origin` header may use this source's keys."""
        return ANY_ORIGIN in self.allowed_origins or origin.lower() in self.allowed_origins

    def describe(self) -> str:
        """What this source may send, for error messages and `keys list`."""
        kinds = ", ".join(sorted(self.types)) if self.types is not None else "every type"
        limit = f", at most {self.rate_limit:g} events/s" if self.rate_limit is not None else ""
        strict = ", strict" if self.strict else ""
        return f"{kinds}{' (anonymous only)' if self.anonymous_only else ''}{limit}{strict}"


def new_key() -> str:
    """A new random write key (192 bits)."""
    return new_token(KEY_PREFIX)


# A write key is stored like every other secret: `sha256:<hex>` (`trackwell.core.tokens`).
hash_key = hash_token


class KeyRing:
    """Every accepted key's hash and its source."""

    def __init__(
        self,
        sources: list[tuple[Source, list[str]]],
        expires: Mapping[str, datetime] | None = None,
    ) -> None:
        # (digest, source, expiry): a rotated-out key works until its expiry, then never again.
        self._entries: list[tuple[bytes, Source, datetime | None]] = []
        self.sources: dict[str, Source] = {}
        for source, hashes in sources:
            self.sources[source.name] = source
            for stored in hashes:
                expiry = (expires or {}).get(stored)
                self._entries.append(
                    (bytes.fromhex(stored.removeprefix(HASH_PREFIX)), source, expiry)
                )

    @classmethod
    def from_config(
        cls, tables: Mapping[str, Mapping[str, Any]], write_key: str | None = None
    ) -> KeyRing:
        """From trackwell.toml's [sources.NAME] tables, plus an optional quick-start key."""
        sources: list[tuple[Source, list[str]]] = []
        expires: dict[str, datetime] = {}
        for name, table in tables.items():
            types = table.get("types")
            anonymous = bool(table.get("anonymous_only", False))
            rate = table.get("rate_limit", BROWSER_RATE_LIMIT if anonymous else None)
            expires.update(table.get("key_expires", {}))
            source = Source(
                name,
                frozenset(types) if types is not None else None,
                anonymous,
                float(rate) if rate is not None else None,
                strict=bool(table.get("strict", False)),
                allowed_origins=default_origins(table.get("allowed_origins"), anonymous),
            )
            sources.append((source, list(table.get("key_hashes", []))))
        if write_key:
            known = dict(sources)
            default = next((s for s in known if s.name == DEFAULT_SOURCE), Source(DEFAULT_SOURCE))
            sources = [(s, h) for s, h in sources if s.name != DEFAULT_SOURCE]
            sources.append((default, [*known.get(default, []), hash_key(write_key)]))
        return cls(sources, expires)

    def origins(self) -> frozenset[str]:
        """Every origin some source allows (`*` among them when one allows any): what a CORS
        preflight, which carries no key, is answered for."""
        return frozenset().union(*(s.allowed_origins for s in self.sources.values()))

    def __len__(self) -> int:
        return len(self._entries)

    def find(self, key: str, now: datetime | None = None) -> Source | None:
        """The source of a key, or None (unknown, or past its `key_expires` time); compares
        against every hash, without an early exit."""
        digest = token_digest(key)
        moment = now or datetime.now(UTC)
        found: Source | None = None
        for stored, source, expiry in self._entries:
            if hmac.compare_digest(stored, digest) and (expiry is None or moment < expiry):
                found = source
        return found


def default_origins(configured: Any, anonymous_only: bool) -> frozenset[str]:
    """A source's allowed origins: as configured (lower-case), else any origin for a browser key
    (anonymous only, public by design, as `keys add --browser` makes them) and none for the rest:
    a key that may name people is not for web pages unless its origins are listed."""
    if configured is not None:
        return frozenset(str(origin).lower() for origin in configured)
    return frozenset([ANY_ORIGIN]) if anonymous_only else frozenset()


def basic_credentials(header: str | None) -> tuple[str, str] | None:
    """(user, password) of an `Authorization: Basic ...` header; None when there is none."""
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        raise Problem(
            401,
            "unauthorized",
            "use Basic authentication (the write key as user name)",
            headers=UNAUTHORIZED,
        )
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise Problem(
            401, "unauthorized", "the Authorization header is not valid Basic", headers=UNAUTHORIZED
        ) from None
    user, _, password = decoded.partition(":")
    return user, password


def require(ring: KeyRing, key: str | None, where: str) -> Source:
    """The source of a presented key; 401 when it is missing or unknown."""
    if not key:
        raise Problem(401, "unauthorized", f"no write key: {where}", headers=UNAUTHORIZED)
    source = ring.find(key)
    if source is None:
        raise Problem(401, "unauthorized", "invalid write key", headers=UNAUTHORIZED)
    return source


def presented(request: Request, source: Source, key: str) -> Source:
    """`source`, after noting on the request the key it was named by (`request.state`), so an
    admin action the request asks for can name that key (`key_id`)."""
    request.state.write_key = key
    return source


def key_id(source: Source, key: str | None) -> str:
    """A key as the audit log and `trackwell keys list` name it: its source and the first 12 hex
    digits of its hash (`backend/sha256:0123456789ab`), never the key."""
    if not key:
        return source.name
    return f"{source.name}/{hash_token(key)[: len(HASH_PREFIX) + KEY_ID_DIGITS]}"


def check_allowed(source: Source, item: Mapping[str, Any], index: int | None) -> None:
    """403 when a source sends what its keys may not: another type, or a person's identity."""
    kind = item.get("type")
    where = f"batch[{index}]." if index is not None else ""
    if source.types is not None and isinstance(kind, str) and kind not in source.types:
        raise Problem(
            403,
            "forbidden",
            f"source '{source.name}' may send {source.describe()}, not {kind}",
            f"{where}type",
        )
    if source.public:
        _check_public(source, kind, item, where)
    if not source.anonymous_only:
        return
    if isinstance(item, dict):
        strip_identity(item)
    if item.get("userId") is not None:
        raise Problem(
            403,
            "forbidden",
            f"source '{source.name}' has a browser key: messages must be anonymous (no userId);"
            f" identify people from your backend, or {IDENTIFYING_BROWSER_HELP}",
            f"{where}userId",
        )
    if kind == "identify" and item.get("traits"):
        raise Problem(
            403,
            "forbidden",
            f"source '{source.name}' has a browser key: it may not identify with traits;"
            f" {IDENTIFYING_BROWSER_HELP}",
            f"{where}traits",
        )


def _check_public(source: Source, kind: Any, item: Mapping[str, Any], where: str) -> None:
    """403 for what a key anyone can read from a web page must never do to other people:
    operations (delete, suppress, devices), addressing a person by their Customer.io id, and
    merging two people (an alias from anything but the page's own anonymous id). A delivery
    metric is about a message, not a person (an in-app message reports its metrics from the
    page; Customer.io takes them without credentials), so a public key may send it."""
    if operation_of(kind, item.get("event")) in PERSON_ADDRESSED_OPERATIONS:
        raise Problem(
            403,
            "forbidden",
            f"source '{source.name}' has a public key: it may not send '{item.get('event')}'"
            " (an operation on a person, device or object); send it from your backend",
            f"{where}event",
        )
    if cio_id_of(item.get("context")) is not None:
        raise Problem(
            403,
            "forbidden",
            f"source '{source.name}' has a public key: it may not address a person by their"
            " Customer.io id (context.externalIds); identify people from your backend",
            f"{where}context.externalIds",
        )
    if kind == "alias" and item.get("previousId") != item.get("anonymousId"):
        raise Problem(
            403,
            "forbidden",
            f"source '{source.name}' has a public key: an alias from it may only tie the page's own"
            " anonymousId (previousId equal to anonymousId); merge known people from your backend",
            f"{where}previousId",
        )


def strip_identity(item: dict[str, Any]) -> None:
    """Remove what would name or describe a person from an anonymous-only browser message, in
    place: `context.traits` and top-level spellings of a user id other than `userId` (which is
    refused with a 403 naming the field, as the snippet never sends it). A key read from a web
    page must not set traits on profiles or reach the tools as someone's identity."""
    for key in [k for k in item if k != "userId" and _squash(k) in _USER_ID_SPELLINGS]:
        del item[key]
    context = item.get("context")
    if isinstance(context, dict) and "traits" in context:
        item["context"] = {k: v for k, v in context.items() if k != "traits"}


def _squash(key: str) -> str:
    """A key without case, `_`, `-` or spaces: `user_id`, `User-ID` and `userid` are one name."""
    return "".join(c for c in key.lower() if c not in "_- ")
