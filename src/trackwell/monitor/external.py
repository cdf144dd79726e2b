"""Event counts kept outside trackwell: a `date,event,count` CSV, or Mixpanel's raw export API."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from trackwell.destinations.common import basic_auth
from trackwell.destinations.http import HttpRequest, HttpxTransport, Transport, TransportError
from trackwell.destinations.registry import env_var
from trackwell.monitor.context import day_label

# Counts keyed by (day since the epoch, event name).
DailyCounts = dict[tuple[int, str], int]
EXPORT_HOSTS = {
    "us": "https://data.mixpanel.com",
    "eu": "https://data-eu.mixpanel.com",
    "in": "https://data-in.mixpanel.com",
}
EXPORT_TIMEOUT_SECONDS = 300.0  # the export streams every matching event; it can take minutes


class ExternalError(Exception):
    """External counts that cannot be read: a bad file, refused credentials, an API error."""


def read_csv(path: str | Path) -> DailyCounts:
    """`date,event,count` rows (a header line is optional); dates are UTC days `YYYY-MM-DD`."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ExternalError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    counts: DailyCounts = Counter()
    for line, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not row or (
            line == 1 and [c.strip().lower() for c in row] == ["date", "event", "count"]
        ):
            continue
        if len(row) != 3:
            raise ExternalError(
                f"{path}:{line}: expected date,event,count, got {len(row)} column(s)"
            )
        date, event, number = (c.strip() for c in row)
        try:
            day = int(datetime.strptime(date, "%Y-%m-%d").replace(tzinfo=UTC).timestamp()) // 86400
            value = int(number)
        except ValueError:
            raise ExternalError(
                f"{path}:{line}: expected a YYYY-MM-DD date and a whole count, got {date!r}, {number!r}"
            ) from None
        counts[(day, event)] += value
    return dict(counts)


class MixpanelExport:
    """Counts from Mixpanel's raw event export (`GET /api/2.0/export`, JSON Lines)."""

    def __init__(
        self,
        *,
        auth: str,
        project_id: str | None = None,
        base_url: str = EXPORT_HOSTS["us"],
        transport: Transport | None = None,
        timeout: float = EXPORT_TIMEOUT_SECONDS,
    ) -> None:
        self._auth = auth
        self.project_id = project_id
        self.base_url = base_url.rstrip("/")
        self._owned: HttpxTransport | None = None
        if transport is None:
            transport = self._owned = HttpxTransport()
        self._transport = transport
        self._timeout = timeout

    def close(self) -> None:
        """Close the HTTP pool this client opened (not a transport it was given)."""
        if self._owned is not None:
            self._owned.close()

    @classmethod
    def for_destination(
        cls,
        name: str,
        table: Mapping[str, Any],
        environ: Mapping[str, str],
        transport: Transport | None = None,
    ) -> MixpanelExport:
        """The export client of a configured Mixpanel destination, with its credentials."""
        if table.get("type") != "mixpanel":
            raise ExternalError(f"destinations.{name} is not a mixpanel destination")

        def secret(key: str) -> str:
            return environ.get(env_var(name, key), "")

        project_id = secret("project_id") or str(table.get("project_id") or "") or None
        if secret("service_account_username") and secret("service_account_secret"):
            auth = basic_auth(secret("service_account_username"), secret("service_account_secret"))
        elif secret("api_secret"):
            auth = basic_auth(secret("api_secret"), "")
        else:
            raise ExternalError(
                f"no credentials for Mixpanel's export API: set {env_var(name, 'service_account_username')}"
                f" and {env_var(name, 'service_account_secret')} (or {env_var(name, 'api_secret')})"
            )
        region = str(table.get("region") or "us")
        base = str(table.get("base_url") or EXPORT_HOSTS.get(region, EXPORT_HOSTS["us"]))
        return cls(auth=auth, project_id=project_id, base_url=base, transport=transport)

    def daily_counts(self, events: Iterable[str], since_day: int, until_day: int) -> DailyCounts:
        """Events per UTC day between two days inclusive, each Mixpanel `$insert_id` once."""
        names = sorted(set(events))
        if not names:
            return {}
        # Projects made before 2023 read the dates in their own time zone: ask a day either
        # side and keep what falls in the window by each event's `time`.
        query: dict[str, str] = {
            "from_date": day_label(since_day - 1),
            "to_date": day_label(until_day + 1),
            "event": json.dumps(names),
        }
        if self.project_id:
            query["project_id"] = self.project_id
        request = HttpRequest(
            "GET",
            f"{self.base_url}/api/2.0/export?{urlencode(query)}",
            {"authorization": self._auth, "accept": "text/plain"},
        )
        try:
            response = self._transport.send(request, self._timeout)
        except TransportError as exc:
            raise ExternalError(f"Mixpanel export: {exc}") from None
        if response.status != 200:
            raise ExternalError(f"Mixpanel export answered {response.status}: {response.text(200)}")
        return _count_lines(response.body, set(names), since_day, until_day)


def _count_lines(body: bytes, names: set[str], since_day: int, until_day: int) -> DailyCounts:
    counts: Counter[tuple[int, str]] = Counter()
    seen: set[tuple[str, str]] = set()
    for line in body.splitlines():
        if not line.strip():
            continue
        try:
            event = json.loads(line)
            name, properties = event["event"], event["properties"]
            stamp = float(properties["time"])
        except (ValueError, KeyError, TypeError):
            raise ExternalError(f"Mixpanel export: unexpected line {line[:120]!r}") from None
        day = int(stamp / 1000 if stamp > 1e11 else stamp) // 86400
        insert_id = properties.get("$insert_id")
        if name not in names or not since_day <= day <= until_day:
            continue
        if isinstance(insert_id, str):
            if (name, insert_id) in seen:
                continue  # Mixpanel counts a re-sent event once
            seen.add((name, insert_id))
        counts[(day, name)] += 1
    return dict(counts)
