"""The console's files: package data in place, the vendored chart library served offline."""

from __future__ import annotations

import hashlib
import re
from importlib import resources

import httpx
import pytest

pytestmark = pytest.mark.anyio

VENDORED = ("uPlot.iife.min.js", "uPlot.min.css")


def test_templates_and_static_files_are_package_data() -> None:
    package = resources.files("trackwell.console")
    for name in ("base.html", "person.html", "_timeline.html", "_feed.html", "_queues.html"):
        assert (package / "templates" / name).is_file(), name
    for name in ("console.js", "console.css", "favicon.svg"):
        assert (package / "static" / name).is_file(), name


def test_the_vendored_library_matches_its_record() -> None:
    vendor = resources.files("trackwell.console") / "static" / "vendor"
    record = (vendor / "README.md").read_text(encoding="utf-8")
    assert "| 1.6.32 | MIT" in record
    assert "MIT License" in (vendor / "uPlot.LICENSE").read_text(encoding="utf-8")
    for name in VENDORED:
        digest = hashlib.sha256((vendor / name).read_bytes()).hexdigest()
        assert f"{digest}  {name}" in record, f"{name} differs from the recorded hash"
    assert (
        (vendor / "uPlot.iife.min.js")
        .read_bytes()
        .startswith(b"/*! https://github.com/leeoniya/uPlot (v1.6.32)")
    )


async def test_static_files_need_no_session_and_pages_load_nothing_remote(
    client: httpx.AsyncClient,
) -> None:
    for path in ("/static/console.js", "/static/vendor/uPlot.iife.min.js", "/static/console.css"):
        response = await client.get(path)
        assert response.status_code == 200, path
        assert "no-store" not in response.headers.get("cache-control", "")
    login = (await client.get("/login")).text
    assert not re.search(r"""(src|href)=["']https?://""", login)
    assert "<script>" not in login  # no inline script: the CSP forbids it
