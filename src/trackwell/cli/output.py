"""Shared pieces of every command's output: JSON, errors, and the consoles."""

from __future__ import annotations

import json
import sys
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

# Unusable input (missing file, invalid plan) exits 2; a check that finds problems exits 1.
EXIT_FINDINGS = 1
EXIT_USAGE = 2

stdout = Console(highlight=False, soft_wrap=True)
stderr = Console(stderr=True, highlight=False, soft_wrap=True)


def print_json(document: Any) -> None:
    """Write one JSON document to standard output."""
    sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    """Print an error, one line per problem, and exit without a traceback."""
    for line in message.splitlines() or [message]:
        stderr.print(f"[bold red]error:[/] {escape(line)}", markup=True, highlight=False)
    raise typer.Exit(code)
