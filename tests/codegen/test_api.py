"""The codegen package declares what it offers; a name appearing or vanishing is noticed."""

from __future__ import annotations

import trackwell.codegen


def test_codegen_exports() -> None:
    assert sorted(trackwell.codegen.__all__) == [
        "generate_markdown",
        "generate_python",
        "generate_typescript",
    ]
    for name in trackwell.codegen.__all__:
        assert callable(getattr(trackwell.codegen, name))
