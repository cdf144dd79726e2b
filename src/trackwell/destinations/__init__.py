"""Destinations: each tool's wire format, and the HTTP seam they send through."""

from trackwell.core.outcomes import Outcome
from trackwell.destinations.amplitude import Amplitude
from trackwell.destinations.base import Destination, Outgoing, Prepared
from trackwell.destinations.common import MissingCredentialsError
from trackwell.destinations.customerio import CustomerIO
from trackwell.destinations.http import (
    CaptureTransport,
    HttpRequest,
    HttpResponse,
    HttpxTransport,
    Transport,
    TransportError,
)
from trackwell.destinations.mixpanel import Mixpanel
from trackwell.destinations.segment import SegmentCompatible
from trackwell.destinations.webhook import Webhook

__all__ = [
    "Amplitude",
    "CaptureTransport",
    "CustomerIO",
    "Destination",
    "HttpRequest",
    "HttpResponse",
    "HttpxTransport",
    "MissingCredentialsError",
    "Mixpanel",
    "Outcome",
    "Outgoing",
    "Prepared",
    "SegmentCompatible",
    "Transport",
    "TransportError",
    "Webhook",
]
