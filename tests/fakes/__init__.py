"""Small servers that implement the documented wire behaviour of the tools trackwell feeds."""

from tests.fakes.amplitude import FakeAmplitude
from tests.fakes.customerio import FakeCustomerIO
from tests.fakes.mixpanel import FakeMixpanel
from tests.fakes.segment import FakeSegment
from tests.fakes.server import FakeServer, Received, Reply, TlsFiles, make_tls_files
from tests.fakes.webhook import FakeWebhook

__all__ = [
    "FakeAmplitude",
    "FakeCustomerIO",
    "FakeMixpanel",
    "FakeSegment",
    "FakeServer",
    "FakeWebhook",
    "Received",
    "Reply",
    "TlsFiles",
    "make_tls_files",
]
