"""Code and documents generated from the tracking plan: Python, TypeScript and Markdown."""

from trackwell.codegen.markdown import generate_markdown
from trackwell.codegen.python import generate_python
from trackwell.codegen.typescript import generate_typescript

__all__ = ["generate_markdown", "generate_python", "generate_typescript"]
