"""Maintenance windows: when a cluster may be changed under `--in-maintenance-window`.

Every IONOS cluster has a weekly window of four hours, starting on a weekday at a UTC time
(`maintenanceWindow` in both APIs). A change is started only while the window is open and more
than a margin before it closes, so it is not begun in the last minutes. The clock is the
machine's, or `RECONCILER_NOW` (an ISO-8601 UTC time) when set: a scheduled job can be replayed
and every command that reads the clock sees the same time.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from functools import lru_cache
from typing import Any

from reconciler.errors import ConfigError

DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
#: how long every window lasts (the API documents four hours)
DURATION = timedelta(hours=4)
WEEK = timedelta(days=7)
NOW_VARIABLE = "RECONCILER_NOW"


@dataclass(frozen=True, slots=True)
class MaintenanceWindow:
    """A weekly window: `weekday` 0 is Monday; `start` in UTC."""

    weekday: int
    start: time

    def describe(self) -> str:
        """`Sunday 03:30 UTC`."""
        return f"{DAYS[self.weekday]} {self.start.strftime('%H:%M')} UTC"

    def last_start(self, now: datetime) -> datetime:
        """The latest start at or before `now`."""
        day = now.date() - timedelta(days=(now.weekday() - self.weekday) % 7)
        began = datetime.combine(day, self.start, tzinfo=UTC)
        return began - WEEK if began > now else began


def parse(raw: Any) -> MaintenanceWindow | None:
    """A `maintenanceWindow` object as both APIs send it; None when it is missing or odd."""
    if not isinstance(raw, dict):
        return None
    day, start = raw.get("dayOfTheWeek"), raw.get("time")
    if day not in DAYS or not isinstance(start, str):
        return None
    return _window(day, start)


@lru_cache(maxsize=4096)
def _window(day: str, start: str) -> MaintenanceWindow | None:
    """One object per distinct window: a fleet shares a few dozen of them (and 100,000
    clusters would otherwise hold 100,000 copies, 15 MB)."""
    try:
        parsed = time.fromisoformat(start)
    except ValueError:
        return None
    return MaintenanceWindow(DAYS.index(day), parsed.replace(tzinfo=None, microsecond=0))


def now() -> datetime:
    """The time windows are judged at: `RECONCILER_NOW` when set, else the machine's clock."""
    raw = os.environ.get(NOW_VARIABLE, "").strip()
    if not raw:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ConfigError(
            f"{NOW_VARIABLE} is not an ISO-8601 time: {raw[:40]}",
            hint="for example RECONCILER_NOW=2025-01-05T04:00:00Z, or unset it",
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Clock:
    """A moment and a margin: whether each window lets a change start now, and when next."""

    at: datetime
    margin: timedelta = timedelta(minutes=30)

    def is_open(self, window: MaintenanceWindow) -> bool:
        """Open, and not within `margin` of its end."""
        return self.at < window.last_start(self.at) + DURATION - self.margin

    def next_start(self, window: MaintenanceWindow) -> datetime:
        """The start of the next window in which a change may begin (the current one if it is
        open now)."""
        last = window.last_start(self.at)
        return last if self.is_open(window) else last + WEEK

    def closed_detail(self, window: MaintenanceWindow | None) -> str | None:
        """Why a change may not start now, or None when it may."""
        if window is None:
            return "the cluster reports no maintenance window: deferred"
        if self.is_open(window):
            return None
        last = window.last_start(self.at)
        if self.at < last + DURATION:
            why = f"its window ({window.describe()}) closes in less than {_minutes(self.margin)}"
        else:
            why = f"outside its window ({window.describe()})"
        return f"{why}: deferred to {iso(self.next_start(window))}"


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _minutes(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    return f"{minutes} minute{'' if minutes == 1 else 's'}"
