"""Reading tracking plan CSV exports: columns found by name, unread columns reported."""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from trackwell.plan.jsonschema import ImportReport, SchemaImportError

_SPACES = re.compile(r"[\s_]+")
TRUE_WORDS = frozenset({"true", "yes", "1", "y"})
# A flag left at "no" loses nothing when it is not read (a hidden flag that is off, say).
FALSE_WORDS = frozenset({"false", "no", "n"})


def column_key(header: str) -> str:
    """A header as compared: case and spacing do not matter (`Object Type` = `object type`)."""
    return _SPACES.sub(" ", header.strip().lstrip("\ufeff")).lower()


def truthy(value: str) -> bool:
    """A CSV cell that says yes (`True`, `TRUE`, `yes`, `1`)."""
    return value.strip().lower() in TRUE_WORDS


@dataclass
class Row:
    """One data row: its 1-based line in the file, and its cells by column key."""

    line: int
    cells: dict[str, str]
    read: set[str] = field(default_factory=set)

    def skip(self) -> None:
        """Mark every cell read: the row is skipped as a whole, and reported as such."""
        self.read.update(self.cells)

    def get(self, *names: str) -> str:
        """The first non-empty cell among the columns `names` (aliases), marked as read."""
        for name in names:
            key = column_key(name)
            self.read.add(key)
            value = self.cells.get(key, "").strip()
            if value:
                return value
        return ""


@dataclass
class Table:
    """A CSV file's rows, and the cells no mapping read (reported per column, not per cell)."""

    label: str
    headers: dict[str, str]
    rows: list[Row]
    unread: Counter[str] = field(default_factory=Counter)

    @classmethod
    def parse(cls, label: str, text: str) -> Table:
        """Parse CSV text (with a header row) from the file called `label`."""
        try:
            reader = csv.reader(io.StringIO(text))
            lines = list(reader)
        except csv.Error as exc:
            raise SchemaImportError(f"{label}: not valid CSV ({exc})") from None
        if not lines or not any(cell.strip() for cell in lines[0]):
            raise SchemaImportError(f"{label}: no header row")
        keys = [column_key(h) for h in lines[0]]
        headers = {
            key: header.strip().lstrip("\ufeff") for key, header in zip(keys, lines[0], strict=True)
        }
        rows = []
        for number, cells in enumerate(lines[1:], start=2):
            if not any(cell.strip() for cell in cells):
                continue
            rows.append(Row(number, dict(zip(keys, cells, strict=False))))
        return cls(label, headers, rows)

    def has(self, *names: str) -> bool:
        """Whether any of the columns `names` is in the header."""
        return any(column_key(name) in self.headers for name in names)

    def done(self, row: Row) -> None:
        """Count the row's non-empty cells that no mapping read."""
        for key, value in row.cells.items():
            filled = value.strip() and value.strip().lower() not in FALSE_WORDS
            if filled and key not in row.read:
                self.unread[key] += 1

    def report_unread(self, report: ImportReport) -> None:
        """One note per column that had values nobody mapped."""
        for key, count in self.unread.items():
            rows = "row" if count == 1 else "rows"
            report.note(
                f"{self.label}:{self.headers.get(key, key)}",
                f"column has no equivalent in a trackwell plan ({count} {rows}); dropped",
            )

    def __iter__(self) -> Iterator[Row]:
        return iter(self.rows)


def split_values(cell: str) -> list[str]:
    """A comma-separated list cell (`Enum values`, `Tags`) as its trimmed values."""
    return [value.strip() for value in next(csv.reader([cell]), []) if value.strip()]


def number(cell: str) -> float | int | None:
    """A numeric cell, if it holds a number."""
    try:
        value = float(cell)
    except ValueError:
        return None
    return int(value) if value.is_integer() and "." not in cell else value
