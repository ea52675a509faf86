"""Rendering against closed-form ray casting, and depth-tested visibility."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh
from hypothesis import given, settings
from hypothesis import strategies as st

from spatialevo.scene import FLOOR_ID, Frame, ObjectInstance, OrientedBox, Scene, SceneMesh
from spatialevo.scene.render import render_frame
from spatialevo.scene.visibility import visibility_matrix, visible_fractions
from spatialevo.synthetic.trajectory import pose_from_yaw_pitch

ROOM = np.array([4.0, 3.0, 2.5])  # box room [0, 4] x [0, 3] x [0, 2.5] metres
CUBE_MIN, CUBE_MAX = np.array([2.5, 0.5, 0.0]), np.array([3.1, 1.1, 0.6])
CUBE_ID = 7
# plane ids: x=0 → 10, x=4 → 11, y=0 → 12, y=3 → 13, floor → FLOOR_ID, ceiling → 14
PLANE_IDS = np.array([[10, 11], [12, 13], [FLOOR_ID, 14]])


def box_room_scene(width: int = 64, height: int = 48, pose: np.ndarray | None = None) -> Scene:
    parts, ids = [], []
    for axis in range(3):
        for side in range(2):
            # a thin slab whose inner face is the plane
            lo, hi = np.array([-1.0, -1, -1]), ROOM + 1
            if side == 0:
                hi = hi.copy()
                hi[axis] = 0.0
            else:
                lo = lo.copy()
                lo[axis] = ROOM[axis]
            m = trimesh.creation.box(bounds=[lo, hi])
            parts.append(m)
            ids.append(np.full(len(m.faces), PLANE_IDS[axis, side]))
    cube = trimesh.creation.box(bounds=[CUBE_MIN, CUBE_MAX])
    parts.append(cube)
    ids.append(np.full(len(cube.faces), CUBE_ID))
    offs = np.cumsum([0] + [len(p.vertices) for p in parts[:-1]])
    mesh = SceneMesh(
        np.concatenate([p.vertices for p in parts]),
        np.concatenate([p.faces + o for p, o in zip(parts, offs)]),
        np.concatenate(ids),
    )
    K = np.array([[width * 0.6, 0, (width - 1) / 2], [0, width * 0.6, (height - 1) / 2], [0, 0, 1]])
    frames = [Frame("f0", K, np.eye(4) if pose is None else pose, width, height)]
    obj = ObjectInstance(CUBE_ID, "cube", OrientedBox((CUBE_MIN + CUBE_MAX) / 2, CUBE_MAX - CUBE_MIN))
    return Scene("room", [obj], frames, mesh)


def analytic(frame: Frame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Closed-form z-depth, ids and an 'unambiguous' mask for every pixel."""
    u, v = np.meshgrid(np.arange(frame.width, dtype=float), np.arange(frame.height, dtype=float))
    K = frame.K
    d = np.stack([(u - K[0, 2]) / K[0, 0], (v - K[1, 2]) / K[1, 1], np.ones_like(u)], -1) @ frame.T_wc[:3, :3].T
    c = frame.T_wc[:3, 3]
    with np.errstate(divide="ignore", invalid="ignore"):
        t_planes = np.stack([(np.array([0.0, 0, 0])[a] - c[a]) / d[..., a] for a in range(3)]
                            + [(ROOM[a] - c[a]) / d[..., a] for a in range(3)], -1)
        t_planes[~(t_planes > 0)] = np.inf
        ids_planes = np.array([10, 12, FLOOR_ID, 11, 13, 14])
        # slab test for the cube
        t0 = (CUBE_MIN - c) / d
        t1 = (CUBE_MAX - c) / d
    tnear = np.nanmax(np.minimum(t0, t1), -1)
    tfar = np.nanmin(np.maximum(t0, t1), -1)
    t_cube = np.where((tnear <= tfar) & (tnear > 0), tnear, np.inf)
    all_t = np.concatenate([t_planes, t_cube[..., None]], -1)
    all_ids = np.concatenate([ids_planes, [CUBE_ID]])
    order = np.sort(all_t, -1)
    clear = (order[..., 1] - order[..., 0]) > 1e-3
    # also drop rays grazing a cube edge (tnear≈tfar)
    clear &= ~(np.isfinite(t_cube) & (tfar - tnear < 1e-3))
    clear &= ~((tnear <= tfar + 1e-3) & (tnear >= tfar - 1e-3))
    return order[..., 0], all_ids[np.argmin(all_t, -1)], clear


@settings(max_examples=25, deadline=None)
@given(
    st.floats(0.3, 2.2), st.floats(0.3, 2.7), st.floats(0.8, 2.2),
    st.floats(-np.pi, np.pi), st.floats(-0.6, 0.4),
)
@pytest.mark.parametrize("backend", ["raster", "raycast"])
def test_depth_and_ids_match_ray_plane_intersection(backend, x, y, z, yaw, pitch):
    eye = np.array([x, y, z])
    scene = box_room_scene(pose=pose_from_yaw_pitch(eye, yaw, pitch))
    out = render_frame(scene, "f0", backend=backend)
    depth, ids, clear = analytic(scene.frames[0])
    assert out["depth"].shape == (48, 64) and out["depth"].dtype == np.float32
    assert np.abs(out["depth"][clear] - depth[clear]).max() < 1e-3  # 1 mm
    assert np.array_equal(out["instance"][clear], ids[clear])
    assert out["rgb"].shape == (48, 64, 3) and out["rgb"].dtype == np.uint8


@pytest.mark.parametrize("backend", ["raster", "raycast"])
def test_rays_into_nothing_are_zero_depth_and_no_hit(backend):
    scene = box_room_scene(pose=pose_from_yaw_pitch(np.array([10.0, 10, 10]), 0.0, 0.0))  # outside, looking away
    out = render_frame(scene, "f0", backend=backend)
    assert (out["depth"] == 0).all() and (out["instance"] == -1).all() and (out["rgb"] == 0).all()


def test_visible_fraction_depth_tested():
    # camera looking at the cube from -x: the front face (1/6 of the box-face samples) is visible,
    # plus the first sample row of the four adjacent faces, which lies within the 2 cm depth tolerance
    scene = box_room_scene(pose=pose_from_yaw_pitch(np.array([0.5, 0.8, 0.3]), 0.0, 0.0))
    frac = visible_fractions(scene, "f0")
    assert frac.shape == (1,)
    assert frac[0] == pytest.approx((64 + 4 * 8) / 384)
    strict = visible_fractions(scene, "f0", tol_abs=1e-3, tol_rel=0.0)
    assert strict[0] == pytest.approx(1 / 6)
    # looking away → invisible; cached results are the same object
    scene2 = box_room_scene(pose=pose_from_yaw_pitch(np.array([0.5, 0.8, 0.3]), np.pi, 0.0))
    assert visible_fractions(scene2, "f0")[0] == 0.0
    assert visibility_matrix(scene).shape == (1, 1)
    assert visible_fractions(scene, "f0") is visible_fractions(scene, "f0")


def test_occluded_object_is_not_visible():
    scene = box_room_scene(pose=pose_from_yaw_pitch(np.array([0.5, 0.8, 0.3]), 0.0, 0.0))
    hidden = ObjectInstance(8, "hidden", OrientedBox([3.5, 0.8, 0.3], [0.2, 0.2, 0.2]))  # behind the cube
    scene.objects.append(hidden)
    scene._visibility_cache.clear()
    frac = visible_fractions(scene, "f0")
    assert frac[1] == 0.0 and frac[0] > 0.1


def test_stored_depth_is_read_through_the_depth_cameras_intrinsics(tmp_path):
    """A frame whose depth camera has its own K (ScanNet): the depth test looks the samples up
    where the depth camera sees them, not where the colour image (scaled) has them."""
    from PIL import Image

    T = np.eye(4)
    T[:3, :3] = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])  # looking along +x, image v down = -z
    obj = ObjectInstance(1, "box", OrientedBox([3.0, 0.0, 0.0], [0.2, 0.2, 0.2]))
    Kd = np.array([[40.0, 0, 20.0], [0, 40.0, 15.0], [0, 0, 1]])  # depth camera, 40x30
    Kc = np.array([[80.0, 0, 52.0], [0, 80.0, 38.0], [0, 0, 1]])  # colour camera, 80x60, principal point 12 px off
    uv = Kd[:2, 2]  # the box centre lies on the optical axis: depth pixel (20, 15)
    depth = np.full((30, 40), 500, dtype=np.uint16)  # an occluder 0.5 m in front everywhere ...
    depth[int(uv[1]) - 3 : int(uv[1]) + 4, int(uv[0]) - 3 : int(uv[0]) + 4] = 2900  # ... but where the box is seen
    Image.fromarray(depth).save(tmp_path / "d.png")
    f = Frame("f0", Kc, T, 80, 60, depth_path=tmp_path / "d.png", depth_K=Kd)
    scene = Scene("s", [obj], [f], points=np.zeros((1, 3)))
    assert visible_fractions(scene, "f0")[0] > 0.1  # its front face is visible
    wrong = Frame("f0", Kc, T, 80, 60, depth_path=tmp_path / "d.png")  # no depth_K: the colour K, scaled
    assert visible_fractions(Scene("s", [obj], [wrong], points=np.zeros((1, 3))), "f0")[0] == 0.0
