"""The regulations API (Segment's Public API shape): behind the admin token, a request per subject
id carried out in the store with a receipt per destination, read back by id and listed; over
ASGI for the field-by-field answers and over loopback against a real gateway process."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fakes import FakeCustomerIO
from trackwell.core.tokens import hash_token
from trackwell.store.sqlite import SQLiteStore

from .conftest import QUICK_KEY, SERVER_KEY, Recording, harness, start_gateway

pytestmark = pytest.mark.anyio
ADMIN = "tw_admin_test_token_0123456789"
BEARER = {"authorization": f"Bearer {ADMIN}"}
PATH = "/admin/v1/regulations"
IDENTIFY = {"userId": "ada-1", "anonymousId": "anon-ada", "traits": {"email": "ada@example.com"}}


def regulate(kind: str, *ids: Any, subject: str = "USER_ID") -> dict[str, Any]:
    return {"regulationType": kind, "subjectType": subject, "subjectIds": list(ids)}


async def test_only_the_admin_token_opens_the_api(tmp_path: Path) -> None:
    body = regulate("SUPPRESS_ONLY", "u-1")
    async with harness(tmp_path) as h:
        off = await h.client.post(PATH, json=body, headers=BEARER)
        assert off.status_code == 401 and "no admin token is configured" in off.json()["message"]
    async with harness(tmp_path, admin_token_hash=hash_token(ADMIN)) as h:
        for headers in (
            {},
            {"authorization": f"Basic {ADMIN}"},
            {"authorization": "Bearer tw_admin_test_token_012345678"},
            {"authorization": f"Bearer {SERVER_KEY}"},  # a write key is not the admin token
        ):
            for method, path in (("POST", PATH), ("GET", PATH), ("GET", PATH + "/prv_x")):
                answer = await h.client.request(method, path, json=body, headers=headers)
                assert answer.status_code == 401, (headers, path, answer.text)
                assert answer.headers["www-authenticate"].startswith("Bearer")
        assert h.store.privacy_requests() == []
        assert (await h.client.post(PATH, json=body, headers=BEARER)).status_code == 200


async def test_an_erase_is_carried_out_and_read_back_per_destination(tmp_path: Path) -> None:
    destinations = [Recording("cio"), Recording("mixpanel")]
    async with harness(
        tmp_path, admin_token_hash=hash_token(ADMIN), destinations=destinations, router=False
    ) as h:
        stored = await h.client.post("/v1/identify", json=IDENTIFY, auth=(SERVER_KEY, ""))
        assert stored.status_code == 200
        made = await h.client.post(PATH, json=regulate("SUPPRESS_WITH_DELETE", "ada-1"),
                                   headers=BEARER)  # fmt: skip
        assert made.status_code == 200, made.text
        regulate_id = made.json()["data"]["regulateId"]
        assert made.json()["data"]["regulateIds"] == [regulate_id]
        assert h.store.profile("ada-1") is None and h.store.timeline("anon-ada").entries == ()
        read = await h.client.get(f"{PATH}/{regulate_id}", headers=BEARER)
        assert read.status_code == 200
        regulation = read.json()["data"]["regulation"]
        assert regulation["id"] == regulate_id and regulation["kind"] == "erase"
        assert regulation["regulationType"] == "SUPPRESS_WITH_DELETE"
        assert regulation["overallStatus"] == "INITIALIZED" and regulation["actor"] == "api"
        [stream] = regulation["streamStatus"]
        statuses = {d["name"]: (d["status"], d["trackwellStatus"]) for d in stream["destinations"]}
        assert statuses == {
            "cio": ("INITIALIZED", "pending"),
            "mixpanel": ("INITIALIZED", "pending"),
        }
        assert "ada" not in read.text  # the identifiers are counted, never shown
        listed = await h.client.get(PATH, headers=BEARER)
        assert [r["id"] for r in listed.json()["data"]["regulations"]] == [regulate_id]
        # Later messages of the person are acknowledged like any other, and not stored.
        again = await h.client.post("/v1/identify", json=IDENTIFY, auth=(SERVER_KEY, ""))
        assert again.status_code == 200 and again.json()["accepted"] == 1
        assert h.store.profile("ada-1") is None
        metrics = (await h.client.get("/metrics")).text
        assert 'trackwell_privacy_dropped_total{reason="erased"} 1.0' in metrics
        assert 'trackwell_privacy_requests_total{kind="erase",origin="api"} 1.0' in metrics


async def test_several_ids_make_a_request_each_and_unsuppress_lifts(tmp_path: Path) -> None:
    async with harness(tmp_path, admin_token_hash=hash_token(ADMIN)) as h:
        made = await h.client.post(PATH, json=regulate("SUPPRESS_ONLY", "u-1", "u-2"),
                                   headers=BEARER)  # fmt: skip
        ids = made.json()["data"]["regulateIds"]
        assert len(ids) == 2 and made.json()["data"]["regulateId"] == ids[0]
        suppressed = {"type": "track", "userId": "u-1", "event": "Account Created",
                      "properties": {"plan": "free", "signup_source": "organic"}}  # fmt: skip
        await h.client.post("/v1/track", json=suppressed, auth=(SERVER_KEY, ""))
        assert h.store.timeline("u-1").entries == ()
        lifted = await h.client.post(PATH, json=regulate("UNSUPPRESS", "u-1"), headers=BEARER)
        assert lifted.status_code == 200
        await h.client.post("/v1/track", json=suppressed, auth=(SERVER_KEY, ""))
        assert len(h.store.timeline("u-1").entries) == 1
        # With no destination the request is done in the store alone.
        done = await h.client.get(f"{PATH}/{ids[1]}", headers=BEARER)
        assert done.json()["data"]["regulation"]["overallStatus"] == "FINISHED"
        listed = await h.client.get(PATH, params={"pagination.count": 2}, headers=BEARER)
        kinds = [r["kind"] for r in listed.json()["data"]["regulations"]]
        assert kinds == ["unsuppress", "suppress"]


# (body, the field a 400 names)
BAD: list[tuple[Any, str | None]] = [
    ([], None),
    ({"subjectType": "USER_ID", "subjectIds": ["u"]}, "regulationType"),
    (regulate("DELETE_INTERNAL", "u"), "regulationType"),
    (regulate("SUPPRESS_WITH_DELETE_INTERNAL", "u"), "regulationType"),
    (regulate("FORGET", "u"), "regulationType"),
    (regulate("DELETE_ONLY", "u", subject="OBJECT_ID"), "subjectType"),
    (regulate("DELETE_ONLY"), "subjectIds"),
    (regulate("DELETE_ONLY", *[f"u{n}" for n in range(101)]), "subjectIds"),
    (regulate("DELETE_ONLY", "ok", 5), "subjectIds[1]"),
    (regulate("DELETE_ONLY", "  "), "subjectIds[0]"),
    (regulate("DELETE_ONLY", "secret\x00id"), "subjectIds[0]"),
    (regulate("DELETE_ONLY", "s" * 256), "subjectIds[0]"),
]


@pytest.mark.parametrize(("body", "field"), BAD)
async def test_what_is_wrong_is_named_and_nothing_is_made(
    tmp_path: Path, body: Any, field: str | None
) -> None:
    async with harness(tmp_path, admin_token_hash=hash_token(ADMIN)) as h:
        answer = await h.client.post(PATH, json=body, headers=BEARER)
        assert answer.status_code == 400, answer.text
        assert answer.json().get("field") == field
        assert "secret" not in answer.text
        assert h.store.privacy_requests() == []


async def test_unknown_ids_and_counts(tmp_path: Path) -> None:
    async with harness(tmp_path, admin_token_hash=hash_token(ADMIN)) as h:
        for regulate_id in ("prv_unknown", "prv_0190b8a2-6f1c-7d3e-9a4b-5c6d7e8f9a0b"):
            missing = await h.client.get(f"{PATH}/{regulate_id}", headers=BEARER)
            assert missing.status_code == 404 and missing.json()["code"] == "not_found"
        for count in ("0", "201", "x"):
            bad = await h.client.get(PATH, params={"pagination.count": count}, headers=BEARER)
            assert bad.status_code == 400 and bad.json()["field"] == "pagination.count"


def test_over_loopback_a_real_gateway_erases_and_answers_per_destination(tmp_path: Path) -> None:
    with FakeCustomerIO("site-1", "key-1") as fake:
        (tmp_path / "trackwell.toml").write_text(
            f'[destinations.cio]\ntype = "customerio"\nbase_url = "{fake.url}"\n'
        )
        env = {
            "TRACKWELL_ADMIN_TOKEN": ADMIN,
            "TRACKWELL_CIO_SITE_ID": fake.site_id,
            "TRACKWELL_CIO_API_KEY": fake.api_key,
        }
        served = start_gateway(tmp_path, env=env)
        try:
            with httpx.Client(base_url=served.url, timeout=10) as client:
                assert client.post("/v1/identify", json=IDENTIFY, auth=(QUICK_KEY, "")).is_success
                made = client.post(PATH, json=regulate("DELETE_ONLY", "ada@example.com",
                                                       subject="EMAIL"), headers=BEARER)  # fmt: skip
                assert made.status_code == 200, made.text
                regulate_id = made.json()["data"]["regulateId"]
                regulation = client.get(f"{PATH}/{regulate_id}", headers=BEARER).json()
                [stream] = regulation["data"]["regulation"]["streamStatus"]
                assert [d["name"] for d in stream["destinations"]] == ["cio"]
                assert regulation["data"]["regulation"]["identifiers"] >= 3
                assert client.post(PATH, json=regulate("DELETE_ONLY", "x")).status_code == 401
        finally:
            served.stop()
        store = SQLiteStore(served.store[len("sqlite:///") :])
        try:
            assert store.profile("ada-1") is None and store.timeline("anon-ada").entries == ()
            [request] = store.privacy_requests()
            assert [r.destination for r in request.receipts] == ["cio"]
        finally:
            store.close()
        logs = served.logs() + (tmp_path / "serve.out").read_text(errors="replace")
        assert "ada" not in logs  # the subject ids are never logged
