"""ScanNet frames: colour and depth cameras with their own intrinsics, scans that ship only a ``.sens``."""

from __future__ import annotations

import numpy as np
from fixtures import write_matrix, write_scannet, write_scannet_sens
from PIL import Image
from test_loaders import check_objects

from spatialevo import detect_layout, load_scene


def test_scannet_colour_frames_use_the_colour_intrinsics(tmp_path):
    """Colour (160x120) and depth (64x48) cameras differ: a box centre projected with ``Frame.K``
    lands on the object in the colour image as read; the depth camera's K would miss it."""
    fx = write_scannet(tmp_path)
    Kc = np.array([[150.0, 0.0, 70.0], [0.0, 150.0, 66.0], [0.0, 0.0, 1.0]])  # principal point well off the image centre
    write_matrix(fx.path / "intrinsic" / "intrinsic_color.txt", np.block([[Kc, np.zeros((3, 1))], [np.zeros((1, 3)), np.ones((1, 1))]]))
    scene = load_scene(fx.path)
    obj = scene.object(fx.objects[1]["id"])  # the table, in view of frame 0
    f = scene.frame("0")
    # paint the object's centre, projected with the *colour* camera at its own resolution, in the colour image
    pc = f.world_to_camera(obj.box.center[None])[0]
    u, v = Kc[0, 0] * pc[0] / pc[2] + Kc[0, 2], Kc[1, 1] * pc[1] / pc[2] + Kc[1, 2]
    img = np.zeros((120, 160, 3), dtype=np.uint8)
    img[int(round(v)) - 5 : int(round(v)) + 6, int(round(u)) - 5 : int(round(u)) + 6] = (255, 0, 0)
    (fx.path / "color" / "0.jpg").unlink()
    Image.fromarray(img).save(fx.path / "color" / "0.png")
    scene = load_scene(fx.path)
    f = scene.frame("0")
    rgb = scene.frame_images(f, ("rgb",))["rgb"]  # resized to the frame's 64x48
    assert rgb.shape == (48, 64, 3)
    red = np.argwhere((rgb[..., 0] > 150) & (rgb[..., 1] < 100))
    centre = red.mean(axis=0)[::-1]  # (u, v) of the painted square in the image as read
    uv = f.project(obj.box.center[None])[0][0]
    assert np.linalg.norm(uv - centre) < 0.5, (uv, centre)
    uv_depth_camera = f.project(obj.box.center[None], f.depth_K)[0][0]
    assert np.linalg.norm(uv_depth_camera - centre) > 2.0  # pairing colour with depth intrinsics would miss


def test_scannet_scan_with_only_a_sens_file(tmp_path):
    """A scan as downloaded (mesh, segments, aggregation, axisAlignment, <scene>.sens): objects and
    poses come back in the axis-aligned frame, colour and depth with their own intrinsics."""
    fx = write_scannet_sens(tmp_path / "scans", n_frames=5)
    assert detect_layout(fx.path) == "scannet"
    scene = load_scene(fx.path, extract_dir=tmp_path / "frames")
    check_objects(scene, fx)
    assert [f.id for f in scene.frames] == list(fx.poses) == ["0", "1", "3", "4"]  # frame 2 is invalid
    for f in scene.frames:
        np.testing.assert_allclose(f.T_wc, fx.poses[f.id], atol=1e-5)  # stored as float32
        np.testing.assert_allclose(f.K, fx.K, atol=1e-4)
        assert (f.width, f.height) == fx.size and f.depth_K is not None
        img = scene.frame_images(f, ("rgb", "depth"))
        assert img["rgb"].shape == (fx.size[1], fx.size[0], 3)
        np.testing.assert_allclose(img["depth"], 1.5 + 0.01 * int(f.id), atol=1e-6)
    every_other = load_scene(fx.path, frame_step=2, extract_dir=tmp_path / "frames")
    assert [f.id for f in every_other.frames] == ["0", "4"]
    assert sorted(p.name for p in (tmp_path / "frames").iterdir()) == ["step1", "step2"]


def test_sens_frames_go_to_the_user_cache_by_default(tmp_path, monkeypatch):
    monkeypatch.setenv("SPATIALEVO_CACHE", str(tmp_path / "cache"))
    fx = write_scannet_sens(tmp_path / "scans", n_frames=3)
    scene = load_scene(fx.path)
    assert all((tmp_path / "cache" / "sens") in f.rgb_path.parents for f in scene.frames)
    assert load_scene(fx.path).frames[0].rgb_path == scene.frames[0].rgb_path  # extracted once, found again


def test_colour_intrinsics_scale_from_the_size_they_calibrate(tmp_path):
    """Exporters that shrink the colour JPGs keep the full-size intrinsic_color: _info.txt says its size;
    without it a K that does not fit the JPGs is not used (never a principal point off the image)."""
    from fixtures import KC

    from spatialevo.scene.loaders.scannet import scale_intrinsics

    fx = write_scannet(tmp_path)
    for jpg in (fx.path / "color").glob("*.jpg"):
        Image.new("RGB", (64, 48)).save(jpg)  # colour exported at the depth size; intrinsic_color is for 130x97
    shrunk = KC * np.array([[3.0], [3.0], [1.0]])  # make the principal point clearly outside a 64x48 image
    shrunk[2] = [0, 0, 1]
    write_matrix(fx.path / "intrinsic" / "intrinsic_color.txt", np.block([[shrunk, np.zeros((3, 1))], [np.zeros((1, 3)), np.ones((1, 1))]]))
    scene = load_scene(fx.path)
    assert "intrinsic_color_unused" in scene.meta and scene.frames[0].depth_K is None
    np.testing.assert_allclose(scene.frames[0].K, np.loadtxt(fx.path / "intrinsic" / "intrinsic_depth.txt")[:3, :3])
    (fx.path / "_info.txt").write_text("m_versionNumber = 4\nm_colorWidth = 390\nm_colorHeight = 291\nm_depthShift = 1000\n")
    scene = load_scene(fx.path)
    np.testing.assert_allclose(scene.frames[0].K, scale_intrinsics(shrunk, (390, 291), (64, 48)))
    assert 0 < scene.frames[0].K[0, 2] < 64 and 0 < scene.frames[0].K[1, 2] < 48
