"""The plan the gateway checks against, reloaded on SIGHUP or when its file changes."""

from __future__ import annotations

import logging
from pathlib import Path

from trackwell.plan import Plan, PlanLoadError, load_plan
from trackwell.quality.compiled import CompiledPlan, compile_plan

log = logging.getLogger("trackwell.server.plan")


class PlanHolder:
    """The current compiled plan; a reload swaps it whole, so a request sees one plan."""

    def __init__(self, path: Path, plan: Plan | None = None) -> None:
        self.path = path
        self._stamp = self._file_stamp()
        self.compiled: CompiledPlan = compile_plan(plan if plan is not None else load_plan(path))
        self.reloads = 0
        self.failed_reloads = 0

    @property
    def plan(self) -> Plan:
        """The plan in force."""
        return self.compiled.plan

    def _file_stamp(self) -> tuple[int, int] | None:
        try:
            stat = self.path.stat()
        except OSError:
            return None
        return stat.st_mtime_ns, stat.st_size

    def changed(self) -> bool:
        """Whether the file differs (time or size) from the one last loaded."""
        return self._file_stamp() != self._stamp

    def reload(self) -> bool:
        """Load and compile the file again; on any error keep the plan in force."""
        stamp = self._file_stamp()
        try:
            compiled = compile_plan(load_plan(self.path))
        except PlanLoadError as exc:
            self._stamp = stamp  # do not retry the same broken file every poll
            self.failed_reloads += 1
            log.error(
                "plan reload failed; keeping the plan in force",
                extra={"fields": {"plan": str(self.path), "problems": str(exc)[:2000]}},
            )
            return False
        self._stamp = stamp
        self.compiled = compiled
        self.reloads += 1
        log.info(
            "plan reloaded",
            extra={
                "fields": {
                    "plan": str(self.path),
                    "name": compiled.plan.name,
                    "version": compiled.plan.version,
                }
            },
        )
        return True
