"""Store tests: the contract module's asserts are rewritten so failures show their values."""

import pytest

pytest.register_assert_rewrite(
    "tests.store.contract", "tests.store.privacy_contract", "tests.store.reports_contract"
)
