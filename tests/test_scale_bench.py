"""benchmarks/scale_bench.py: a round cycling through many scan-sized scenes holds at most its
cache's worth of them (RSS stops growing once the cache is full), and the large distance scene's
figures are what docs/benchmarks.md reports them to be measured from."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _bench():
    spec = importlib.util.spec_from_file_location("scale_bench", ROOT / "benchmarks" / "scale_bench.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["scale_bench"] = mod
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc for the current RSS")
def test_scene_cache_memory_is_flat_over_many_scenes(tmp_path) -> None:
    res = _bench().bench_cache(12, 3, tmp_path)
    growth = res["rss_growth_mb"]  # after every scene (12 // 10 == 1)
    per_scene = growth[2] / 3
    assert per_scene > 20, growth  # each scene really is large (≈ 48 MB), so a leak would show
    assert max(growth[3:]) < growth[2] + 0.5 * per_scene, growth  # no growth once 3 scenes are held


def test_large_scene_distance_question_is_bounded() -> None:
    res = _bench().bench_distances(1000)
    assert res["peak_traced_mb"] < 500, res
    assert res["sample"]["absolute_distance"]["valid"] and res["sample"]["relative_distance"]["valid"]
