"""Badges and coloured text in the console's CSS meet WCAG 2.1 AA contrast (4.5:1 for text)."""

from __future__ import annotations

import re

from trackwell.console.app import STATIC

CSS = (STATIC / "console.css").read_text()
AA = 4.5
# Text drawn on the page (no background of its own) sits on the cards or the page background.
PAGE = ("#ffffff", "#f7f8fa")
# Parts of the dark header bar.
HEADER = (".top", ".plan-badge", ".logout")


def variables() -> dict[str, str]:
    """`--name: #hex` from :root."""
    return dict(re.findall(r"(--[\w-]+):\s*(#[0-9a-fA-F]{6})", CSS.split("}", 1)[0]))


def rules() -> list[tuple[str, dict[str, str]]]:
    """(selector, declarations) for every plain rule (media blocks flattened)."""
    found = []
    body = re.sub(r"/\*.*?\*/", "", CSS, flags=re.S)
    for selector, block in re.findall(r"([^{}]+)\{([^{}]*)\}", body):
        declarations = {}
        for part in block.split(";"):
            if ":" in part:
                key, value = part.split(":", 1)
                declarations[key.strip()] = value.strip()
        found.append((selector.strip().split("\n")[-1].strip(), declarations))
    return found


def colour(value: str | None, names: dict[str, str]) -> str | None:
    """A declaration's colour as #rrggbb (a variable resolved), None when it is not one."""
    if value is None:
        return None
    named = re.fullmatch(r"var\((--[\w-]+)\)", value)
    if named:
        return names.get(named.group(1))
    return value.lower() if re.fullmatch(r"#[0-9a-fA-F]{6}", value) else None


def luminance(hex_colour: str) -> float:
    """Relative luminance (WCAG 2.1)."""
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def ratio(a: str, b: str) -> float:
    """The contrast ratio of two colours."""
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_the_ratio_matches_known_values() -> None:
    assert round(ratio("#000000", "#ffffff"), 1) == 21.0
    assert round(ratio("#777777", "#ffffff"), 2) == 4.48  # the classic just-failing grey


def test_every_badge_with_its_own_background_meets_aa() -> None:
    names = variables()
    checked, failing = 0, []
    for selector, declarations in rules():
        fg = colour(declarations.get("color"), names)
        bg = colour(declarations.get("background"), names)
        if fg is None or bg is None:
            continue
        checked += 1
        if ratio(fg, bg) < AA:
            failing.append(f"{selector}: {fg} on {bg} = {ratio(fg, bg):.2f}")
    assert checked >= 20  # the verdict, status, code, tag and health badges at least
    assert failing == []


def test_coloured_text_on_the_page_meets_aa() -> None:
    names = variables()
    failing = []
    for selector, declarations in rules():
        fg = colour(declarations.get("color"), names)
        if fg is None or "background" in declarations or selector.startswith(HEADER):
            continue  # the dark header is checked below
        for bg in PAGE:
            if ratio(fg, bg) < AA:
                failing.append(f"{selector}: {fg} on {bg} = {ratio(fg, bg):.2f}")
    assert failing == []


def test_the_header_links_meet_aa_on_the_dark_bar() -> None:
    assert ratio("#c9d1d9", "#17202a") >= AA and ratio("#c9d1d9", "#2b3945") >= AA
