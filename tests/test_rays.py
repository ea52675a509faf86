"""Exact first hits along rays from the camera centre (the visibility test's depth path).

Against a float64 Möller–Trumbore reference on triangle soups around the camera (triangles crossing
the camera plane, rays far outside any image), and against open3d's ray caster (the path it
replaces) on every frame of the bundled scenes: the same visibility verdicts, but for rays that
graze a triangle edge within float32 precision, where open3d's float32 answer is the one that is off.
"""

from __future__ import annotations

import numpy as np
import pytest

from spatialevo import load_scene
from spatialevo.bundled import bundled_scene_paths
from spatialevo.scene.raster import camera_vertices
from spatialevo.scene.rays import first_hit_depths
from spatialevo.scene.render import get_renderer
from spatialevo.scene.visibility import _scene_samples, visible_fractions

K = np.array([[300.0, 0.0, 159.5], [0.0, 300.0, 119.5], [0.0, 0.0, 1.0]])


def _mt(tri: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Float64 Möller–Trumbore from the origin: (R, T) ray parameters t along ``d`` (R, 3) for the
    (T, 3, 3) triangles (nan where the plane is parallel) and the smallest barycentric coordinate."""
    v0, e1, e2 = tri[:, 0], tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]
    h = np.cross(d[:, None, :], e2[None])
    a = np.einsum("tk,rtk->rt", e1, h)
    with np.errstate(divide="ignore", invalid="ignore"):
        f = 1.0 / a
        s = -v0
        u = f * np.einsum("tk,rtk->rt", s, h)
        q = np.cross(s, e1)
        v = f * (d @ q.T)
        t = f * np.einsum("tk,tk->t", e2, q)[None, :]
    return t, np.minimum(np.minimum(u, v), 1.0 - u - v)


def _reference(tri: np.ndarray, pts: np.ndarray, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """Reference z-depth of the first hit (inf: none) and whether it is ambiguous (a triangle's
    edge within ``eps`` barycentric of the ray, in front of the camera)."""
    d = pts / pts[:, 2:3]
    t, bmin = _mt(tri, d)
    ok = np.isfinite(t) & (t > 0)
    hit = ok & (bmin >= 0)
    depth = np.where(hit, t, np.inf).min(axis=1)
    ambiguous = (ok & (np.abs(bmin) <= eps)).any(axis=1)
    return depth, ambiguous


@pytest.mark.parametrize("seed", range(4))
def test_triangle_soup_matches_float64_reference(seed):
    rng = np.random.default_rng(seed)
    centres = rng.uniform([-3, -3, -1.5], [3, 3, 6], size=(150, 3))  # some behind the camera, some across z = 0
    tri = centres[:, None, :] + rng.normal(0, 0.8, size=(150, 3, 3))
    faces = np.arange(450).reshape(150, 3)
    # rays inside the image and far outside it (the virtual image holds them all)
    pts = np.concatenate([rng.uniform([-0.6, -0.45, 1.0], [0.6, 0.45, 1.0], size=(1500, 3)),
                          rng.uniform([-4, -3, 1.0], [4, 3, 1.0], size=(500, 3))]) * rng.uniform(0.5, 8, size=(2000, 1))
    got = first_hit_depths(tri.reshape(-1, 3), faces, K, pts)
    want, ambiguous = _reference(tri, pts, 1e-9)
    clear = ~ambiguous
    assert clear.sum() > 1900
    assert np.array_equal(np.isinf(got[clear]), np.isinf(want[clear]))
    fin = clear & np.isfinite(want)
    assert fin.sum() > 500
    np.testing.assert_allclose(got[fin], want[fin], rtol=1e-9)
    # the depth does not depend on the intrinsics used to bin the rays
    K2 = np.array([[37.0, 0.0, -80.0], [0.0, 53.0, 400.0], [0.0, 0.0, 1.0]])
    assert np.array_equal(first_hit_depths(tri.reshape(-1, 3), faces, K2, pts), got)


def test_arguments():
    tri = np.array([[-1.0, -1.0, 2.0], [1.0, -1.0, 2.0], [0.0, 1.0, 2.0]])
    assert first_hit_depths(tri, np.array([[0, 1, 2]]), K, np.zeros((0, 3))).shape == (0,)
    assert first_hit_depths(tri, np.array([[0, 1, 2]]), K, np.array([[0.0, 0.0, 1.0], [5.0, 0.0, 1.0]])).tolist() == [2.0, np.inf]
    assert first_hit_depths(tri, np.zeros((0, 3), np.int64), K, np.array([[0.0, 0.0, 1.0]])).tolist() == [np.inf]
    with pytest.raises(ValueError, match="in front of the camera"):
        first_hit_depths(tri, np.array([[0, 1, 2]]), K, np.array([[0.0, 0.0, -1.0]]))


def test_visibility_matches_open3d_on_the_bundled_scenes():
    """Every sample of every frame of the bundled scenes: the same verdict as open3d's ray cast
    (the previous path), except rays passing within 1e-6 (barycentric) of a triangle edge, where
    float32 decides either way; and no more than a handful of those."""
    rays = differ = 0
    for path in bundled_scene_paths():
        scene = load_scene(path)
        r = get_renderer(scene)
        pts, _ = _scene_samples(scene, 512)
        for f in scene.frames:
            uv, z = f.project(pts)
            inside = (z > 0.05) & (uv[:, 0] >= -0.5) & (uv[:, 0] < f.width - 0.5) & (uv[:, 1] >= -0.5) & (uv[:, 1] < f.height - 0.5)
            p = pts[inside]
            if not len(p):
                continue
            dist = np.linalg.norm(p - f.camera_center, axis=1)
            tol = dist - (0.02 + 0.01 * dist)
            ours = r.first_hit_distances(f, p) >= tol
            theirs = r.cast(np.broadcast_to(f.camera_center, p.shape), (p - f.camera_center) / dist[:, None])["t_hit"] >= tol
            rays += len(p)
            bad = np.flatnonzero(ours != theirs)
            differ += len(bad)
            if len(bad):
                tri = camera_vertices(r._vertices, f.T_wc)[r._faces]
                _, grazing = _reference(tri, camera_vertices(p[bad], f.T_wc), 1e-6)
                assert grazing.all(), (scene.scene_id, f.id, bad[~grazing])
    assert rays > 70_000
    assert differ <= 3, differ


def test_visible_fractions_use_no_open3d():
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from spatialevo import load_scene\n"
        "from spatialevo.bundled import bundled_scene_paths\n"
        "from spatialevo.scene.visibility import visibility_matrix\n"
        "s = load_scene(bundled_scene_paths()[0])\n"
        "m = visibility_matrix(s)\n"
        "assert m.shape == (len(s.frames), len(s.objects)) and m.max() > 0.3\n"
        "print(sorted({k.split('.')[0] for k in sys.modules if k.startswith(('open3d', 'scipy.spatial', 'pandas'))}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
    scene = load_scene(bundled_scene_paths()[0])
    assert visible_fractions(scene, scene.frames[0]).max() > 0.3


def test_points_that_project_far_outside_any_image_are_refused() -> None:
    """The work grows with the pixel area the points span: a point near the camera plane (its
    projection millions of pixels away, or infinite) is a clear error, not a huge allocation."""
    from spatialevo.scene.rays import first_hit_depths

    V, F = np.array([[0, 0, 2.0], [1, 0, 2], [0, 1, 2]]), np.array([[0, 1, 2]])
    K = np.array([[100.0, 0, 50], [0, 100, 50], [0, 0, 1]])
    assert first_hit_depths(V, F, K, np.array([[0.1, 0.1, 3.0]]))[0] == pytest.approx(2.0)
    for far in ([0.0, 1.0, 1e-4], [0.0, 1.0, 1e-320]):
        with pytest.raises(ValueError, match="pixel"):
            first_hit_depths(V, F, K, np.array([[0.1, 0.1, 3.0], far]))
