"""Side by side: the DGE's geometry against the baselines research code uses, same boxes and scans, one run.

Run: ``.venv/bin/python benchmarks/compare_bench.py`` (``--quick`` for the test, ``--json PATH`` to write
the figures). Times are CPU seconds (``time.process_time``), medians; world frame, metres, z up.

1. **Object–object distance** over every box pair of the bundled scenes, seeded synthetic rooms and a
   seeded set of arbitrarily rotated (tilted) boxes:

   * ``exact``: the package's solid-box distance (``geometry.box_distances``, what absolute_distance reads
     through ``SceneIndex.distance_row``);
   * ``grid``: closest-point distance of the boxes sampled as *solids* on a regular grid of ``--grid``
     metres in each box's frame (faces included: ``ceil(edge / grid) + 1`` points per edge, spacing at most
     ``--grid``), min over the pairs by a KD-tree (``--grid-backend cdist``: chunked ``scipy`` ``cdist``,
     the same minimum), in the style of VLM-3R / thinking-in-space preprocessing. Every sample lies in its
     box, so ``grid >= exact``; each box point is within ``sqrt(3)/2 · grid`` of a sample, so
     ``grid <= exact + sqrt(3) · grid``;
   * ``grid_cells``: the same with the samples at the centres of ``ceil(edge / grid)`` cells per edge
     (a voxelised solid; same two bounds);
   * ``points``: min ``cdist`` of the objects' own surface points (200–800 per synthetic object; inside
     their boxes, so also ``>= exact``);
   * ``center``: distance of the box centres (``>= exact``).

   Independent checks of ``exact``: (i) alternating projections between the two boxes (each iterate a
   pair of box points: an upper bound, decreasing) with a separating-plane lower bound from the support
   functions along the current direction; (ii) dense sampling of both box *surfaces* at ``--brute-steps``
   (0 when a sample of one box lies inside the other), which must land in ``[exact, exact + sqrt(2)·step]``.
2. **Floor area** of the bundled scenes and seeded L-shaped rooms (true area: the scene's
   ``floor_polygon``), from an omnidirectional scan of the mesh (``floor.scan_points``), clean and with
   Gaussian noise and no ceiling: the package's estimate (``floor.estimate_floor_area``, what room_size
   uses without a polygon) against the 2D alpha shape of the xy-projected points (Delaunay triangles with
   circumradius < 1/alpha, area of their union) for each ``--alphas``, the same of the floor points only
   (``z <= 1st percentile + 5 cm``), the convex hull and the axis-aligned bounding box.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import numpy as np
from scipy.spatial import ConvexHull, Delaunay, cKDTree
from scipy.spatial.distance import cdist

from spatialevo import load_scene
from spatialevo.bundled import bundled_scene_paths
from spatialevo.dge.floor import estimate_floor_area, scan_points
from spatialevo.dge.geometry import box_distances
from spatialevo.scene.model import Scene
from spatialevo.synthetic import generate_room, room_config

TOL = 1e-9  #: float slack of the provable inequalities, metres
#: grid-sampled methods → :func:`box_samples` kind
GRIDS = {"grid": "solid", "grid_cells": "cells"}


class Boxes(NamedTuple):
    """One scene's boxes: centers/extents (N, 3) metres, rotations (N, 3, 3) axes as columns, world;
    points: per object (P_i, 3) surface points or ``None``."""

    name: str
    centers: np.ndarray
    extents: np.ndarray
    rotations: np.ndarray
    points: list[np.ndarray] | None


def scene_boxes(scene: Scene) -> Boxes:
    objs = scene.objects
    return Boxes(scene.scene_id, np.array([o.box.center for o in objs]), np.array([o.box.extents for o in objs]),
                 np.array([o.box.rotation for o in objs]), [o.points for o in objs] if all(o.points is not None for o in objs) else None)


def tilted_boxes(n: int, seed: int) -> Boxes:
    """``n`` seeded boxes, edges 0.1–1.5 m, uniformly random 3D rotations, centres in a 4 m cube."""
    from scipy.spatial.transform import Rotation

    rng = np.random.default_rng(seed)
    rot = Rotation.random(n, random_state=rng).as_matrix()
    return Boxes(f"tilted_{n}", rng.uniform(0, 4, (n, 3)), rng.uniform(0.1, 1.5, (n, 3)), rot, None)


def box_samples(c: np.ndarray, e: np.ndarray, R: np.ndarray, step: float, kind: str = "solid") -> np.ndarray:
    """(P, 3) world points of box (centre c, full extents e, axes R as columns) on a regular grid in its
    frame, spacing <= ``step`` per axis. ``kind``: ``"solid"`` the whole solid, faces included;
    ``"cells"`` the centres of ``ceil(edge / step)`` cells per edge (a voxelised solid); ``"surface"``
    the six faces only (spacing as ``"solid"``)."""
    if kind == "cells":
        axes = [(np.arange(n) + 0.5) * (2 * h / n) - h for h, n in ((h, max(1, int(np.ceil(2 * h / step - 1e-9)))) for h in 0.5 * e)]
    else:
        axes = [np.linspace(-h, h, int(np.ceil(2 * h / step - 1e-9)) + 1) for h in 0.5 * e]
    if kind != "surface":
        local = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 3)
    else:
        faces = []
        for k in range(3):
            u, v = (a for m, a in enumerate(axes) if m != k)
            uu, vv = (g.ravel() for g in np.meshgrid(u, v, indexing="ij"))
            for side in (-0.5 * e[k], 0.5 * e[k]):
                f = np.empty((len(uu), 3))
                f[:, k], f[:, [m for m in range(3) if m != k]] = side, np.c_[uu, vv]
                faces.append(f)
        local = np.concatenate(faces)
    return c + local @ R.T


def min_dist_cdist(a: np.ndarray, b: np.ndarray, chunk: int = 2048) -> float:
    """min over ``cdist(a, b)``, ``chunk`` rows of ``a`` at a time (memory chunk · len(b) floats)."""
    return float(min(cdist(a[s : s + chunk], b).min() for s in range(0, len(a), chunk)))


def min_dist_tree(a: np.ndarray, tree_b: cKDTree) -> float:
    return float(tree_b.query(a, k=1)[0].min())


def project(p: np.ndarray, c: np.ndarray, h: np.ndarray, R: np.ndarray) -> np.ndarray:
    """(M, 3) closest points of boxes (c, half extents h, R) to points p, all batched over M."""
    local = np.clip(np.einsum("mji,mj->mi", R, p - c), -h, h)
    return c + np.einsum("mij,mj->mi", R, local)


def support(n: np.ndarray, c: np.ndarray, h: np.ndarray, R: np.ndarray) -> np.ndarray:
    """(M,) max over box of n · x (support function), batched."""
    return np.einsum("mi,mi->m", n, c) + np.sum(h * np.abs(np.einsum("mji,mj->mi", R, n)), -1)


def projection_bounds(b: Boxes, i: np.ndarray, j: np.ndarray, iters: int) -> tuple[np.ndarray, np.ndarray]:
    """(lower, upper) bounds (M,) of the solid-box distances of pairs (i, j): alternating projections
    (upper: |p − q| of box points p, q) and the separating plane along q − p (lower, clamped at 0)."""
    c1, h1, R1 = b.centers[i], 0.5 * b.extents[i], b.rotations[i]
    c2, h2, R2 = b.centers[j], 0.5 * b.extents[j], b.rotations[j]
    q = project(c1, c2, h2, R2)
    lower, upper = np.zeros(len(i)), np.full(len(i), np.inf)
    for _ in range(iters):
        p = project(q, c1, h1, R1)
        q = project(p, c2, h2, R2)
        d = q - p
        norm = np.linalg.norm(d, axis=1)
        upper = np.minimum(upper, norm)
        n = d / np.where(norm > 0, norm, 1.0)[:, None]
        lower = np.maximum(lower, -support(-n, c2, h2, R2) - support(n, c1, h1, R1))
    return lower, upper


def inside(p: np.ndarray, c: np.ndarray, e: np.ndarray, R: np.ndarray) -> bool:
    return bool(np.any(np.all(np.abs((p - c) @ R) <= 0.5 * e + 1e-12, axis=1)))


def brute_distance(b: Boxes, i: int, j: int, step: float) -> float:
    """Dense-surface distance of boxes i, j at ``step``: 0 if a sample of one lies in the other, else
    the min over surface samples (in ``[exact, exact + sqrt(2) · step]``)."""
    box = [(b.centers[k], b.extents[k], b.rotations[k]) for k in (i, j)]
    sa, sb = (box_samples(*x, step, "surface") for x in box)
    if inside(sa, *box[1]) or inside(sb, *box[0]):
        return 0.0
    return min_dist_tree(sa, cKDTree(sb))


def timed(fn: Callable[[], object]) -> tuple:
    """(``fn()``, its CPU seconds)."""
    t0 = time.process_time()
    value = fn()
    return value, time.process_time() - t0


def cpu(fn: Callable[[], object], repeats: int = 1) -> float:
    """Median CPU seconds of ``repeats`` calls of ``fn``."""
    return float(np.median([timed(fn)[1] for _ in range(repeats)]))


def grid_pair_scratch(b: Boxes, i: int, j: int, step: float, kind: str, backend: str) -> float:
    """Grid distance of one pair from nothing: both grids, a tree on the larger (or chunked cdist)."""
    ga, gb = (box_samples(b.centers[k], b.extents[k], b.rotations[k], step, kind) for k in (i, j))
    if len(ga) > len(gb):
        ga, gb = gb, ga
    return min_dist_cdist(ga, gb) if backend == "cdist" else min_dist_tree(ga, cKDTree(gb))


def grid_scene(b: Boxes, i: np.ndarray, j: np.ndarray, step: float, kind: str) -> tuple[np.ndarray, float, int]:
    """(P,) grid distances of pairs (i, j), CPU seconds (each object's grid and tree once, then every
    pair: smaller grid queried against the larger's tree), largest grid size."""
    t0 = time.process_time()
    grids = [box_samples(b.centers[k], b.extents[k], b.rotations[k], step, kind) for k in range(len(b.centers))]
    trees = [cKDTree(g) for g in grids]
    d = np.array([min_dist_tree(grids[a], trees[c]) if len(grids[a]) <= len(grids[c]) else min_dist_tree(grids[c], trees[a])
                  for a, c in zip(i, j)])
    return d, time.process_time() - t0, max(len(g) for g in grids)


def distance_scene(b: Boxes, args: argparse.Namespace, rng: np.random.Generator) -> dict:
    """Every method on every pair of one scene: answers (P,) metres, CPU times per scene and per pair."""
    i, j = np.triu_indices(len(b.centers), 1)
    if args.max_pairs and len(i) > args.max_pairs:
        keep = np.sort(rng.choice(len(i), args.max_pairs, replace=False))
        i, j = i[keep], j[keep]
    C, E, R = b.centers, b.extents, b.rotations
    out: dict = {"scene": b.name, "objects": len(C), "pairs": len(i), "answers": {}, "scene_s": {}, "pair_s": {}}
    out["answers"]["exact"] = box_distances(i, j, C, E, R)
    out["scene_s"]["exact"] = cpu(lambda: box_distances(i, j, C, E, R), 5)
    chosen = rng.choice(len(i), min(len(i), args.time_pairs), replace=False)
    out["pair_s"]["exact"] = float(np.median([cpu(lambda k=k: box_distances(i[k : k + 1], j[k : k + 1], C, E, R), 5) for k in chosen]))
    out["answers"]["center"] = np.linalg.norm(C[i] - C[j], axis=1)
    out["scene_s"]["center"] = cpu(lambda: np.linalg.norm(C[i] - C[j], axis=1), 5)
    out["pair_s"]["center"] = cpu(lambda: [np.linalg.norm(C[a] - C[c]) for a, c in zip(i[chosen], j[chosen])], 5) / len(chosen)

    for name, kind in GRIDS.items():
        out["answers"][name], out["scene_s"][name], out[f"{name}_points_max"] = grid_scene(b, i, j, args.grid, kind)
        out["pair_s"][name] = float(np.median([cpu(lambda k=k, g=kind: grid_pair_scratch(b, i[k], j[k], args.grid, g, args.grid_backend)) for k in chosen]))
    if b.points is not None:
        P = b.points
        out["answers"]["points"], out["scene_s"]["points"] = timed(lambda: np.array([cdist(P[a], P[c]).min() for a, c in zip(i, j)]))
        out["pair_s"]["points"] = out["scene_s"]["points"] / len(i)
    lo, hi = projection_bounds(b, i, j, args.projection_iters)
    out["bounds"] = (lo, hi)
    out["pairs_ij"] = (i, j)
    return out


def error_stats(approx: np.ndarray, exact: np.ndarray) -> dict:
    err = approx - exact
    a = np.abs(err)
    return {"err_median_m": float(np.median(a)), "err_p95_m": float(np.percentile(a, 95)), "err_max_m": float(a.max()),
            "share_over_5cm": float(np.mean(a > 0.05)), "min_signed_m": float(err.min()), "max_signed_m": float(err.max())}


def method_stats(rows: list[dict]) -> dict:
    """Per method over the scene rows: pairs, median CPU times (alone, per scene, per pair in the scene
    pass) and the error statistics against ``exact``."""
    methods = {}
    for m in ("exact", *GRIDS, "points", "center"):
        have = [r for r in rows if m in r["answers"]]
        if have:
            ex = np.concatenate([r["answers"]["exact"] for r in have])
            methods[m] = {"pairs": len(ex), "time_per_pair_s": float(np.median([r["pair_s"][m] for r in have])),
                          "time_per_scene_s": float(np.median([r["scene_s"][m] for r in have])),
                          "time_per_pair_in_scene_s": float(np.median([r["scene_s"][m] / r["pairs"] for r in have])),
                          **error_stats(np.concatenate([r["answers"][m] for r in have]), ex)}
    return methods


def distance_bench(args: argparse.Namespace, scenes: list[Scene]) -> dict:
    """Part 1 over the scenes plus ``--tilted`` tilted boxes; the summary per method and the checks."""
    rng = np.random.default_rng(args.seed)
    sets = [scene_boxes(s) for s in scenes] + ([tilted_boxes(args.tilted, args.seed)] if args.tilted else [])
    rows = [distance_scene(b, args, rng) for b in sets]
    exact = np.concatenate([r["answers"]["exact"] for r in rows])
    groups = {"rooms": [r for r in rows if not r["scene"].startswith("tilted")], "tilted": [r for r in rows if r["scene"].startswith("tilted")]}
    by_group = {g: method_stats(rs) for g, rs in groups.items() if rs}
    lo = np.concatenate([r["bounds"][0] for r in rows])
    hi = np.concatenate([r["bounds"][1] for r in rows])
    checks: dict = {"pairs": len(exact), "projection_iters": args.projection_iters,
                    "exact_minus_upper_max_m": float((exact - hi).max()), "lower_minus_exact_max_m": float((lo - exact).max()),
                    "bound_gap_median_m": float(np.median(hi - lo)), "bound_gap_max_m": float((hi - lo).max()),
                    "grid_bound_m": float(np.sqrt(3) * args.grid), "brute": []}
    flat = [(r_i, k) for r_i, r in enumerate(rows) for k in range(r["pairs"])]
    picks = [flat[k] for k in rng.choice(len(flat), min(len(flat), args.brute_pairs), replace=False)]
    for step in args.brute_steps:
        diffs = []
        for r_i, k in picks:
            a, c = rows[r_i]["pairs_ij"][0][k], rows[r_i]["pairs_ij"][1][k]
            diffs.append(brute_distance(sets[r_i], a, c, step) - rows[r_i]["answers"]["exact"][k])
        checks["brute"].append({"step_m": step, "pairs": len(diffs), "min_diff_m": float(min(diffs)), "max_diff_m": float(max(diffs)),
                                "bound_m": float(np.sqrt(2) * step)})
    if args.cdist_pairs:  # the two grid backends agree (same point sets, same minimum)
        gaps = []
        for r_i, k in picks[: args.cdist_pairs]:
            a, c = rows[r_i]["pairs_ij"][0][k], rows[r_i]["pairs_ij"][1][k]
            gaps.append(abs(grid_pair_scratch(sets[r_i], a, c, args.grid, "solid", "cdist") - rows[r_i]["answers"]["grid"][k]))
        checks["kdtree_vs_cdist_max_m"] = float(max(gaps))
    per_scene = [{"scene": r["scene"], "objects": r["objects"], "pairs": r["pairs"], "grid_points_max": r["grid_points_max"], "grid_cells_points_max": r["grid_cells_points_max"],
                  "scene_s": r["scene_s"], "pair_s": r["pair_s"]} for r in rows]
    return {"methods": method_stats(rows), "by_group": by_group, "checks": checks, "scenes": per_scene}


def alpha_areas(xy: np.ndarray, alphas: list[float]) -> dict[float, float]:
    """Area (m²) of the 2D alpha shape of (N, 2) points for each alpha (1/m): the union of the Delaunay
    triangles whose circumradius is below 1/alpha (Delaunay triangles do not overlap: the sum)."""
    tri = Delaunay(xy)
    a, b, c = (xy[tri.simplices[:, k]] for k in range(3))
    area = 0.5 * np.abs((b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0]))
    sides = np.linalg.norm(b - c, axis=1) * np.linalg.norm(a - c, axis=1) * np.linalg.norm(a - b, axis=1)
    radius = np.divide(sides, 4 * area, out=np.full(len(area), np.inf), where=area > 0)
    return {al: float(area[radius < 1.0 / al].sum()) for al in alphas}


def floor_methods(pts: np.ndarray, alphas: list[float]) -> tuple[dict[str, float], dict[str, float]]:
    """Areas (m²) and CPU seconds of every floor method on one (N, 3) scan."""
    area: dict[str, float] = {}
    sec: dict[str, float] = {}
    xy = pts[:, :2]
    zf = float(np.percentile(pts[:, 2], 1.0))
    floor_xy = xy[pts[:, 2] <= zf + 0.05]
    area["package"], sec["package"] = timed(lambda: estimate_floor_area(pts))
    for name, p in (("alpha", xy), ("alpha_floor_only", floor_xy)):
        res, dt = timed(lambda p=p: alpha_areas(p, alphas))  # one triangulation; its time is that of each alpha
        for al, v in res.items():
            area[f"{name} a={al:g}"], sec[f"{name} a={al:g}"] = v, dt
    area["convex_hull"], sec["convex_hull"] = timed(lambda: float(ConvexHull(xy).volume))
    area["aabb"], sec["aabb"] = timed(lambda: float(np.prod(xy.max(axis=0) - xy.min(axis=0))))
    return area, sec


def degrade(pts: np.ndarray, noise: float, rng: np.random.Generator) -> np.ndarray:
    """A real-scan-like copy: the ceiling (top 10 cm of the scan) dropped, Gaussian noise σ = noise m."""
    keep = pts[pts[:, 2] < pts[:, 2].max() - 0.1]
    return keep + rng.normal(0.0, noise, keep.shape)


def floor_bench(args: argparse.Namespace, scenes: list[Scene]) -> dict:
    """Part 2: per scene and condition, every method's area, relative error vs the polygon, CPU time."""
    rng = np.random.default_rng(args.seed)
    rows = []
    for s in scenes:
        clean, scan_s = timed(lambda s=s: scan_points(s, n_dirs=args.scan_dirs))
        for cond, pts in (("clean", clean), (f"noise {args.noise:g} m, no ceiling", degrade(clean, args.noise, rng))):
            area, sec = floor_methods(pts, args.alphas)
            rows.append({"scene": s.scene_id, "shape": s.meta.get("room_shape"), "condition": cond, "true_m2": float(s.floor_area),
                         "points": len(pts), "scan_s": scan_s, "area_m2": area, "time_s": sec})
    summary: dict = {}
    for r in rows:
        for m, v in r["area_m2"].items():
            summary.setdefault(r["condition"], {}).setdefault(m, {"rel": [], "t": []})
            summary[r["condition"]][m]["rel"].append(v / r["true_m2"] - 1.0)
            summary[r["condition"]][m]["t"].append(r["time_s"][m])
    for cond in summary.values():
        for m, d in cond.items():
            rel = np.array(d.pop("rel"))
            cond[m] = {"rel_err_median": float(np.median(np.abs(rel))), "rel_err_max": float(np.abs(rel).max()),
                       "rel_signed_mean": float(rel.mean()), "time_median_s": float(np.median(d.pop("t")))}
    return {"scenes": rows, "summary": summary}


def scene_sets(args: argparse.Namespace) -> tuple[list[Scene], list[Scene]]:
    """(distance scenes, floor scenes): the bundled scenes plus seeded random / L-shaped rooms."""
    bundled = [load_scene(p) for p in bundled_scene_paths()][: args.bundled]
    cfg = {"n_frames": 12, "width": 64, "height": 48}
    rooms = [generate_room(1000 + k, room_config(shape="random", **cfg)) for k in range(args.rooms)]
    l_rooms = [generate_room(2000 + k, room_config(shape="L", **cfg)) for k in range(args.l_rooms)]
    return bundled + rooms, bundled + l_rooms


def ms(x: float) -> str:
    return f"{x * 1e3:.3g} ms" if x >= 1e-3 else f"{x * 1e6:.3g} µs"


def markdown(out: dict) -> str:
    d, f = out["distance"], out["floor"]
    lines = ["| boxes | distance method | pairs | time per pair alone | per scene | per pair in the scene pass | median abs err | p95 | max "
             "| > 5 cm | min (method − exact) |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for g, methods in {"all": d["methods"], **d["by_group"]}.items():
        for m, r in methods.items():
            lines.append(f"| {g} | {m} | {r['pairs']} | {ms(r['time_per_pair_s'])} | {ms(r['time_per_scene_s'])} | {ms(r['time_per_pair_in_scene_s'])} | "
                         f"{r['err_median_m'] * 100:.2f} cm | {r['err_p95_m'] * 100:.2f} cm | {r['err_max_m'] * 100:.2f} cm | {r['share_over_5cm']:.1%} | "
                         f"{r['min_signed_m']:.1e} m |")
    c = d["checks"]
    lines += ["", f"Checks of `exact` on {c['pairs']} pairs: alternating projections ({c['projection_iters']} iterations) bound it "
              f"in [lower, upper] with gap median {c['bound_gap_median_m']:.1e} m, max {c['bound_gap_max_m']:.1e} m; "
              f"exact − upper ≤ {c['exact_minus_upper_max_m']:.1e} m, lower − exact ≤ {c['lower_minus_exact_max_m']:.1e} m. "
              f"Grid bound sqrt(3)·grid = {c['grid_bound_m'] * 100:.2f} cm."]
    for b in c["brute"]:
        lines.append(f"Dense surface sampling at {b['step_m'] * 100:g} cm, {b['pairs']} pairs: brute − exact in "
                     f"[{b['min_diff_m']:.1e}, {b['max_diff_m']:.2e}] m (bound [0, {b['bound_m']:.3f}]).")
    if "kdtree_vs_cdist_max_m" in c:
        lines.append(f"Grid by KD-tree vs chunked cdist: max difference {c['kdtree_vs_cdist_max_m']:.1e} m.")
    lines += ["", "| floor method | condition | median abs rel err | max abs rel err | mean signed rel err | median time |", "|---|---|---|---|---|---|"]
    for cond, methods in f["summary"].items():
        for m, r in methods.items():
            lines.append(f"| {m} | {cond} | {r['rel_err_median']:.2%} | {r['rel_err_max']:.2%} | {r['rel_signed_mean']:+.2%} | {ms(r['time_median_s'])} |")
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="1 bundled scene, 1 room each, 6 tilted boxes, fewer pairs and rays (the test)")
    ap.add_argument("--json", default=None, help="also write the figures to this JSON file")
    ap.add_argument("--seed", type=int, default=0, help="seed of the tilted boxes, the pair choices and the scan noise")
    ap.add_argument("--bundled", type=int, default=4, help="bundled scenes used (in recipe order)")
    ap.add_argument("--rooms", type=int, default=6, help="seeded synthetic rooms (rect or L) for the distances")
    ap.add_argument("--l-rooms", type=int, default=6, help="seeded L-shaped rooms for the floor area")
    ap.add_argument("--tilted", type=int, default=30, help="seeded boxes with random 3D rotations (all pairs); 0: none")
    ap.add_argument("--max-pairs", type=int, default=0, help="pairs per scene at most (0: all)")
    ap.add_argument("--grid", type=float, default=0.05, help="grid spacing of the grid-sampled distance, metres")
    ap.add_argument("--grid-backend", choices=("kdtree", "cdist"), default="kdtree", help="minimum of one pair from scratch (timing)")
    ap.add_argument("--time-pairs", type=int, default=30, help="pairs per scene timed one by one")
    ap.add_argument("--projection-iters", type=int, default=2000, help="alternating-projection iterations of the bound check")
    ap.add_argument("--brute-pairs", type=int, default=40, help="pairs checked by dense surface sampling")
    ap.add_argument("--brute-steps", type=float, nargs="+", default=[0.02, 0.01], help="dense sampling steps, metres")
    ap.add_argument("--cdist-pairs", type=int, default=5, help="pairs whose grid distance is recomputed by chunked cdist")
    ap.add_argument("--alphas", type=float, nargs="+", default=[1.0, 2.0, 4.0], help="alpha-shape alphas, 1/m (circumradius < 1/alpha)")
    ap.add_argument("--scan-dirs", type=int, default=20000, help="scan rays per camera (floor.scan_points)")
    ap.add_argument("--noise", type=float, default=0.01, help="Gaussian noise of the degraded scans, metres")
    args = ap.parse_args(argv)
    if args.quick:
        args.bundled, args.rooms, args.l_rooms, args.tilted, args.max_pairs = 1, 1, 1, 6, 40
        args.time_pairs, args.projection_iters, args.brute_pairs, args.brute_steps = 5, 300, 4, [0.02]
        args.cdist_pairs, args.scan_dirs = 2, 2000
    return args


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    dist_scenes, floor_scenes = scene_sets(args)
    out = {"config": {k: v for k, v in vars(args).items() if k != "json"},
           "distance": distance_bench(args, dist_scenes), "floor": floor_bench(args, floor_scenes)}
    print(markdown(out))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()
