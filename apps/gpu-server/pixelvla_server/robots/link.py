"""What the server sees of a controller's link, and whose a silence is: the controller's or its own.

A dead-man stop says only "nothing was read for deadman_ms". LinkMeter's numbers say whether that was
one rare silence or a link that is always close to its limit (p99 near the limit), and whether the
server itself was late to read (event-loop lag), so the studio can tell the operator what to change.

`silence` splits the time since the controller's last message. Two parts are the server's own:
- FreezeLedger keeps the stretches in which the whole server process did not run (its watchdog woke
  far later than it asked to: an overloaded machine, a paused VM). Heartbeats that arrived then wait
  unread in the socket and the control thread did not move the robot either; without this the first
  thread to wake after a freeze, the watchdog, stops the robot before the loop reads them.
- The time since the event loop last proved it reads the socket (a tick of its own timer: whatever was
  readable at the tick before has been read by then). A busy loop reads heartbeats late.
What remains is provably the controller's silence. The server's own lag is bounded apart: running for
twice the limit without reading its controller, the server could not hear a stop either.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

WINDOW_S = 30.0
CEILING_S = 2.0  # no silence, whoever's, outlasts max(2 x limit, this)
_MAX_SAMPLES = 4096  # 30 s of 50 ms heartbeats is 600; the cap only bounds a flooding client


def _quantile(values: list[float], q: float) -> float:
    """Nearest-rank quantile (an observed value, never interpolated)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


class FreezeLedger:
    """Not thread-safe: the session calls it under its lock."""

    def __init__(self, keep_s: float):
        self.keep_s = keep_s
        self._frozen: deque[tuple[float, float]] = deque(maxlen=_MAX_SAMPLES)  # (start, end)

    def woke(self, last: float, now: float, grace_s: float) -> float:
        """The watchdog woke at `now` and last at `last`. Up to `grace_s` between wake-ups is an
        ordinary busy machine and counts as silence; the rest is a freeze. Returns the freeze."""
        while self._frozen and self._frozen[0][1] < now - self.keep_s:
            self._frozen.popleft()
        start = last + grace_s
        if now <= start:
            return 0.0
        self._frozen.append((start, now))
        return now - start

    def frozen(self, since: float, now: float) -> float:
        """Seconds of [since, now] in which the server was frozen."""
        return sum(max(0.0, min(end, now) - max(start, since)) for start, end in self._frozen)


@dataclass(frozen=True)
class Silence:
    total_s: float  # since the controller's last message
    controller_s: float  # of it, provably the controller's (read up to then, and not frozen)
    running_s: float  # of it, the server ran (read or not)

    @property
    def server_s(self) -> float:
        return self.total_s - self.controller_s

    def overdue(self, limit_s: float) -> bool:
        return (
            self.controller_s > limit_s
            or self.running_s > 2 * limit_s
            or self.total_s > max(2 * limit_s, CEILING_S)
        )


def silence(heard: float, now: float, read_until: float | None, freezes: FreezeLedger) -> Silence:
    """The silence since `heard`, at `now`, for an event loop that last proved reading at
    `read_until` (None: no proof yet, count it all)."""
    until = now if read_until is None else max(heard, min(now, read_until))
    return Silence(
        total_s=now - heard,
        controller_s=until - heard - freezes.frozen(heard, until),
        running_s=now - heard - freezes.frozen(heard, now),
    )


class LinkMeter:
    """Not thread-safe: the session calls it under its lock."""

    def __init__(self, window_s: float = WINDOW_S):
        self.window_s = window_s
        self._gaps: deque[tuple[float, float]] = deque(maxlen=_MAX_SAMPLES)  # (at, gap in s)
        self._lags: deque[tuple[float, float]] = deque(maxlen=_MAX_SAMPLES)
        self._freezes: deque[tuple[float, float]] = deque(maxlen=_MAX_SAMPLES)  # (at, watchdog wake gap)
        self._last: float | None = None

    def reset(self, now: float) -> None:
        """A new controller: its link starts now; the last one's gaps say nothing about it."""
        self._gaps.clear()
        self._last = now

    def heard(self, now: float) -> None:
        if self._last is not None:
            self._gaps.append((now, now - self._last))
        self._last = now

    def loop_lag(self, now: float, lag_s: float) -> None:
        self._lags.append((now, max(0.0, lag_s)))

    def watchdog_gap(self, now: float, gap_s: float) -> None:
        """A late watchdog wake-up: the whole server process (or machine) did not run for gap_s."""
        self._freezes.append((now, gap_s))

    def stats(self, now: float) -> dict[str, float | int | None]:
        for samples in (self._gaps, self._lags, self._freezes):
            while samples and now - samples[0][0] > self.window_s:
                samples.popleft()
        gaps = [g * 1000.0 for _, g in self._gaps]
        lags = [g * 1000.0 for _, g in self._lags]
        return {
            "window_s": self.window_s,
            "gaps": len(gaps),
            "gap_p50_ms": _quantile(gaps, 0.5) if gaps else None,
            "gap_p99_ms": _quantile(gaps, 0.99) if gaps else None,
            "gap_max_ms": max(gaps) if gaps else None,
            "loop_lag_p99_ms": _quantile(lags, 0.99) if lags else None,
            "loop_lag_max_ms": max(lags) if lags else None,
            "server_freeze_max_ms": max((g for _, g in self._freezes), default=0.0) * 1000.0,
        }
