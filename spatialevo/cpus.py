"""How many CPUs this process may use: the one answer every pool of the package sizes itself by
(``generate --workers 0``, ``scene convert``, the rasteriser's threads)."""

from __future__ import annotations

import math
import os
from functools import lru_cache
from pathlib import Path


def _cgroup_quota(path: Path = Path("/sys/fs/cgroup/cpu.max")) -> float | None:
    """CPUs allowed by a cgroup v2 quota (``docker --cpus=2``: 2.0), or ``None`` without one."""
    try:
        quota, period = path.read_text().split()[:2]
    except (OSError, ValueError):
        return None
    if quota == "max":
        return None
    try:
        q, p = float(quota), float(period)
    except ValueError:
        return None
    return q / p if q > 0 and p > 0 else None


@lru_cache(maxsize=1)
def available_cpus() -> int:
    """CPUs this process may run on: its affinity mask (all CPUs where the platform has none),
    lowered to a cgroup CPU quota rounded up (a container limited to 2 CPUs on a 64-core host: 2)."""
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        n = os.cpu_count() or 1
    quota = _cgroup_quota()
    if quota is not None:
        n = min(n, math.ceil(quota))
    return max(1, n)
