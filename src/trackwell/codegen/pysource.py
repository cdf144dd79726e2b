"""Python source text laid out exactly as `ruff format` would, so generated code needs no pass.

Each helper emits one construct on one line when it fits, and otherwise in the split form ruff
gives it. Generated names are what can grow, so only the shapes the generator uses are covered.
"""

from __future__ import annotations

import re
import unicodedata

# ruff format's default line length.
LINE_LENGTH = 88
INDENT = "    "

_BARE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def fits(line: str) -> bool:
    """Whether a line is within the formatter's line length (wide characters count twice)."""
    width = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in line)
    return width <= LINE_LENGTH


def is_bare(expression: str) -> bool:
    """Whether an expression is a single name, which no formatter can split."""
    return bool(_BARE_NAME.fullmatch(expression))


def string(value: str) -> str:
    """A string literal, quoted the way ruff prefers: double quotes unless that costs escapes."""
    doubles, singles = value.count('"'), value.count("'")
    quote = "'" if doubles > singles else '"'
    body = "".join(_escape(char, quote) for char in value)
    return f"{quote}{body}{quote}"


def _escape(char: str, quote: str) -> str:
    if char == "\\":
        return "\\\\"
    if char == quote:
        return "\\" + quote
    if char.isprintable():
        return char
    return repr(char)[1:-1]


def subscript(indent: str, head: str, name: str, inner: str, tail: str = "") -> str:
    """`{head}{name}[{inner}]{tail}`, with the brackets split when the line is too long."""
    line = f"{indent}{head}{name}[{inner}]{tail}"
    if fits(line):
        return line
    return f"{indent}{head}{name}[\n{indent}{INDENT}{inner}\n{indent}]{tail}"


def exploded(indent: str, head: str, items: list[str], tail: str, brackets: str = "[]") -> str:
    """`{head}[a, b]{tail}` on one line, or one item a line with a trailing comma."""
    opening, closing = brackets[0], brackets[1]
    if not items:
        return f"{indent}{head}{opening}{closing}{tail}"
    line = f"{indent}{head}{opening}{', '.join(items)}{closing}{tail}"
    if fits(line):
        return line
    body = "".join(f"{indent}{INDENT}{item},\n" for item in items)
    return f"{indent}{head}{opening}\n{body}{indent}{closing}{tail}"


def literal_alias(name: str, values: list[str]) -> str:
    """`Name = Literal[...]`, one value a line when it does not fit on one."""
    flat = f"Literal[{', '.join(values)}]"
    if len(values) == 1:  # a trailing comma would make it a tuple, which ruff leaves folded
        return assign(name, f"Literal[\n{INDENT}{values[0]}\n]", flat)
    items = "".join(f"{INDENT}{value},\n" for value in values)
    return assign(name, f"Literal[\n{items}]", flat)


def assign(name: str, split: str, flat: str | None = None) -> str:
    """`name = value`, given the value on one line (if it can be) and split over several.

    When the value's first line does not fit after the name, but `name = (` and the value one
    level deeper do, ruff moves the value into parentheses on lines of its own.
    """
    if flat is not None and fits(f"{name} = {flat}"):
        return f"{name} = {flat}"
    first_line = split.split("\n", 1)[0]
    if fits(f"{name} = {first_line}") or not fits(f"{name} = ("):
        return f"{name} = {split}"
    if flat is not None and fits(f"{INDENT}{flat}"):
        return f"{name} = (\n{INDENT}{flat}\n)"
    lines = [f"{INDENT}{line}" if line else "" for line in split.split("\n")]
    if not all(fits(line) for line in lines):
        return f"{name} = {split}"
    return f"{name} = (\n" + "\n".join(lines) + "\n)"


def import_from(module: str, names: list[str]) -> str:
    """`from module import a, b`, parenthesised one name a line when too long."""
    line = f"from {module} import {', '.join(names)}"
    if fits(line):
        return line
    return exploded("", f"from {module} import ", names, "", "()")


def class_header(name: str, base: str) -> str:
    """`class Name(Base):`, with the base on its own line when the name is very long."""
    line = f"class {name}({base}):"
    if fits(line):
        return line
    return f"class {name}(\n{INDENT}{base}\n):"


def alias(name: str, value: str) -> str:
    """A module-level type alias: a long union goes in parentheses, a long subscript splits."""
    line = f"{name} = {value}"
    if fits(line):
        return line
    if _top_level_union(value)[1]:
        return f"{name} = (\n{_layout(INDENT, value)}\n)"
    head, _, rest = value.partition("[")
    return assign(name, f"{head}[\n{_layout(INDENT, rest[:-1])}\n]", value)


def _layout(indent: str, expression: str) -> str:
    """A type expression at an indent, split as ruff splits it until its lines fit."""
    if fits(f"{indent}{expression}"):
        return f"{indent}{expression}"
    left, bar, right = _top_level_union(expression)
    if bar:  # operands on lines of their own, the operator leading
        return f"{_layout(indent, left)}\n{indent}| {right}"
    if expression.endswith("]"):
        head, _, rest = expression.partition("[")
        return f"{indent}{head}[\n{_layout(indent + INDENT, rest[:-1])}\n{indent}]"
    return f"{indent}{expression}"


def _top_level_union(value: str) -> tuple[str, str, str]:
    """`value` split at its last `|` outside brackets, like str.rpartition."""
    depth = 0
    for index in range(len(value) - 1, -1, -1):
        char = value[index]
        if char == "]":
            depth += 1
        elif char == "[":
            depth -= 1
        elif depth == 0 and value.startswith(" | ", index - 1):
            return value[: index - 1], "|", value[index + 2 :]
    return "", "", value


def parameter(indent: str, name: str, annotation: str, default: str | None = None) -> str:
    """One parameter of an exploded signature; a long `X | None` splits before the `|`."""
    tail = "" if default is None else f" = {default}"
    line = f"{indent}{name}: {annotation}{tail},"
    if fits(line):
        return line
    left, bar, right = _top_level_union(annotation)
    if bar and is_bare(left):
        return f"{indent}{name}: {left}\n{indent}| {right}{tail},"
    if not bar and annotation.endswith("]"):
        head, _, rest = annotation.partition("[")
        return subscript(indent, f"{name}: ", head, rest[:-1], f"{tail},")
    return line


def item_assignment(indent: str, variable: str, key: str, value: str) -> str:
    """`variable[key] = value`: a long value goes in parentheses, or a long key on its own line."""
    line = f"{indent}{variable}[{key}] = {value}"
    if fits(line):
        return line
    if fits(f"{indent}{variable}[{key}] = ("):
        return f"{indent}{variable}[{key}] = (\n{indent}{INDENT}{value}\n{indent})"
    return f"{indent}{variable}[\n{indent}{INDENT}{key}\n{indent}] = {value}"


def if_not_none(indent: str, name: str) -> str:
    """`if name is not None:`, in parentheses when long, split before `is` when longer."""
    line = f"{indent}if {name} is not None:"
    if fits(line):
        return line
    inner = f"{indent}{INDENT}{name} is not None"
    if not fits(inner):
        inner = f"{indent}{INDENT}{name}\n{indent}{INDENT}is not None"
    return f"{indent}if (\n{inner}\n{indent}):"


def single_argument_call(indent: str, head: str, argument: str, tail: str = "") -> str:
    """`head(argument)`, with the argument on its own line when the line is too long."""
    line = f"{indent}{head}({argument}){tail}"
    if fits(line):
        return line
    return f"{indent}{head}(\n{indent}{INDENT}{argument}\n{indent}){tail}"


def docstring(indent: str, paragraphs: list[list[str]]) -> str:
    """A docstring of paragraphs of lines; the first line is the summary."""
    lines: list[str] = []
    for number, paragraph in enumerate(paragraphs):
        if number:
            lines.append("")
        lines.extend(paragraph)
    if len(lines) == 1:
        return f'{indent}"""{_docstring_line(lines[0], first=True, last=True)}"""'
    body = "\n".join(f"{indent}{_docstring_line(line)}" if line else "" for line in lines[1:])
    return f'{indent}"""{_docstring_line(lines[0], first=True)}\n{body}\n{indent}"""'


def _docstring_line(text: str, *, first: bool = False, last: bool = False) -> str:
    """One line of docstring text, escaped so the delimiters stay where they are."""
    text = text.replace("\\", "\\\\")
    # A quote right before the closing delimiter would merge with it.
    tail = ""
    if last and text.endswith('"'):
        text, tail = text[:-1], '\\"'
    text = text.replace('"""', '\\"\\"\\"')
    # ruff separates a leading quote from the opening delimiter with a space.
    if first and text.startswith('"'):
        text = f" {text}"
    return text + tail
