"""Strict mode with a real client: customerio-node's PipelinesClient (`strictMode` sends
`X-Strict-Mode: 1`) gets an error it reports, and nothing of the refused call is delivered."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from trackwell.server.auth import hash_key
from trackwell.store import open_store

from ..npm import installed_version, npm_install, run_node
from .conftest import QUICK_KEY, start_gateway

DEV_KEY = "tw_test_strict_dev_key"
SCRIPT = """
const { PipelinesClient } = require('customerio-node');
const good = { userId: 'u1', event: 'Account Created',
               properties: { plan: 'free', signup_source: 'organic' } };
const typo = { userId: 'u1', event: 'Acount Created', properties: { plan: 'free' } };
async function attempt(call) {
  try { await call(); return { status: 200 }; }
  catch (e) { return { status: e.statusCode, message: e.message }; }
}
(async () => {
  const url = process.env.GATEWAY + '/v1';
  const strict = new PipelinesClient(process.env.QUICK_KEY, { url, strictMode: true });
  const lenient = new PipelinesClient(process.env.QUICK_KEY, { url });
  const dev = new PipelinesClient(process.env.DEV_KEY, { url });  // [sources.dev] strict = true
  const out = {
    strictTypo: await attempt(() => strict.track(typo)),
    strictBatch: await attempt(() => strict.batch([{ type: 'track', ...good }, { type: 'track', ...typo }])),
    strictGood: await attempt(() => strict.track(good)),
    lenientTypo: await attempt(() => lenient.track(typo)),
    devTypo: await attempt(() => dev.track(typo)),
  };
  console.log(JSON.stringify(out));
})();
"""


@pytest.fixture(scope="module")
def modules() -> Path:
    return npm_install("strict-mode", {"customerio-node": "^5.2.0"})


def test_customerio_node_strict_mode_gets_400_with_the_reasons(
    modules: Path, tmp_path: Path
) -> None:
    assert installed_version(modules, "customerio-node").startswith("5.")
    (tmp_path / "trackwell.toml").write_text(
        f'[sources.dev]\nkey_hashes = ["{hash_key(DEV_KEY)}"]\nstrict = true\n'
    )
    served = start_gateway(tmp_path)
    try:
        env = {"GATEWAY": served.url, "QUICK_KEY": QUICK_KEY, "DEV_KEY": DEV_KEY}
        result = run_node(modules, SCRIPT, env=env)
        assert result.returncode == 0, result.stderr
        out = json.loads(result.stdout)
    finally:
        served.stop()
    assert out["strictTypo"]["status"] == 400
    # The library prints Customer.io's `meta.errors`: the developer reads what to fix.
    assert "event" in out["strictTypo"]["message"]
    assert "unplanned_event" in out["strictTypo"]["message"]
    assert out["strictBatch"]["status"] == 400
    assert out["strictGood"] == {"status": 200}
    assert out["lenientTypo"] == {"status": 200}  # Segment semantics without strict mode
    assert out["devTypo"]["status"] == 400
    store = open_store(served.store)
    try:
        # Only the clean call went on; the refused batch's good message is kept, blocked.
        assert store.count() == 1
        assert store.count_blocked() == 5
        kept = store.stored_violations(code="strict_mode")
        assert [m.message["event"] for m in kept] == ["Account Created"]
    finally:
        store.close()
