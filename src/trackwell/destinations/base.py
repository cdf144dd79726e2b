"""The Destination base class: map Segment-spec messages to requests, send, read the answer."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, Literal, TypedDict, Unpack

from trackwell.core.delivery import DeliveryFilter
from trackwell.core.messages import WireMessage
from trackwell.core.outcomes import CAPTURED_NOTE, Outcome
from trackwell.core.privacy import RequestKind, Subject
from trackwell.destinations.http import (
    CaptureTransport,
    HttpRequest,
    HttpResponse,
    HttpxTransport,
    Transport,
    TransportError,
)
from trackwell.destinations.retry import classify

DEFAULT_BATCH_SIZE = 100
DEFAULT_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class DestinationSettings:
    """The settings every destination has, whatever its tool; the registry builds them from a
    `[destinations.NAME]` table, and each constructor also takes them as keywords."""

    batch_size: int | None = None  # None: the tool's own default (`default_batch_size`)
    rate_limit: float | None = None  # messages per second, None for unlimited
    timeout: float = DEFAULT_TIMEOUT_SECONDS  # seconds for one request
    filter: DeliveryFilter | None = None  # None: every call type the tool supports
    capture: bool = False  # record requests in a CaptureTransport, send nothing
    transport: Transport | None = None  # None: a pooled HTTP client (or a capture, above)

    def __post_init__(self) -> None:
        """Refuse values no destination could work with."""
        if self.batch_size is not None and self.batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {self.batch_size}")
        if self.timeout <= 0:
            raise ValueError(f"timeout must be positive, got {self.timeout}")
        if self.rate_limit is not None and self.rate_limit <= 0:
            raise ValueError(f"rate_limit must be positive, got {self.rate_limit}")
        if self.capture and not isinstance(self.transport, CaptureTransport | None):
            raise ValueError(
                "capture=True records requests in a CaptureTransport: pass one, or no transport"
            )


class SettingKeywords(TypedDict, total=False):
    """`DestinationSettings` as constructor keywords (`Mixpanel(batch_size=500, capture=True)`)."""

    batch_size: int | None
    rate_limit: float | None
    timeout: float
    filter: DeliveryFilter | None
    capture: bool
    transport: Transport | None


def settings_from(
    settings: DestinationSettings | None, keywords: SettingKeywords
) -> DestinationSettings:
    """`settings` (or the defaults) with any keywords given beside them applied on top."""
    return replace(settings or DestinationSettings(), **keywords)


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One request and the positions (in the batch handed to `deliver`) of the messages it carries."""

    request: HttpRequest
    indices: tuple[int, ...]


@dataclass(slots=True)
class Prepared:
    """What `build` made of a batch: requests to send, and messages refused before sending."""

    requests: list[Outgoing] = field(default_factory=list)
    refused: dict[int, Outcome] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PrivacyAnswer:
    """What a tool answered to a privacy request: done (acknowledged), retry (maybe after
    `retry_after` seconds), failed for good, not supported, or captured (capture mode)."""

    status: Literal["done", "retry", "failed", "not_supported", "captured"]
    detail: str | None = None  # the tool's answer (status, task id, error), or why not supported
    retry_after: float | None = None


class Destination(ABC):
    """A tool that receives messages. Subclasses implement `build` (and `parse` when the
    tool reports per-message results); the base class sends, splits on 413 and classifies."""

    kind: ClassVar[str] = "destination"
    default_batch_size: ClassVar[int] = DEFAULT_BATCH_SIZE  # the tool's own, when not configured

    def __init__(
        self,
        name: str | None = None,
        *,
        settings: DestinationSettings | None = None,
        **keywords: Unpack[SettingKeywords],
    ) -> None:
        chosen = settings_from(settings, keywords)
        self.name = name or self.kind
        transport = chosen.transport
        if chosen.capture and transport is None:
            transport = CaptureTransport()
        self._own_transport = transport is None
        self.transport: Transport = transport if transport is not None else HttpxTransport()
        self.filter = chosen.filter or DeliveryFilter()
        self.batch_size = chosen.batch_size or self.default_batch_size
        self.rate_limit = chosen.rate_limit  # messages per second, None for unlimited
        self.timeout = chosen.timeout
        # The settings as resolved: the tool's batch size, the transport actually used.
        self.settings = replace(
            chosen, batch_size=self.batch_size, filter=self.filter, transport=self.transport
        )

    @abstractmethod
    def build(self, messages: Sequence[WireMessage]) -> Prepared:
        """Requests for a batch of stored (wire-form) messages; refuse what cannot be sent."""

    def parse(
        self, response: HttpResponse, outgoing: Outgoing, messages: Sequence[WireMessage]
    ) -> dict[int, Outcome]:
        """Per-message outcomes of one response; by default the status decides for all."""
        outcome = classify(response.status, response.headers, response.text())
        return dict.fromkeys(outgoing.indices, outcome)

    def deliver(self, messages: Sequence[WireMessage]) -> list[Outcome]:
        """Send a batch; one outcome per message, in order. Never raises for the tool's errors."""
        prepared = self.build(messages)
        outcomes: dict[int, Outcome] = dict(prepared.refused)
        for outgoing in prepared.requests:
            outcomes.update(self._send(outgoing, messages))
        return [
            outcomes.get(i, Outcome("retry", "no answer for this message"))
            for i in range(len(messages))
        ]

    def privacy(
        self, kind: RequestKind, subject: Subject, *, request_id: str | None = None
    ) -> PrivacyAnswer:
        """Carry out an erase, suppress or unsuppress at the tool through its documented API.

        `request_id` (the privacy request's id) lets a tool that takes one recognise a retry of
        the same request. Never raises for the tool's errors. The base class knows no such API."""
        return PrivacyAnswer("not_supported", f"{self.kind} offers no API to {kind} a person")

    @property
    def capture(self) -> bool:
        """Whether requests are only recorded (capture mode, chosen explicitly), never sent."""
        return isinstance(self.transport, CaptureTransport)

    def _send(self, outgoing: Outgoing, messages: Sequence[WireMessage]) -> dict[int, Outcome]:
        if self.capture:
            # Recorded, not sent: the tool never saw it, so it must not count as delivered.
            self.transport.send(outgoing.request, self.timeout)
            return dict.fromkeys(outgoing.indices, Outcome("captured", CAPTURED_NOTE))
        try:
            response = self.transport.send(outgoing.request, self.timeout)
        except TransportError as exc:
            return dict.fromkeys(outgoing.indices, Outcome("retry", f"no response ({exc})"))
        if response.status == 413 and len(outgoing.indices) > 1:
            # Too large as a batch: halve it until each part fits (or one message is left).
            middle = len(outgoing.indices) // 2
            parts = (outgoing.indices[:middle], outgoing.indices[middle:])
            results: dict[int, Outcome] = {}
            for part in parts:
                for sub in self.build([messages[i] for i in part]).requests:
                    mapped = Outgoing(sub.request, tuple(part[j] for j in sub.indices))
                    results.update(self._send(mapped, messages))
            return results
        return self.parse(response, outgoing, messages)

    def close(self) -> None:
        """Release the transport if this destination made it."""
        if self._own_transport and isinstance(self.transport, HttpxTransport):
            self.transport.close()

    def describe(self) -> dict[str, Any]:
        """Settings for `trackwell deliveries` (never credentials)."""
        return {
            "name": self.name,
            "kind": self.kind,
            "batch_size": self.batch_size,
            "rate_limit": self.rate_limit,
            "timeout": self.timeout,
            "filter": self.filter.to_dict(),
        }
