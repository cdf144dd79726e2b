"""Markdown (the rendered plan, the audit) to safe HTML, with GitHub-style heading anchors."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token

_COMMENT = re.compile(r"<!--.*?-->\s*", re.DOTALL)


def _slug(text: str, seen: dict[str, int]) -> str:
    """The anchor GitHub gives a heading (codegen's Markdown links to these)."""
    base = "".join(c for c in text.lower() if c.isalnum() or c in " -_").replace(" ", "-")
    count = seen.get(base, 0)
    seen[base] = count + 1
    return f"{base}-{count}" if count else base


def render_markdown(text: str) -> str:
    """HTML from Markdown; raw HTML in the source is escaped, unsafe links are refused."""
    # html=False: any tag in a plan description is shown as text, never interpreted.
    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    seen: dict[str, int] = {}

    def heading_open(
        renderer: RendererHTML, tokens: Sequence[Token], index: int, options: Any, env: Any
    ) -> str:  # markdown-it binds render rules to the renderer
        inline = tokens[index + 1]
        tokens[index].attrSet("id", _slug(inline.content.replace("\\", ""), seen))
        return renderer.renderToken(tokens, index, options, env)

    md.add_render_rule("heading_open", heading_open)
    # codegen's header comment names the generator; it is not content.
    return str(md.render(_COMMENT.sub("", text)))
