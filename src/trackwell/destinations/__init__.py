"""Destinations: each tool's wire format, and the HTTP seam they send through."""

from trackwell.destinations.base import Destination, Outgoing, Prepared
from trackwell.destinations.base_types import Outcome
from trackwell.destinations.http import (
    CaptureTransport,
    HttpRequest,
    HttpResponse,
    HttpxTransport,
    Transport,
    TransportError,
)

__all__ = [
    "CaptureTransport",
    "Destination",
    "HttpRequest",
    "HttpResponse",
    "HttpxTransport",
    "Outcome",
    "Outgoing",
    "Prepared",
    "Transport",
    "TransportError",
]
