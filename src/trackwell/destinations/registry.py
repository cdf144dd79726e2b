"""Destinations by kind name, built from a `[destinations.NAME]` table with secrets from the environment."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from importlib import import_module
from typing import TYPE_CHECKING, Any, cast

from trackwell.core.delivery import DeliveryFilter
from trackwell.core.messages import MESSAGE_TYPES
from trackwell.destinations.common import MissingCredentialsError
from trackwell.destinations.common import env_var as env_var

if TYPE_CHECKING:
    from trackwell.destinations.base import Destination, DestinationSettings
    from trackwell.destinations.common import HttpDestination

# Kind name -> the module and class that implement it.
_CLASSES = {
    "customerio": ("trackwell.destinations.customerio", "CustomerIO"),
    "segment": ("trackwell.destinations.segment", "SegmentCompatible"),
    "mixpanel": ("trackwell.destinations.mixpanel", "Mixpanel"),
    "amplitude": ("trackwell.destinations.amplitude", "Amplitude"),
    "webhook": ("trackwell.destinations.webhook", "Webhook"),
}


class _Kinds(Mapping[str, "type[HttpDestination]"]):
    """Destination classes by kind name, each tool's module imported when its class is first
    asked for: a process that builds a webhook never loads Customer.io's or Mixpanel's code."""

    def __getitem__(self, name: str) -> type[HttpDestination]:
        module, attribute = _CLASSES[name]
        return cast("type[HttpDestination]", getattr(import_module(module), attribute))

    def __contains__(self, name: object) -> bool:
        return name in _CLASSES  # without importing the tool's module

    def __iter__(self) -> Iterator[str]:
        return iter(_CLASSES)

    def __len__(self) -> int:
        return len(_CLASSES)


KINDS: Mapping[str, type[HttpDestination]] = _Kinds()
COMMON_KEYS = frozenset(
    [
        "type",
        "mode",
        "batch_size",
        "rate_limit",
        "timeout",
        "types",
        "events",
        "exclude_events",
        "consent",
    ]
)
# `mode = "capture"`: record requests, send nothing, report each message as captured.
CAPTURE = "capture"
# Customer.io's Track API version was once `mode`; still read, as a deprecated name of `api`.
_DEPRECATED_CIO_MODES = ("v1", "v2")

log = logging.getLogger("trackwell.destinations")


@dataclass(frozen=True, slots=True)
class KindSettings:
    """What a kind's `[destinations.NAME]` table may hold beyond the common keys, and what only
    the environment gives (README's settings tables are tested against these)."""

    options: frozenset[str]  # settings the table may hold, passed to the constructor as given
    secrets: tuple[str, ...]  # constructor arguments read only from TRACKWELL_<NAME>_<ARG>
    from_env: tuple[str, ...] = ()  # settings the environment may also give (it wins)


KIND_SETTINGS: Mapping[str, KindSettings] = {
    "customerio": KindSettings(
        frozenset(["base_url", "region", "api", "object_type_id"]), ("site_id", "api_key")
    ),
    # `operations`: send deletes, suppression and devices as semantic events (the default only
    # for Customer.io Data Pipelines' hosts, the one Segment-compatible API that performs them).
    # `privacy`: how erase, suppress and unsuppress reach it ("semantic" or "regulations", the
    # latter with the optional Public API token TRACKWELL_<NAME>_REGULATIONS_TOKEN).
    "segment": KindSettings(
        frozenset(["base_url", "operations", "privacy", "regulations_url"]),
        ("write_key", "regulations_token"),
    ),
    # `gdpr_token` (optional): the GDPR API's OAuth token, so an erase deletes events too.
    "mixpanel": KindSettings(
        frozenset(["base_url", "region", "project_id"]),
        (
            "project_token",
            "api_secret",
            "service_account_username",
            "service_account_secret",
            "gdpr_token",
        ),
        ("project_id",),
    ),
    # `secret_key` (optional): the User Privacy API's, so an erase reaches Amplitude.
    "amplitude": KindSettings(
        frozenset(["base_url", "region", "group_type", "min_id_length"]), ("api_key", "secret_key")
    ),
    # A webhook URL often carries a token in its path, so the environment may hold it instead.
    "webhook": KindSettings(frozenset(["url", "max_body_bytes"]), ("secret",), ("url",)),
}
# Any of these in a table is refused as a secret, whichever kind the table is.
SECRET_KEYS = frozenset(
    [secret for kind in KIND_SETTINGS.values() for secret in kind.secrets]
    + ["password", "token", "key", "secret_key", "auth", "authorization", "headers"]
)
_STRINGS = frozenset(
    [
        "base_url",
        "region",
        "api",
        "mode",
        "object_type_id",
        "project_id",
        "group_type",
        "url",
        "privacy",
        "regulations_url",
    ]
)
_INTEGERS = frozenset(["batch_size", "min_id_length", "max_body_bytes"])
_BOOLEANS = frozenset(["operations"])


def from_settings(
    name: str, settings: Mapping[str, Any], environ: Mapping[str, str], *, sending: bool = True
) -> Destination:
    """Build a destination from its trackwell.toml table; credentials come from `environ` only.

    Missing credentials are a ValueError naming each missing variable, one per line, unless the
    table says `mode = "capture"` (requests recorded, not sent, outcomes `captured`). A process
    that never sends (`sending=False`: a gateway that only registers the queues) needs none: what
    it builds without them is in capture mode, so even a stray send is never called delivered."""
    kind_name = settings.get("type")
    if not isinstance(kind_name, str) or kind_name not in KINDS:
        shown = "missing" if kind_name is None else repr(kind_name)
        raise ValueError(f"unknown destination type {shown} (expected one of {', '.join(KINDS)})")
    kind = KIND_SETTINGS[kind_name]
    for key in settings:
        if key in SECRET_KEYS:
            raise ValueError(
                f"{key!r} is a secret and must not be written in trackwell.toml; "
                f"set {env_var(name, key)} in the environment instead"
            )
    unknown = sorted(set(settings) - COMMON_KEYS - kind.options)
    if unknown:
        allowed = ", ".join(sorted(COMMON_KEYS | kind.options))
        raise ValueError(f"unknown key(s) {', '.join(unknown)} for type {kind_name} ({allowed})")
    arguments: dict[str, Any] = {}
    for key in kind.options:
        if key in settings:
            arguments[key] = _checked(key, settings[key])
    for key in kind.from_env:
        if environ.get(env_var(name, key)):
            arguments[key] = environ[env_var(name, key)]
    for key in kind.secrets:
        arguments[key] = environ.get(env_var(name, key)) or None
    if kind_name == "webhook" and not arguments.get("url"):
        raise ValueError(f"a webhook needs url (in the table, or {env_var(name, 'url')})")
    common = _common(name, kind_name, settings, arguments)
    try:
        destination = KINDS[kind_name](name, settings=common, **arguments)
    except MissingCredentialsError as exc:
        if sending:
            raise ValueError("\n".join(_missing_lines(name, exc))) from None
        destination = KINDS[kind_name](name, settings=replace(common, capture=True), **arguments)
    types = destination.filter.types or frozenset()
    if not types <= destination.supported_types:
        destination.close()
        extra = ", ".join(sorted(types - destination.supported_types))
        raise ValueError(f"{kind_name} cannot deliver {extra} (it takes {_listed(destination)})")
    return destination


def _common(
    name: str, kind_name: str, settings: Mapping[str, Any], arguments: dict[str, Any]
) -> DestinationSettings:
    """The settings every destination shares, from the table (defaults where it is silent)."""
    from trackwell.destinations.base import DestinationSettings

    numbers = {
        key: _checked(key, settings[key])
        for key in ("batch_size", "rate_limit", "timeout")
        if key in settings
    }
    return DestinationSettings(
        **numbers,
        filter=_filter(settings),
        capture=_capture(name, kind_name, settings, arguments),
        consent=_consent(settings.get("consent")),
    )


def _consent(value: Any) -> tuple[str, ...]:
    """`consent = ["marketing", ...]`: the categories a person must have consented to."""
    if value is None:
        return ()
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(item, str) and item.strip() for item in value)
    ):
        raise ValueError(f"consent must be a non-empty list of category names, got {value!r}")
    if len(set(value)) != len(value):
        raise ValueError(f"consent lists a category twice: {value!r}")
    return tuple(value)


def _capture(
    name: str, kind_name: str, settings: Mapping[str, Any], arguments: dict[str, Any]
) -> bool:
    """Whether the table asks for capture mode; reads Customer.io's deprecated `mode = "v1"`."""
    mode = settings.get("mode")
    if mode is None or mode == CAPTURE:
        return mode == CAPTURE
    if kind_name == "customerio" and mode in _DEPRECATED_CIO_MODES:
        if arguments.setdefault("api", mode) != mode:
            raise ValueError(
                f"api = {arguments['api']!r} and the deprecated mode = {mode!r} disagree"
            )
        log.warning(
            'destinations.%s: mode = "%s" is deprecated for the Track API version; write api = "%s"'
            ' (mode = "capture" is the switch to capture mode)',
            name,
            mode,
            mode,
        )
        return False
    older = ' (the Track API version is api = "v1" or "v2")' if kind_name == "customerio" else ""
    raise ValueError(f'mode must be "capture" or left out, got {mode!r}{older}')


def _missing_lines(name: str, error: MissingCredentialsError) -> list[str]:
    """One line per missing environment variable, saying how to get going without it."""
    lines = []
    for credential in error.missing:
        instead = " and ".join(env_var(name, argument) for argument in credential.instead)
        alternative = f" (or {instead})" if instead else ""
        lines.append(
            f"{env_var(name, credential.argument)}{alternative} is not set: {error.kind} cannot "
            f'send without it (or set mode = "capture" to record requests without sending)'
        )
    return lines


def _listed(destination: HttpDestination) -> str:
    return ", ".join(t for t in MESSAGE_TYPES if t in destination.supported_types)


def _checked(key: str, value: Any) -> Any:
    if key in _STRINGS and not isinstance(value, str):
        raise ValueError(f"{key} must be a string, got {value!r}")
    if key in _BOOLEANS and not isinstance(value, bool):
        raise ValueError(f"{key} must be true or false, got {value!r}")
    if key in _INTEGERS and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ValueError(f"{key} must be a positive integer, got {value!r}")
    if key in ("timeout", "rate_limit") and (
        isinstance(value, bool) or not isinstance(value, int | float) or value <= 0
    ):
        raise ValueError(f"{key} must be a positive number, got {value!r}")
    return float(value) if key in ("timeout", "rate_limit") else value


def _filter(settings: Mapping[str, Any]) -> DeliveryFilter | None:
    lists = {key: _names(key, settings.get(key)) for key in ("types", "events", "exclude_events")}
    if lists["types"] is not None:
        unknown = sorted(lists["types"] - set(MESSAGE_TYPES))
        if unknown:
            raise ValueError(
                f"unknown message type(s) {', '.join(unknown)} in types "
                f"(expected {', '.join(MESSAGE_TYPES)})"
            )
    if all(value is None for value in lists.values()):
        return None  # the destination's default: every type it supports
    exclude = lists["exclude_events"] or frozenset()
    return DeliveryFilter(types=lists["types"], events=lists["events"], exclude_events=exclude)


def _names(key: str, value: Any) -> frozenset[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError(f"{key} must be a list of strings, got {value!r}")
    return frozenset(value)
