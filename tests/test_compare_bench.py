"""The side-by-side benchmark (`benchmarks/compare_bench.py --quick`) runs and its provable relations hold:
every sampled / centre distance is at least the exact solid-box distance, the grids at most
sqrt(3)·grid above it, the independent checks bracket it, and the floor areas nest
(alpha shape ⊆ convex hull ⊆ bounding box; a larger alpha keeps fewer triangles)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from fixtures import load_benchmark

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "compare_bench.py"
TOL = 1e-9


def test_compare_bench_quick_invariants(tmp_path, capsys) -> None:
    mod = load_benchmark("compare_bench")
    out = mod.main(["--quick", "--json", str(tmp_path / "cmp.json")])
    assert json.loads((tmp_path / "cmp.json").read_text())["distance"]["checks"] == out["distance"]["checks"]
    table = capsys.readouterr().out
    for name in ("exact", "grid", "grid_cells", "points", "center", "package", "convex_hull", "aabb"):
        assert f"| {name} |" in table, name

    d, grid = out["distance"], out["config"]["grid"]
    n_pairs = sum(s["pairs"] for s in d["scenes"])
    assert n_pairs > 50 and d["methods"]["exact"]["pairs"] == n_pairs
    assert any(s["scene"].startswith("tilted") for s in d["scenes"])
    for m in ("grid", "grid_cells", "points", "center"):  # samples / centres lie in the boxes
        assert d["methods"][m]["min_signed_m"] >= -TOL, m
    for m in ("grid", "grid_cells"):
        assert d["methods"][m]["max_signed_m"] <= np.sqrt(3) * grid + TOL, m
    assert d["methods"]["center"]["share_over_5cm"] > 0.5  # centres are not closest points
    c = d["checks"]
    assert c["exact_minus_upper_max_m"] <= TOL and c["lower_minus_exact_max_m"] <= TOL
    assert c["bound_gap_max_m"] < 1e-3
    assert c["brute"] and all(b["pairs"] > 0 for b in c["brute"])
    for b in c["brute"]:
        assert -TOL <= b["min_diff_m"] and b["max_diff_m"] <= b["bound_m"] + TOL, b
    assert c["kdtree_vs_cdist_max_m"] <= 1e-12

    rows = out["floor"]["scenes"]
    assert {r["condition"] for r in rows} == {"clean", f"noise {out['config']['noise']:g} m, no ceiling"}
    assert any(r["shape"] == "L" for r in rows)
    alphas = sorted(out["config"]["alphas"])
    for r in rows:
        a = r["area_m2"]
        assert r["true_m2"] > 0 and all(v > 0 for v in a.values()), r
        for name in ("alpha", "alpha_floor_only"):
            for small, large in zip(alphas, alphas[1:]):  # radius limit 1/alpha shrinks: a subset of triangles
                assert a[f"{name} a={large:g}"] <= a[f"{name} a={small:g}"] + TOL
            assert a[f"{name} a={alphas[0]:g}"] <= a["convex_hull"] * (1 + 1e-9)  # both point sets lie in the hull
        assert a["convex_hull"] <= a["aabb"] * (1 + 1e-9)
        if r["condition"] == "clean":  # the documented accuracy of the estimate on synthetic rooms
            assert abs(a["package"] / r["true_m2"] - 1) < 0.03, r


def test_compare_bench_help_shows_defaults() -> None:
    res = subprocess.run([sys.executable, str(BENCH), "--help"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert "--quick" in res.stdout and "(default: 0.05)" in res.stdout and "--json" in res.stdout
