"""YAML parsed into plain values that remember their line and column."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

try:  # libyaml is much faster; the pure-Python loader gives the same nodes.
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

from trackwell.plan.model import Location

# Aliases could expand a small file into a huge tree ("billion laughs"); cap the node count.
MAX_NODES = 500_000


class YamlError(Exception):
    """A YAML document that cannot be read, with the place it went wrong."""

    def __init__(self, location: Location, message: str) -> None:
        super().__init__(f"{location}: {message}")
        self.location = location
        self.message = message


@dataclass(frozen=True, slots=True)
class Node:
    """A YAML value with its position; mappings and sequences hold Nodes."""

    value: Any
    location: Location
    kind: str  # "map", "seq" or "scalar"

    @property
    def type_name(self) -> str:
        """A person's word for what this node is, for error messages."""
        if self.kind == "map":
            return "a map"
        if self.kind == "seq":
            return "a list"
        if self.value is None:
            return "nothing (null)"
        return {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}.get(
            type(self.value), type(self.value).__name__
        )


def parse_yaml(text: str, filename: str) -> Node | None:
    """Parse one YAML document into Nodes; None for an empty document."""
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = exc.problem or exc.context or "invalid YAML"
        raise YamlError(Location(filename, line, col), f"invalid YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise YamlError(Location(filename, 1, 1), f"invalid YAML: {exc}") from None
    finally:
        loader.dispose()
    if root is None:
        return None
    return _Converter(loader, filename).convert(root)


class _Converter:
    """Turns composed yaml nodes into Nodes, refusing duplicate keys."""

    def __init__(self, loader: Any, filename: str) -> None:
        self._loader = loader
        self._filename = filename
        self._count = 0

    def _where(self, node: yaml.Node) -> Location:
        mark = node.start_mark
        return Location(self._filename, mark.line + 1, mark.column + 1)

    def convert(self, node: yaml.Node) -> Node:
        self._count += 1
        if self._count > MAX_NODES:
            raise YamlError(self._where(node), f"document has more than {MAX_NODES} values")
        where = self._where(node)
        if isinstance(node, yaml.MappingNode):
            items = KeyedMap()
            for key_node, value_node in node.value:
                key = self._scalar(key_node)
                if key in items:
                    raise YamlError(
                        self._where(key_node),
                        f"duplicate key {key!r} (first at line {items.key_locations[key].line})",
                    )
                items.key_locations[key] = self._where(key_node)
                items[key] = self.convert(value_node)
            return Node(items, where, "map")
        if isinstance(node, yaml.SequenceNode):
            return Node([self.convert(child) for child in node.value], where, "seq")
        return Node(self._scalar(node), where, "scalar")

    def _scalar(self, node: yaml.Node) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            raise YamlError(self._where(node), "a map key must be a plain value")
        try:
            return self._loader.construct_object(node, deep=True)
        except yaml.constructor.ConstructorError as exc:
            raise YamlError(self._where(node), f"invalid YAML value: {exc.problem}") from None


class KeyedMap(dict[Any, Node]):
    """A dict of Nodes that also knows where each key was written."""

    def __init__(self) -> None:
        super().__init__()
        self.key_locations: dict[Any, Location] = {}
