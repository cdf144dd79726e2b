"""Privacy requests at each tool, over real HTTP to the fakes: an erase removes what the tool
held of the person; 503 with Retry-After is retried, 400 fails with the tool's words, a missing
credential or an impossible call is not supported (saying why), capture mode records only."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.destinations.helpers import identify, kinds, page, track
from tests.fakes import FakeAmplitude, FakeCustomerIO, FakeMixpanel, FakeSegment, FakeWebhook
from tests.fakes.server import FakeServer
from trackwell.core.privacy import Subject
from trackwell.destinations import (
    Amplitude,
    CaptureTransport,
    CustomerIO,
    Mixpanel,
    SegmentCompatible,
    Webhook,
)
from trackwell.destinations.common import HttpDestination

USER = "user-0001"
ANONYMOUS = "anon-7777"
EMAIL = "ada@example.com"
PERSON = Subject(user_ids=(USER,), anonymous_ids=(ANONYMOUS,), emails=(EMAIL,))
ANONYMOUS_ONLY = Subject(anonymous_ids=(ANONYMOUS,))


@dataclass
class Tool:
    """A destination kind wired to its fake, and how to ask the fake whether it holds the person."""

    fake: FakeServer
    make: Callable[..., HttpDestination]
    holds: Callable[[], bool] | None  # None: the tool keeps no data (it forwards it)


def customerio(api: str) -> Callable[[], Tool]:
    def start() -> Tool:
        fake = FakeCustomerIO().start()

        def make(**extra: Any) -> HttpDestination:
            return CustomerIO(
                site_id=fake.site_id,
                api_key=fake.api_key,
                base_url=fake.url,
                api=api,  # type: ignore[arg-type]
                **extra,
            )

        return Tool(fake, make, lambda: USER in fake.people or bool(fake.activity(USER)))

    return start


def mixpanel() -> Tool:
    fake = FakeMixpanel().start()

    def make(**extra: Any) -> HttpDestination:
        extra.setdefault("gdpr_token", fake.gdpr_token)
        return Mixpanel(
            project_token=fake.project_token,
            api_secret=fake.api_secret,
            base_url=fake.url,
            **extra,
        )

    return Tool(fake, make, lambda: fake.holds(USER) or fake.holds(f"$device:{ANONYMOUS}"))


def amplitude() -> Tool:
    fake = FakeAmplitude().start()

    def make(**extra: Any) -> HttpDestination:
        extra.setdefault("secret_key", fake.secret_key)
        return Amplitude(api_key=fake.api_key, base_url=fake.url, **extra)

    return Tool(fake, make, lambda: fake.holds(USER))


def segment_regulations() -> Tool:
    fake = FakeSegment().start()

    def make(**extra: Any) -> HttpDestination:
        extra.setdefault("regulations_token", fake.public_api_token)
        return SegmentCompatible(
            write_key=fake.write_key, base_url=fake.url, regulations_url=fake.url, **extra
        )

    return Tool(fake, make, lambda: fake.holds(USER))


def segment_semantic() -> Tool:
    fake = FakeSegment().start()

    def make(**extra: Any) -> HttpDestination:
        return SegmentCompatible(
            write_key=fake.write_key, base_url=fake.url, privacy="semantic", **extra
        )

    return Tool(fake, make, None)  # the receiver performs the event; Segment's fake only keeps it


def webhook() -> Tool:
    fake = FakeWebhook().start()

    def make(**extra: Any) -> HttpDestination:
        return Webhook(url=fake.url + fake.path, secret=fake.secret, **extra)

    return Tool(fake, make, lambda: fake.holds(USER) or fake.holds(ANONYMOUS))


TOOLS: dict[str, Callable[[], Tool]] = {
    "customerio-v1": customerio("v1"),
    "customerio-v2": customerio("v2"),
    "mixpanel": mixpanel,
    "amplitude": amplitude,
    "segment-regulations": segment_regulations,
    "segment-semantic": segment_semantic,
    "webhook": webhook,
}


@pytest.fixture(params=sorted(TOOLS))
def tool(request: pytest.FixtureRequest) -> Iterator[Tool]:
    """Each destination kind (and mode) against its own fake on loopback."""
    started = TOOLS[request.param]()
    yield started
    started.fake.stop()


def history() -> list[dict[str, Any]]:
    """What the person did: identified, an anonymous visit, then a known event."""
    return [
        identify(anonymousId=ANONYMOUS),
        page(user_id=None, anonymousId=ANONYMOUS),
        track(anonymousId=ANONYMOUS),
    ]


def test_an_erase_is_done_and_the_tool_no_longer_holds_the_person(
    tool: Tool, closing: Callable[[HttpDestination], HttpDestination]
) -> None:
    destination = closing(tool.make())
    assert set(kinds(destination.deliver(history()))) == {"delivered"}
    if tool.holds is not None:
        assert tool.holds()
    answer = destination.privacy("erase", PERSON, request_id="req-1")
    assert answer.status == "done", answer
    assert answer.detail
    assert USER not in answer.detail and ANONYMOUS not in answer.detail  # no identifiers
    if tool.holds is not None:
        assert not tool.holds()


def test_503_with_retry_after_is_retried(
    tool: Tool, closing: Callable[[HttpDestination], HttpDestination]
) -> None:
    destination = closing(tool.make())
    tool.fake.fail_next(status=503, retry_after="7")
    answer = destination.privacy("erase", PERSON)
    assert (answer.status, answer.retry_after) == ("retry", 7.0), answer
    assert "503" in (answer.detail or "")


def test_400_fails_with_the_tools_words(
    tool: Tool, closing: Callable[[HttpDestination], HttpDestination]
) -> None:
    destination = closing(tool.make())
    tool.fake.fail_next(status=400, body={"error": "no such workspace"})
    answer = destination.privacy("erase", PERSON)
    assert answer.status == "failed", answer
    assert "no such workspace" in (answer.detail or "")


def test_no_answer_is_retried(
    tool: Tool, closing: Callable[[HttpDestination], HttpDestination]
) -> None:
    destination = closing(tool.make(timeout=1.0))
    tool.fake.close_next(5)
    assert destination.privacy("erase", PERSON).status == "retry"


def test_capture_mode_records_and_sends_nothing(tool: Tool) -> None:
    transport = CaptureTransport()
    destination = tool.make(transport=transport, capture=True)
    answer = destination.privacy("erase", PERSON)
    assert answer.status == "captured", answer
    assert transport.requests and tool.fake.requests == []


# -- each tool's own rules ---------------------------------------------------------------------


@pytest.mark.parametrize("api", ["v1", "v2"])
def test_customerio_suppress_keeps_the_person_out_until_unsuppressed(
    api: str, customerio_fake: FakeCustomerIO, closing: Callable[[CustomerIO], CustomerIO]
) -> None:
    destination = closing(
        CustomerIO(
            site_id=customerio_fake.site_id,
            api_key=customerio_fake.api_key,
            base_url=customerio_fake.url,
            api=api,  # type: ignore[arg-type]
        )
    )
    destination.deliver([identify()])
    assert destination.privacy("suppress", PERSON).status == "done"
    assert USER in customerio_fake.suppressed and USER not in customerio_fake.people
    destination.deliver([identify()])
    assert USER not in customerio_fake.people  # Customer.io ignores a suppressed id
    assert destination.privacy("unsuppress", PERSON).status == "done"
    destination.deliver([identify()])
    assert USER in customerio_fake.people


def test_customerio_names_a_person_by_email_only_without_a_user_id(
    customerio_fake: FakeCustomerIO, closing: Callable[[CustomerIO], CustomerIO]
) -> None:
    destination = closing(
        CustomerIO(
            site_id=customerio_fake.site_id,
            api_key=customerio_fake.api_key,
            base_url=customerio_fake.url,
            api="v1",
        )
    )
    destination.deliver([identify(user_id=None, anonymousId=ANONYMOUS, traits={"email": EMAIL})])
    assert EMAIL in customerio_fake.people
    assert destination.privacy("erase", Subject((), (ANONYMOUS,), (EMAIL,))).status == "done"
    assert EMAIL not in customerio_fake.people
    assert [r.path for r in customerio_fake.requests[-1:]] == [
        "/api/v1/customers/ada%40example.com"
    ]
    destination.privacy("erase", PERSON)
    assert customerio_fake.requests[-1].path == f"/api/v1/customers/{USER}"  # the id, not the email


def test_customerio_cannot_erase_an_anonymous_visitor() -> None:
    destination = CustomerIO(site_id="s", api_key="k", transport=CaptureTransport())
    answer = destination.privacy("erase", ANONYMOUS_ONLY)
    assert answer.status == "not_supported" and "anonymous" in (answer.detail or "")


def test_customerio_v2_refusal_of_an_operation_fails_the_request(
    customerio_fake: FakeCustomerIO, closing: Callable[[CustomerIO], CustomerIO]
) -> None:
    destination = closing(
        CustomerIO(
            site_id=customerio_fake.site_id,
            api_key=customerio_fake.api_key,
            base_url=customerio_fake.url,
        )
    )
    too_long = Subject(user_ids=("x" * 151,))
    answer = destination.privacy("erase", too_long)
    assert answer.status == "failed" and "150" in (answer.detail or "")
    assert customerio_fake.requests == []  # refused before sending, as deliveries are


def test_mixpanel_without_a_gdpr_token_deletes_profiles_and_says_events_stay(
    mixpanel_fake: FakeMixpanel, closing: Callable[[Mixpanel], Mixpanel]
) -> None:
    destination = closing(
        Mixpanel(
            name="product",
            project_token=mixpanel_fake.project_token,
            api_secret=mixpanel_fake.api_secret,
            base_url=mixpanel_fake.url,
        )
    )
    destination.deliver(history())
    answer = destination.privacy("erase", PERSON)
    assert answer.status == "done"
    assert "events stay in Mixpanel" in (answer.detail or "")
    assert "TRACKWELL_PRODUCT_GDPR_TOKEN" in (answer.detail or "")
    assert USER not in mixpanel_fake.profiles and mixpanel_fake.events  # events kept
    assert mixpanel_fake.profiles_deleted == [USER, f"$device:{ANONYMOUS}"]
    assert mixpanel_fake.deletion_tasks == []


def test_mixpanel_gdpr_deletion_names_its_task(
    mixpanel_fake: FakeMixpanel, closing: Callable[[Mixpanel], Mixpanel]
) -> None:
    destination = closing(
        Mixpanel(
            project_token=mixpanel_fake.project_token,
            api_secret=mixpanel_fake.api_secret,
            gdpr_token=mixpanel_fake.gdpr_token,
            base_url=mixpanel_fake.url,
        )
    )
    answer = destination.privacy("erase", PERSON)
    (task,) = mixpanel_fake.deletion_tasks
    assert answer.status == "done" and task["task_id"] in (answer.detail or "")
    assert task["distinct_ids"] == [USER, f"$device:{ANONYMOUS}"]
    assert task["compliance_type"] == "GDPR"
    gdpr = mixpanel_fake.requests[-1]
    assert gdpr.query == {"token": mixpanel_fake.project_token}
    assert gdpr.headers["authorization"] == f"Bearer {mixpanel_fake.gdpr_token}"


def test_mixpanel_gdpr_api_follows_data_residency() -> None:
    transport = CaptureTransport()
    for region, host in [
        ("us", "mixpanel.com"),
        ("eu", "eu.mixpanel.com"),
        ("in", "in.mixpanel.com"),
    ]:
        Mixpanel(
            project_token="t",
            api_secret="s",
            gdpr_token="g",
            region=region,  # type: ignore[arg-type]
            transport=transport,
            capture=True,
        ).privacy("erase", PERSON)
        engage, gdpr = transport.requests[-2:]
        assert engage.url.startswith(
            f"https://api{'' if region == 'us' else '-' + region}.mixpanel.com/engage"
        )
        assert gdpr.url == f"https://{host}/api/app/data-deletions/v3.0/?token=t"


def test_mixpanel_gdpr_token_refused_fails_with_its_words(
    mixpanel_fake: FakeMixpanel, closing: Callable[[Mixpanel], Mixpanel]
) -> None:
    destination = closing(
        Mixpanel(
            project_token=mixpanel_fake.project_token,
            api_secret=mixpanel_fake.api_secret,
            gdpr_token="expired",
            base_url=mixpanel_fake.url,
        )
    )
    answer = destination.privacy("erase", PERSON)
    assert answer.status == "failed" and "Invalid OAuth token" in (answer.detail or "")


def test_amplitude_without_the_secret_key_is_not_supported_naming_the_variable() -> None:
    destination = Amplitude(name="amp", api_key="k", transport=CaptureTransport())
    answer = destination.privacy("erase", PERSON)
    assert answer.status == "not_supported"
    assert "TRACKWELL_AMP_SECRET_KEY" in (answer.detail or "")


def test_amplitude_erase_uses_the_eu_host_and_reports_the_job() -> None:
    transport = CaptureTransport()
    Amplitude(api_key="k", secret_key="s", region="eu", transport=transport).privacy(
        "erase", PERSON
    )
    (request,) = transport.requests
    assert request.url == "https://analytics.eu.amplitude.com/api/2/deletions/users"


def test_amplitude_reports_the_scheduled_job(
    amplitude_fake: FakeAmplitude, closing: Callable[[Amplitude], Amplitude]
) -> None:
    destination = closing(
        Amplitude(
            api_key=amplitude_fake.api_key,
            secret_key=amplitude_fake.secret_key,
            base_url=amplitude_fake.url,
        )
    )
    answer = destination.privacy("erase", PERSON)
    assert answer.status == "done" and "staging for" in (answer.detail or "")
    (job,) = amplitude_fake.deletion_jobs
    assert job == {"user_ids": [USER], "requester": "trackwell", "ignore_invalid_ids": True}


@pytest.mark.parametrize("kind", ["suppress", "unsuppress"])
@pytest.mark.parametrize(
    "make",
    [
        lambda: Mixpanel(project_token="t", api_secret="s", gdpr_token="g", capture=True),
        lambda: Amplitude(api_key="k", secret_key="s", capture=True),
    ],
)
def test_tools_without_suppression_say_so(kind: str, make: Callable[[], HttpDestination]) -> None:
    answer = make().privacy(kind, PERSON)  # type: ignore[arg-type]
    assert answer.status == "not_supported" and kind in (answer.detail or "")


@pytest.mark.parametrize(
    "make",
    [
        lambda: Amplitude(api_key="k", secret_key="s", capture=True),
        lambda: SegmentCompatible(write_key="w", regulations_token="t", capture=True),
        lambda: SegmentCompatible(write_key="w", privacy="semantic", capture=True),
    ],
)
def test_tools_that_name_people_by_user_id_cannot_erase_an_anonymous_visitor(
    make: Callable[[], HttpDestination],
) -> None:
    answer = make().privacy("erase", ANONYMOUS_ONLY)
    assert answer.status == "not_supported" and "anonymous" in (answer.detail or "")


def test_segment_regulations_by_kind(
    segment_fake: FakeSegment, closing: Callable[[SegmentCompatible], SegmentCompatible]
) -> None:
    destination = closing(
        SegmentCompatible(
            write_key=segment_fake.write_key,
            base_url=segment_fake.url,
            regulations_token=segment_fake.public_api_token,
            regulations_url=segment_fake.url,
        )
    )
    for kind in ("suppress", "unsuppress", "erase"):
        answer = destination.privacy(kind, PERSON)
        assert answer.status == "done" and "regulation reg" in (answer.detail or "")
    assert [r["regulationType"] for r in segment_fake.regulations] == [
        "SUPPRESS_ONLY",
        "UNSUPPRESS",
        "SUPPRESS_WITH_DELETE",
    ]
    assert {r["subjectType"] for r in segment_fake.regulations} == {"USER_ID"}
    destination.deliver([track()])
    assert not segment_fake.holds(USER)  # suppressed with the erase


def test_segment_refused_regulation_fails_with_the_public_apis_words(
    segment_fake: FakeSegment, closing: Callable[[SegmentCompatible], SegmentCompatible]
) -> None:
    destination = closing(
        SegmentCompatible(
            write_key=segment_fake.write_key,
            base_url=segment_fake.url,
            regulations_token="wrong",
            regulations_url=segment_fake.url,
        )
    )
    answer = destination.privacy("erase", PERSON)
    assert answer.status == "failed" and "invalid or missing token" in (answer.detail or "")


def test_segment_without_a_privacy_method_is_not_supported_and_says_how() -> None:
    destination = SegmentCompatible(name="cdp", write_key="w", capture=True)
    answer = destination.privacy("erase", PERSON)
    assert answer.status == "not_supported"
    assert "TRACKWELL_CDP_REGULATIONS_TOKEN" in (answer.detail or "")
    assert 'privacy = "semantic"' in (answer.detail or "")
    explicit = SegmentCompatible(name="cdp", write_key="w", privacy="regulations", capture=True)
    assert explicit.privacy("erase", PERSON).status == "not_supported"


def test_segment_defaults_follow_the_endpoint() -> None:
    assert SegmentCompatible(write_key="w").privacy_method is None
    pipelines = SegmentCompatible(write_key="w", base_url="https://cdp-eu.customer.io")
    assert pipelines.privacy_method == "semantic"
    assert SegmentCompatible(write_key="w", regulations_token="t").privacy_method == "regulations"
    with pytest.raises(ValueError, match="privacy must be one of"):
        SegmentCompatible(write_key="w", privacy="gdpr")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kind", "event"),
    [
        ("erase", "User Deleted"),
        ("suppress", "User Suppressed"),
        ("unsuppress", "User Unsuppressed"),
    ],
)
def test_segment_semantic_events_are_customerio_pipelines_own(
    kind: str,
    event: str,
    segment_fake: FakeSegment,
    closing: Callable[[SegmentCompatible], SegmentCompatible],
) -> None:
    destination = closing(
        SegmentCompatible(
            write_key=segment_fake.write_key, base_url=segment_fake.url, privacy="semantic"
        )
    )
    assert destination.privacy(kind, PERSON, request_id="req-9").status == "done"  # type: ignore[arg-type]
    assert destination.privacy(kind, PERSON, request_id="req-9").status == "done"  # type: ignore[arg-type]
    (sent,) = segment_fake.messages  # the retry repeats the messageId: kept once
    assert (sent["type"], sent["event"], sent["userId"]) == ("track", event, USER)
    assert segment_fake.duplicates == 1


def test_webhook_body_is_documented_and_signed(
    webhook_fake: FakeWebhook, closing: Callable[[Webhook], Webhook]
) -> None:
    destination = closing(
        Webhook(url=webhook_fake.url + webhook_fake.path, secret=webhook_fake.secret)
    )
    assert destination.privacy("suppress", PERSON, request_id="req-3").status == "done"
    assert destination.privacy("suppress", PERSON, request_id="req-3").status == "done"
    (body,) = webhook_fake.privacy_requests  # de-duplicated by requestId
    assert body["type"] == "privacy" and body["action"] == "suppress"
    assert (body["requestId"], body["userIds"], body["anonymousIds"], body["emails"]) == (
        "req-3",
        [USER],
        [ANONYMOUS],
        [EMAIL],
    )
    destination.deliver([track()])
    assert not webhook_fake.holds(USER)
    assert destination.privacy("unsuppress", PERSON).status == "done"
    destination.deliver([track()])
    assert webhook_fake.holds(USER)


def test_webhook_with_a_wrong_secret_fails(
    webhook_fake: FakeWebhook, closing: Callable[[Webhook], Webhook]
) -> None:
    destination = closing(Webhook(url=webhook_fake.url + webhook_fake.path, secret="guess"))
    answer = destination.privacy("erase", PERSON)
    assert answer.status == "failed" and "bad signature" in (answer.detail or "")


def test_the_base_class_knows_no_privacy_api() -> None:
    from trackwell.destinations.base import Destination, Prepared

    class Plain(Destination):
        def build(self, messages: Any) -> Prepared:
            return Prepared()

    answer = Plain().privacy("erase", PERSON)
    assert answer.status == "not_supported"


# -- configuration ------------------------------------------------------------------------------


def test_registry_reads_the_optional_privacy_credentials_from_the_environment() -> None:
    from trackwell.destinations.registry import from_settings

    env = {
        "TRACKWELL_MP_PROJECT_TOKEN": "t",
        "TRACKWELL_MP_API_SECRET": "s",
        "TRACKWELL_MP_GDPR_TOKEN": "gdpr-secret",
        "TRACKWELL_AMP_API_KEY": "k",
        "TRACKWELL_AMP_SECRET_KEY": "amp-secret",
        "TRACKWELL_SEG_WRITE_KEY": "w",
        "TRACKWELL_SEG_REGULATIONS_TOKEN": "sgp-secret",
    }
    mp = from_settings("mp", {"type": "mixpanel", "region": "eu"}, env)
    amp = from_settings("amp", {"type": "amplitude"}, env)
    seg = from_settings(
        "seg", {"type": "segment", "regulations_url": "https://eu1.api.segmentapis.com"}, env
    )
    assert mp.describe()["gdpr_deletion"] is True and isinstance(mp, Mixpanel)
    assert mp.app_url == "https://eu.mixpanel.com"
    assert amp.describe()["privacy_api"] is True
    assert seg.describe()["privacy"] == "regulations" and isinstance(seg, SegmentCompatible)
    assert seg.regulations_url == "https://eu1.api.segmentapis.com"
    described = str([d.describe() for d in (mp, amp, seg)])
    assert "secret" not in described  # the tokens are never shown
    for destination in (mp, amp, seg):
        destination.close()
    # Optional: without them the destinations build, and say so.
    bare = {k: v for k, v in env.items() if "GDPR" not in k and "SECRET_KEY" not in k}
    assert from_settings("mp", {"type": "mixpanel"}, bare).describe()["gdpr_deletion"] is False
    assert from_settings("amp", {"type": "amplitude"}, bare).describe()["privacy_api"] is False


@pytest.mark.parametrize(
    ("table", "words"),
    [
        ({"type": "mixpanel", "gdpr_token": "g"}, "TRACKWELL_D_GDPR_TOKEN"),
        ({"type": "amplitude", "secret_key": "s"}, "TRACKWELL_D_SECRET_KEY"),
        ({"type": "segment", "regulations_token": "t"}, "TRACKWELL_D_REGULATIONS_TOKEN"),
        ({"type": "segment", "mode": "capture", "privacy": "gdpr"}, "privacy must be one of"),
        ({"type": "segment", "mode": "capture", "privacy": 1}, "privacy must be a string"),
        ({"type": "amplitude", "mode": "capture", "privacy": "semantic"}, "unknown key(s) privacy"),
    ],
)
def test_registry_refuses_privacy_secrets_and_bad_settings_in_the_file(
    table: dict[str, Any], words: str
) -> None:
    from trackwell.destinations.registry import from_settings

    with pytest.raises(ValueError) as error:
        from_settings("d", table, {})
    assert words in str(error.value)


def test_registry_privacy_method_from_the_table() -> None:
    from trackwell.destinations.registry import from_settings

    table = {"type": "segment", "mode": "capture", "privacy": "semantic"}
    built = from_settings("s", table, {})
    assert isinstance(built, SegmentCompatible) and built.privacy_method == "semantic"
    # Chosen explicitly, the person operations are the endpoint's, so they are forwarded too.
    assert "User Deleted" not in built.filter.exclude_events
