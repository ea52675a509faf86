"""The median timing every benchmark script reports (these machines are noisy: medians, not means).

Imported by the scripts in this folder as ``from _timing import median_seconds``: a script run as
``python benchmarks/<name>.py`` has this folder on ``sys.path``, and ``tests/fixtures.load_benchmark``
puts it there for the tests.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def median_seconds(fn: Callable[[], object], repeat: int, *, clock: Callable[[], float] = time.perf_counter,
                   warm_up: bool = False) -> float:
    """Median seconds of ``fn()`` over ``repeat`` calls, measured with ``clock`` (wall time by
    default; ``time.process_time`` for CPU time), after one untimed call when ``warm_up``."""
    if warm_up:
        fn()
    times = []
    for _ in range(repeat):
        t0 = clock()
        fn()
        times.append(clock() - t0)
    return statistics.median(times)
