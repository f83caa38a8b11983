"""How short of CPU this machine (or container) is: Linux's pressure stall information.

The kernel counts the microseconds in which some runnable task waited for a CPU
(``some ... total=``, in ``/proc/pressure/cpu``, or per cgroup in ``cpu.pressure``).
The share of wall time spent so, smoothed over about a second, says whether the CPUs
are saturated: near 0 when they keep up, most of the time when they do not.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path

# The container's own cgroup (v2) first, else the whole machine's.
SOURCES = (Path("/sys/fs/cgroup/cpu.pressure"), Path("/proc/pressure/cpu"))
SMOOTHING_SECONDS = 1.0


class CpuPressure:
    """The smoothed share of recent wall time in which some task waited for a CPU, 0 to 1.

    Read by one thread (not thread-safe); each call reads the kernel's counter once.
    """

    def __init__(
        self,
        source: Path,
        smoothing: float = SMOOTHING_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.source = source
        self.smoothing = smoothing
        self.clock = clock
        self._stalled = self._read()  # microseconds, as the kernel counts them
        self._at = clock()
        self._level = 0.0

    @classmethod
    def find(cls) -> CpuPressure | None:
        """A reading of the first source this kernel offers; None without one (not Linux,
        or a kernel without PSI)."""
        for source in SOURCES:
            try:
                return cls(source)
            except (OSError, ValueError):
                continue
        return None

    def _read(self) -> int:
        for line in self.source.read_text().splitlines():
            kind, *fields = line.split()
            if kind == "some":
                return int(dict(f.split("=", 1) for f in fields)["total"])
        raise ValueError(f"{self.source}: no 'some' line")

    def __call__(self) -> float:
        stalled, now = self._read(), self.clock()
        elapsed = now - self._at
        if elapsed > 0:
            share = min(1.0, max(0.0, (stalled - self._stalled) / 1e6 / elapsed))
            # An average weighted by time: a reading after a long pause is mostly new.
            self._level += (1 - math.exp(-elapsed / self.smoothing)) * (share - self._level)
            self._stalled, self._at = stalled, now
        return self._level
