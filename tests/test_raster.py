"""The numba rasteriser against the open3d ray caster and against exact float64 ray–triangle hits.

Covers: bundled scenes and the box room (raster vs raycast), random triangle soups around the camera
(many triangles cross the camera plane z = 0) against closed-form Möller–Trumbore intersection, a
camera 1 mm from a wall, a camera looking at nothing, the fill rule on meshes whose edges pass
exactly through pixel centres (every pixel covered exactly once), and thread-count independence.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_render import ROOM, analytic, box_room_scene

from spatialevo import load_scene
from spatialevo.bundled import bundled_scene_paths
from spatialevo.scene import NO_HIT, Frame, Scene, SceneMesh
from spatialevo.scene.raster import rasterize
from spatialevo.scene.render import Renderer, get_renderer, render_frame
from spatialevo.synthetic.trajectory import pose_from_yaw_pitch


def _interior(ids: np.ndarray, depth: np.ndarray) -> np.ndarray:
    """Pixels off silhouette edges: one id in the 3x3 neighbourhood and no depth jump (an object
    in front of another part of itself has one id but a depth discontinuity)."""
    pi, pd = np.pad(ids, 1, mode="edge"), np.pad(depth, 1, mode="edge")
    h, w = ids.shape
    ok = np.ones(ids.shape, bool)
    for dy in range(3):
        for dx in range(3):
            ok &= (pi[dy : dy + h, dx : dx + w] == ids) & (np.abs(pd[dy : dy + h, dx : dx + w] - depth) < 0.01 + 0.05 * depth)
    return ok


def _plane_hits(mesh: SceneMesh, frame: Frame, face: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Float64 ray–plane z-depth of every pixel's face (the float32 mesh both backends see) and the
    |cos| of the ray's incidence on it; NaN where no face is hit."""
    V = mesh.vertices.astype(np.float32).astype(np.float64)[mesh.faces]
    hit = face < len(mesh.faces)
    tri = V[face[hit]]
    n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    u, v = np.meshgrid(np.arange(frame.width, dtype=float), np.arange(frame.height, dtype=float))
    K = frame.K
    d = np.stack([(u - K[0, 2]) / K[0, 0], (v - K[1, 2]) / K[1, 1], np.ones_like(u)], -1)[hit] @ frame.T_wc[:3, :3].T
    nd = np.einsum("ij,ij->i", n, d)
    t, cos = np.full(face.shape, np.nan), np.full(face.shape, np.nan)
    t[hit] = np.einsum("ij,ij->i", n, tri[:, 0] - frame.T_wc[:3, 3]) / nd
    cos[hit] = np.abs(nd) / np.linalg.norm(n, axis=1) / np.linalg.norm(d, axis=1)
    return t, cos


def _assert_backends_agree(renderer: Renderer, frame: Frame) -> None:
    face_a, depth_a = renderer.face_indices(frame, "raster")
    face_b, depth_b = renderer.face_indices(frame, "raycast")
    a = renderer.render(frame, backend="raster")
    b = renderer.render(frame, backend="raycast")
    assert np.array_equal(a["depth"], depth_a)
    assert np.array_equal(a["instance"], np.append(renderer.mesh.face_object_ids, NO_HIT)[face_a])
    hit = face_a != len(renderer.mesh.faces)
    assert ((depth_a > 0) == hit).all()  # depth > 0 exactly where a face is hit
    t, cos = _plane_hits(renderer.mesh, frame, face_a)
    assert np.allclose(depth_a[hit], t[hit], rtol=1e-6, atol=1e-9)  # raster depth = exact ray–plane hit
    assert (a["instance"] == b["instance"]).mean() >= 0.995
    same = face_a == face_b  # (coplanar overlapping faces, e.g. walls of an L-shaped room, may tie either way)
    assert same.mean() >= 0.9
    steep = same & hit & (cos > 0.02)  # at grazing incidence the float32 ray caster's own error exceeds 1 mm
    assert np.abs(depth_a - depth_b)[steep].max(initial=0.0) < 1e-3  # same face → same ray–plane hit
    clean = (a["instance"] == b["instance"]) & _interior(a["instance"], a["depth"]) & _interior(b["instance"], b["depth"])
    assert clean.mean() > 0.8
    assert np.abs(a["depth"] - b["depth"])[clean & ~(cos <= 0.02)].max(initial=0.0) < 1e-3  # 1 mm
    # shared post-processing: wherever the same face is hit, the same colour (±1 from rounding)
    assert np.abs(a["rgb"].astype(int) - b["rgb"])[same].max(initial=0) <= 1


def test_bundled_scenes_raster_matches_raycast():
    paths = bundled_scene_paths(build_missing=False)
    assert paths
    for p in paths:
        scene = load_scene(p)
        r = get_renderer(scene)
        assert r.backend == "raster"
        for f in scene.frames[:: max(1, len(scene.frames) // 3)][:3]:
            _assert_backends_agree(r, f)


@pytest.mark.parametrize("seed", range(6))
def test_box_room_raster_matches_raycast(seed):
    rng = np.random.default_rng(seed)
    eye = rng.uniform([0.2, 0.2, 0.3], ROOM - 0.2)
    scene = box_room_scene(160, 120, pose_from_yaw_pitch(eye, rng.uniform(-np.pi, np.pi), rng.uniform(-0.8, 0.6)))
    _assert_backends_agree(get_renderer(scene), scene.frames[0])


@pytest.mark.parametrize("yaw", [np.pi - 0.2, np.pi - 1.2, np.pi - 1.5])
def test_camera_one_millimetre_from_a_wall(yaw):
    # the x = 0 wall (and the floor and ceiling) cross the camera plane z = 0 right in front of the lens
    eye = np.array([0.001, 1.5, 1.2])
    scene = box_room_scene(96, 72, pose_from_yaw_pitch(eye, yaw, 0.3))
    f = scene.frames[0]
    a = render_frame(scene, f)
    b = render_frame(scene, f, backend="raycast")
    assert (a["instance"] != NO_HIT).all()  # closed room: every ray hits something
    assert (a["instance"] == b["instance"]).mean() >= 0.995
    same = a["instance"] == b["instance"]
    assert np.abs(a["depth"] - b["depth"])[same].max() < 1e-3
    assert a["depth"].min() < 0.01  # the wall really is within a centimetre of the camera
    depth, ids, clear = analytic(f)
    assert clear.mean() > 0.9
    assert np.array_equal(a["instance"][clear], ids[clear])
    assert np.abs(a["depth"][clear] - depth[clear]).max() < 1e-6 * depth[clear].max()  # float32 rounding only


def test_camera_looking_at_nothing():
    scene = box_room_scene(64, 48, pose_from_yaw_pitch(np.array([10.0, 10, 10]), 0.0, 0.0))
    out = render_frame(scene, "f0")
    assert (out["instance"] == NO_HIT).all() and (out["depth"] == 0).all() and (out["rgb"] == 0).all()
    assert out["depth"].dtype == np.float32 and out["instance"].dtype == np.int32 and out["rgb"].dtype == np.uint8


def _exact_hits(P: np.ndarray, K: np.ndarray, w: int, h: int, eps: float = 1e-4) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Float64 Möller–Trumbore first hits of the pixel rays (camera at the origin, z = 1 directions).

    Returns (H, W) depth (0 = miss), triangle index (-1 = miss) and a mask of unambiguous pixels (no
    other triangle within ``eps`` of being hit closer, winner not within ``eps`` of its own edge).
    """
    u, v = np.meshgrid(np.arange(w, dtype=float), np.arange(h, dtype=float))
    d = np.stack([(u - K[0, 2]) / K[0, 0], (v - K[1, 2]) / K[1, 1], np.ones_like(u)], -1).reshape(-1, 3)
    ts, margins = [], []
    for p0, p1, p2 in P:
        e1, e2 = p1 - p0, p2 - p0
        q = np.cross(d, e2)
        det = q @ e1
        with np.errstate(divide="ignore", invalid="ignore"):
            inv = 1.0 / det
            s = -p0
            b1 = (q @ s) * inv
            r = np.cross(s, e1)
            b2 = (d @ r) * inv
            t = (r @ e2) * inv
        margin = np.nan_to_num(np.minimum(np.minimum(b1, b2), 1 - b1 - b2), nan=-1.0)
        ts.append(np.where(t > 0, t, np.inf))
        margins.append(np.where(np.abs(det) > 1e-12, margin, -1.0))
    T, M = np.array(ts), np.array(margins)
    t_true = np.where(M >= 0, T, np.inf)
    win = np.argmin(t_true, 0)
    t_win = t_true[win, np.arange(len(d))]
    hit = np.isfinite(t_win)
    rivals = (M > -eps) & (T < t_win * (1 + 1e-6) + 1e-9)
    rivals[win, np.arange(len(d))] = False
    clear = ~rivals.any(0) & (~hit | (M[win, np.arange(len(d))] > eps))
    return np.where(hit, t_win, 0).reshape(h, w), np.where(hit, win, -1).reshape(h, w), clear.reshape(h, w)


@pytest.mark.parametrize("seed", range(8))
def test_triangle_soup_matches_exact_ray_triangle_hits(seed):
    rng = np.random.default_rng(seed)
    n = 30
    centres = rng.uniform(-2.5, 2.5, (n, 1, 3))
    V = (centres + rng.normal(0, 1.2, (n, 3, 3))).astype(np.float32).astype(np.float64)
    V[0] = [[-0.3, -0.2, -1.0], [0.4, -0.1, 2.0], [0.0, 0.5, 0.5]]  # one through the camera plane near the lens
    w, h = 80, 60
    K = np.array([[50.0, 0, 39.5], [0, 55.0, 30.0], [0, 0, 1]])
    mesh = SceneMesh(V.reshape(-1, 3), np.arange(3 * n).reshape(n, 3), np.arange(n))
    scene = Scene("soup", [], [Frame("f", K, np.eye(4), w, h)], mesh)
    out = render_frame(scene, "f")
    depth, ids, clear = _exact_hits(V, K, w, h)
    assert clear.mean() > 0.9 and (ids[clear] >= 0).mean() > 0.3
    assert np.array_equal(out["instance"][clear], ids[clear])
    assert np.allclose(out["depth"][clear], depth[clear], rtol=1e-6, atol=1e-7)
    crossing = (V[:, :, 2].min(1) < 0) & (V[:, :, 2].max(1) > 0)
    assert crossing.any()


def _coverage(P: np.ndarray, K: np.ndarray, w: int, h: int) -> np.ndarray:
    """How many triangles cover each pixel centre, rasterising them one at a time."""
    count = np.zeros(w * h, int)
    for i in range(len(P)):
        prim, _ = rasterize(P[i], np.arange(3).reshape(1, 3), K, w, h, no_hit=-1, threads=1)
        count += prim == 0
    return count.reshape(h, w)


@pytest.mark.parametrize("tilt", [0.0, 0.13])
def test_fill_rule_edges_through_pixel_centres(tilt):
    # grid vertices project exactly onto pixel centres; diagonals run through pixel centres too;
    # random windings: every pixel of the image must be covered by exactly one triangle
    rng = np.random.default_rng(3)
    w, h = 12, 9
    K = np.eye(3)  # pixel (u, v) looks along (u, v, 1)
    xs, ys = np.arange(-1, w + 1, dtype=float), np.arange(-1, h + 1, dtype=float)
    X, Y = np.meshgrid(xs, ys)
    Z = 1.0 + tilt * X + 0.05 * Y
    grid = np.stack([X * Z, Y * Z, Z], -1)
    tris = []
    for j in range(len(ys) - 1):
        for i in range(len(xs) - 1):
            a, b, c, d = grid[j, i], grid[j, i + 1], grid[j + 1, i + 1], grid[j + 1, i]
            pair = [(a, b, c), (a, c, d)] if (i + j) % 2 else [(a, b, d), (b, c, d)]
            for t in pair:
                tris.append(t if rng.random() < 0.5 else t[::-1])
    P = np.array(tris)
    assert (_coverage(P, K, w, h) == 1).all()
    # the renderer (all triangles at once, z-buffer) leaves no gap either
    prim, inv_depth = rasterize(P.reshape(-1, 3), np.arange(3 * len(P)).reshape(-1, 3), K, w, h, no_hit=-1)
    assert (prim >= 0).all() and np.allclose(1 / inv_depth, Z[1:-1, 1:-1].ravel())


def test_fill_rule_floor_crossing_the_camera_plane():
    # a tessellated floor 1 m below the camera running from behind it (z = -4) to 12 m ahead
    w, h = 64, 48
    K = np.array([[40.0, 0, 31.5], [0, 40.0, 20.0], [0, 0, 1]])
    xs, zs = np.linspace(-8, 8, 9), np.linspace(-4, 12, 9)
    X, Zg = np.meshgrid(xs, zs)
    grid = np.stack([X, np.ones_like(X), Zg], -1)
    tris = []
    for j in range(len(zs) - 1):
        for i in range(len(xs) - 1):
            a, b, c, d = grid[j, i], grid[j, i + 1], grid[j + 1, i + 1], grid[j + 1, i]
            tris += [(a, b, c), (a, c, d)]
    P = np.array(tris)
    cov = _coverage(P, K, w, h)
    u, v = np.meshgrid(np.arange(w, dtype=float), np.arange(h, dtype=float))
    xn, yn = (u - K[0, 2]) / K[0, 0], (v - K[1, 2]) / K[1, 1]
    with np.errstate(divide="ignore"):
        t = np.where(yn > 0, 1 / yn, np.inf)
    inside = (t < 12 - 1e-6) & (np.abs(xn * t) < 8 - 1e-6)
    outside = (t > 12 + 1e-6) | (np.abs(xn * t) > 8 + 1e-6)
    assert inside.sum() > 500 and (cov[inside] == 1).all() and (cov[outside] == 0).all()
    prim, inv_depth = rasterize(P.reshape(-1, 3), np.arange(3 * len(P)).reshape(-1, 3), K, w, h, no_hit=-1)
    assert np.allclose(1 / inv_depth.reshape(h, w)[inside], t[inside])


def test_thread_count_does_not_change_the_image():
    scene = box_room_scene(200, 150, pose_from_yaw_pitch(np.array([0.6, 0.9, 1.4]), 0.4, -0.3))
    f = scene.frames[0]
    imgs = [Renderer(scene.mesh, threads=n).render(f) for n in (1, 2, 3)]
    for other in imgs[1:]:
        for k in imgs[0]:
            assert np.array_equal(imgs[0][k], other[k])


def test_empty_mesh_and_bad_arguments():
    mesh = SceneMesh(np.zeros((0, 3)), np.zeros((0, 3), int), np.zeros(0, int))
    f = Frame("f", np.array([[30.0, 0, 15.5], [0, 30, 11.5], [0, 0, 1]]), np.eye(4), 32, 24)
    out = Renderer(mesh).render(f)
    assert (out["instance"] == NO_HIT).all() and (out["depth"] == 0).all()
    with pytest.raises(ValueError, match="backend"):
        Renderer(mesh, backend="opengl")
    with pytest.raises(ValueError, match="kind"):
        Renderer(mesh).render(f, ("normals",))
