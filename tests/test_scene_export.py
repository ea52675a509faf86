"""Scenes as trimesh / open3d objects and PLY / GLB files (spatialevo.scene.meshexport), the
``scene export`` / ``scene view`` commands (spatialevo.cli.scene_export) and the rerun recording
(spatialevo.scene.rerunview): every file is loaded back with trimesh and open3d and compared with
the scene (vertex counts, vertices, faces, colours, box corners, frusta)."""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

import numpy as np
import pytest
import trimesh
from fixtures import write_boxlist

from spatialevo import load_scene
from spatialevo.bundled import bundled_scene_paths
from spatialevo.errors import SpatialEvoError
from spatialevo.scene import Scene
from spatialevo.scene.meshexport import BOX_EDGES, FRUSTUM_EDGES, export_format, export_scene, ply_parts, scene_to_trimesh
from spatialevo.scene.render import label_color


@pytest.fixture(scope="module")
def scene() -> Scene:
    return load_scene(bundled_scene_paths()[0])


@pytest.fixture(scope="module")
def meshless(scene: Scene) -> Scene:
    """The bundled scene without its mesh: objects with surface points, boxes and frames."""
    return Scene(scene.scene_id, scene.objects, scene.frames, None, meta=dict(scene.meta))


def _frustum(frame, depth: float = 0.3) -> np.ndarray:
    """(5, 3) expected frustum vertices, computed independently: centre, then the image corners at ``depth``."""
    w, h = frame.width - 0.5, frame.height - 0.5
    fx, fy, cx, cy = frame.K[0, 0], frame.K[1, 1], frame.K[0, 2], frame.K[1, 2]
    cam = [[(u - cx) / fx * depth, (v - cy) / fy * depth, depth] for u, v in ((-0.5, -0.5), (w, -0.5), (w, h), (-0.5, h))]
    return np.array([frame.T_wc[:3, :3] @ p + frame.T_wc[:3, 3] for p in [[0.0, 0.0, 0.0], *cam]])


def _cli(argv: list[str]) -> int:
    """Run ``spatialevo scene ...`` through the export/view parsers, as the CLI's main would."""
    from spatialevo.cli import scene_export

    p = argparse.ArgumentParser(prog="spatialevo")
    sub = p.add_subparsers(dest="command", required=True)
    ss = sub.add_parser("scene").add_subparsers(dest="scene_cmd", required=True)
    scene_export.add_parsers(ss)
    args = p.parse_args(argv)
    return args.func(args)


def _segments(path_geom) -> np.ndarray:
    """(n, 2, 3) segments of a Path3D loaded from GLB (trimesh reads GL_LINES as vertex pairs 2k, 2k + 1)."""
    return np.asarray(path_geom.vertices).reshape(-1, 2, 3)


def test_glb_round_trip_mesh_boxes_and_cameras(scene, tmp_path):
    path = export_scene(scene, tmp_path / "room.glb")
    loaded = trimesh.load(path, process=False)
    assert isinstance(loaded, trimesh.Scene)
    expected = {"mesh"} | {f"box/{o.ref}" for o in scene.objects} | {f"camera/{f.id}" for f in scene.frames}
    assert set(loaded.geometry) == expected
    assert set(loaded.graph.nodes_geometry) == expected  # one node per geometry, named like it
    mesh = loaded.geometry["mesh"]
    assert len(mesh.vertices) == len(scene.mesh.vertices) and len(mesh.faces) == len(scene.mesh.faces)
    np.testing.assert_allclose(mesh.vertices, scene.mesh.vertices, atol=1e-6)  # float32 in glTF
    np.testing.assert_array_equal(mesh.faces, scene.mesh.faces)
    np.testing.assert_array_equal(mesh.visual.vertex_colors[:, :3], scene.mesh.vertex_colors)
    for o in scene.objects:
        seg = _segments(loaded.geometry[f"box/{o.ref}"])
        np.testing.assert_allclose(seg, o.box.corners()[BOX_EDGES], atol=1e-6)
        assert len(np.unique(seg.reshape(-1, 3).round(5), axis=0)) == 8
    for f in scene.frames:
        np.testing.assert_allclose(_segments(loaded.geometry[f"camera/{f.id}"]), _frustum(f)[FRUSTUM_EDGES], atol=1e-6)


def test_ply_round_trip_through_trimesh_and_open3d(scene, tmp_path):
    import open3d as o3d

    path = export_scene(scene, tmp_path / "room.ply")
    V, n_obj, n_cam = len(scene.mesh.vertices), len(scene.objects), len(scene.frames)
    total = V + 8 * n_obj + 5 * n_cam
    m = trimesh.load(path, process=False)
    assert isinstance(m, trimesh.Trimesh) and len(m.vertices) == total
    np.testing.assert_array_equal(m.vertices[:V], scene.mesh.vertices)  # doubles: exact
    np.testing.assert_array_equal(m.faces, scene.mesh.faces)
    np.testing.assert_array_equal(m.visual.vertex_colors[:V, :3], scene.mesh.vertex_colors)
    parts = ply_parts(path)
    assert parts[0] == ("mesh", 0, V, "mesh")
    by_name = {name: (kind, start, count) for kind, start, count, name in parts}
    assert len(by_name) == 1 + n_obj + n_cam
    for o in scene.objects:
        kind, start, count = by_name[f"box/{o.ref}"]
        assert (kind, count) == ("box", 8)
        np.testing.assert_allclose(m.vertices[start:start + 8], o.box.corners(), atol=1e-9)
        np.testing.assert_array_equal(m.visual.vertex_colors[start, :3], label_color(o.label))
    for f in scene.frames:
        kind, start, count = by_name[f"camera/{f.id}"]
        np.testing.assert_allclose(m.vertices[start:start + 5], _frustum(f), atol=1e-9)

    tm = o3d.io.read_triangle_mesh(str(path))
    assert len(tm.vertices) == total and len(tm.triangles) == len(scene.mesh.faces)
    np.testing.assert_array_equal(np.asarray(tm.triangles), scene.mesh.faces)
    np.testing.assert_allclose(np.asarray(tm.vertex_colors)[:V] * 255, scene.mesh.vertex_colors, atol=1e-6)
    pc = o3d.io.read_point_cloud(str(path))
    assert len(pc.points) == total
    ls = o3d.io.read_line_set(str(path))
    lines, pts = np.asarray(ls.lines), np.asarray(ls.points)
    assert len(lines) == 12 * n_obj + 8 * n_cam
    o = scene.objects[-1]
    start = by_name[f"box/{o.ref}"][1]
    box_lines = lines[12 * (n_obj - 1):12 * n_obj]
    np.testing.assert_array_equal(box_lines, BOX_EDGES + start)
    np.testing.assert_allclose(pts[box_lines], o.box.corners()[BOX_EDGES], atol=1e-9)


def test_meshless_scene_exports_object_points_and_boxes(meshless, tmp_path):
    import open3d as o3d

    n_pts = sum(len(o.points) for o in meshless.objects)
    ts = scene_to_trimesh(meshless)
    assert "mesh" not in ts.geometry and len(ts.geometry["points"].vertices) == n_pts
    export_scene(meshless, tmp_path / "pts.glb")
    g = trimesh.load(tmp_path / "pts.glb", process=False)
    pts = g.geometry["points"]
    assert isinstance(pts, trimesh.PointCloud) and len(pts.vertices) == n_pts
    first = meshless.objects[0]
    np.testing.assert_array_equal(pts.colors[: len(first.points), :3], np.tile(label_color(first.label), (len(first.points), 1)))
    export_scene(meshless, tmp_path / "pts.ply")
    total = n_pts + 8 * len(meshless.objects) + 5 * len(meshless.frames)
    pc = o3d.io.read_point_cloud(str(tmp_path / "pts.ply"))
    assert len(pc.points) == total
    np.testing.assert_array_equal(np.asarray(pc.points)[: len(first.points)], first.points)
    p3 = trimesh.load(tmp_path / "pts.ply", process=False)  # edges and no faces: a Path3D over every vertex
    assert isinstance(p3, trimesh.path.Path3D) and len(p3.vertices) == total
    assert ply_parts(tmp_path / "pts.ply")[0] == ("points", 0, n_pts, "points")


def test_boxlist_scene_exports_its_boxes(tmp_path):
    import open3d as o3d

    fx = write_boxlist(tmp_path)
    s = load_scene(fx.path)
    assert s.mesh is None and not s.frames and all(o.points is None for o in s.objects)
    export_scene(s, tmp_path / "boxes.ply")
    ls = o3d.io.read_line_set(str(tmp_path / "boxes.ply"))
    assert len(ls.lines) == 12 * len(s.objects)
    pts = np.asarray(ls.points)
    for k, o in enumerate(s.objects):
        np.testing.assert_allclose(pts[8 * k:8 * k + 8], o.box.corners(), atol=1e-9)
    export_scene(s, tmp_path / "boxes.glb")
    g = trimesh.load(tmp_path / "boxes.glb", process=False)
    assert set(g.geometry) == {f"box/{o.ref}" for o in s.objects}
    with pytest.raises(SpatialEvoError, match="nothing to export"):
        export_scene(s, tmp_path / "none.ply", boxes=False)


def test_scene_methods_and_options(scene, meshless):
    import open3d as o3d

    t = scene.to_trimesh(cameras=False)
    assert "mesh" in t.geometry and not any(k.startswith("camera/") for k in t.geometry)
    t = scene.to_trimesh(points=True, boxes=False, camera_every=4, frustum_depth=1.0)
    assert "points" in t.geometry and "mesh" not in t.geometry and not any(k.startswith("box/") for k in t.geometry)
    cams = sorted(k for k in t.geometry if k.startswith("camera/"))
    assert cams == sorted(f"camera/{f.id}" for f in scene.frames[::4])
    f = scene.frames[0]
    np.testing.assert_allclose(np.asarray(t.geometry[f"camera/{f.id}"].vertices), _frustum(f, 1.0), atol=1e-12)
    d = scene.to_open3d()
    assert isinstance(d["mesh"], o3d.geometry.TriangleMesh) and len(d["mesh"].vertices) == len(scene.mesh.vertices)
    o = scene.objects[0]
    ls = d[f"box/{o.ref}"]
    assert isinstance(ls, o3d.geometry.LineSet)
    np.testing.assert_allclose(np.asarray(ls.points), o.box.corners(), atol=1e-12)
    np.testing.assert_allclose(np.asarray(ls.colors)[0] * 255, label_color(o.label), atol=1e-9)
    assert isinstance(meshless.to_open3d()["points"], o3d.geometry.PointCloud)
    with pytest.raises(SpatialEvoError, match="no mesh"):
        meshless.to_trimesh(points=False)
    with pytest.raises(SpatialEvoError, match="frustum depth"):
        scene.to_trimesh(frustum_depth=0.0)


def test_model_does_not_import_trimesh_or_open3d():
    src = Path(__file__).resolve().parents[1] / "spatialevo" / "scene" / "model.py"
    top = [n for n in ast.parse(src.read_text()).body if isinstance(n, (ast.Import, ast.ImportFrom))]
    names = {a.name.split(".")[0] for n in top for a in n.names} | {(n.module or "").split(".")[0] for n in top if isinstance(n, ast.ImportFrom)}
    assert not names & {"trimesh", "open3d", "rerun"}
    assert "spatialevo" in names  # the parse saw the module's imports


@pytest.mark.parametrize(("name", "fmt", "match"), [
    ("a.ply", "glb", "ends in .ply but the format asked for is glb"),
    ("a.obj", None, "cannot tell the export format"),
    ("a.ply", "obj", "unknown export format"),
])
def test_format_errors_are_one_line(name, fmt, match):
    with pytest.raises(SpatialEvoError, match=match) as err:
        export_format(name, fmt)
    assert "\n" not in str(err.value)


def test_format_from_suffix_or_argument():
    assert export_format("x/Room.GLB") == "glb" and export_format("x/room.data", "ply") == "ply"


def test_unwritable_path_is_a_one_line_error_and_leaves_nothing(scene, tmp_path, monkeypatch):
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a folder")
    for fmt in ("ply", "glb"):
        with pytest.raises(SpatialEvoError, match="cannot write") as err:
            export_scene(scene, blocker / f"room.{fmt}")
        assert "\n" not in str(err.value)
    # a failure while writing removes the temporary file and keeps an existing target as it was
    import spatialevo.scene.meshexport as mx

    target = tmp_path / "room.ply"
    target.write_bytes(b"old")

    def broken(parts, scene_id):
        yield b"ply\n"
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(mx, "_ply_chunks", broken)
    with pytest.raises(SpatialEvoError, match="No space left"):
        export_scene(scene, target)
    assert target.read_bytes() == b"old" and sorted(p.name for p in tmp_path.iterdir()) == ["file.txt", "room.ply"]


def test_cli_export_writes_files_trimesh_loads(scene, tmp_path, capsys):
    src = bundled_scene_paths()[0]
    assert _cli(["scene", "export", str(src), "--out", str(tmp_path / "out" / "room.glb")]) == 0
    assert "room.glb" in capsys.readouterr().out
    g = trimesh.load(tmp_path / "out" / "room.glb", process=False)
    assert len(g.geometry["mesh"].vertices) == len(scene.mesh.vertices)
    assert sum(k.startswith("box/") for k in g.geometry) == len(scene.objects)
    assert _cli(["scene", "export", str(src), "--out", str(tmp_path / "pts.ply"), "--points", "--no-boxes", "--no-cameras"]) == 0
    p = trimesh.load(tmp_path / "pts.ply", process=False)
    assert isinstance(p, trimesh.PointCloud) and len(p.vertices) == sum(len(o.points) for o in scene.objects)
    assert _cli(["scene", "export", str(src), "--out", str(tmp_path / "noext"), "--format", "ply"]) == 0
    assert isinstance(trimesh.load(tmp_path / "noext", file_type="ply", process=False), trimesh.Trimesh)
    with pytest.raises(SpatialEvoError, match="ends in .glb"):
        _cli(["scene", "export", str(src), "--out", str(tmp_path / "x.glb"), "--format", "ply"])
    assert not (tmp_path / "x.glb").exists()


def test_view_without_rerun_says_which_extra(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "rerun", None)  # import rerun -> ImportError
    from spatialevo.scene.rerunview import view_scene

    s = load_scene(bundled_scene_paths()[0])
    with pytest.raises(SpatialEvoError) as err:
        view_scene(s, save=tmp_path / "x.rrd")
    assert str(err.value) == "spatialevo scene view needs the 'rerun' extra: pip install 'spatialevo[rerun]'"
    with pytest.raises(SpatialEvoError, match=r"spatialevo\[rerun\]"):
        _cli(["scene", "view", str(bundled_scene_paths()[0]), "--save", str(tmp_path / "x.rrd")])
    assert not (tmp_path / "x.rrd").exists()


def test_view_writes_a_recording(tmp_path, capsys):
    rr = pytest.importorskip("rerun", reason="rerun-sdk is not installed (the optional 'rerun' extra)")
    src = bundled_scene_paths()[0]
    out = tmp_path / "room.rrd"
    assert _cli(["scene", "view", str(src), "--save", str(out), "--every", "4"]) == 0
    assert "room.rrd" in capsys.readouterr().out
    assert out.read_bytes()[:4] == b"RRF2" and not list(tmp_path.glob(".*.tmp"))
    (tmp_path / "file.txt").write_text("not a folder")
    with pytest.raises(SpatialEvoError, match="cannot write"):
        _cli(["scene", "view", str(src), "--save", str(tmp_path / "file.txt" / "x.rrd")])
    with pytest.raises(SpatialEvoError, match="no frame 'nope'"):
        _cli(["scene", "view", str(src), "--save", str(out), "--frames", "nope"])
    try:
        from rerun.chunk import RrdReader  # rerun-sdk >= 0.32
    except ImportError:
        return print(f"rerun-sdk {rr.__version__}: no RrdReader to read the recording back; checked the file header only")
    schema = str(RrdReader(str(out)).store().schema())
    for column in ("/world/mesh:Mesh3D:vertex_positions", "/world/boxes:Boxes3D:half_sizes", "/world/boxes:Boxes3D:quaternions",
                   "/world/camera:Transform3D:translation", "/world/camera/rgb:Pinhole:image_from_camera",
                   "/world/camera/rgb:Image:buffer", "/world/camera/depth:DepthImage:buffer", "/world/trajectory:LineStrips3D:strips"):
        assert column in schema, column


def test_scene_without_object_points_exports_its_point_cloud(scene, tmp_path):
    import open3d as o3d

    from spatialevo.scene import ObjectInstance

    cloud = np.concatenate([o.points for o in scene.objects])
    colours = np.tile(np.array([10, 20, 30], np.uint8), (len(cloud), 1))
    objs = [ObjectInstance(o.id, o.label, o.box) for o in scene.objects]
    s = Scene("cloud", objs, [], None, points=cloud, point_colors=colours)
    export_scene(s, tmp_path / "cloud.ply")
    pc = o3d.io.read_point_cloud(str(tmp_path / "cloud.ply"))
    assert len(pc.points) == len(cloud) + 8 * len(objs)
    np.testing.assert_array_equal(np.asarray(pc.points)[: len(cloud)], cloud)
    np.testing.assert_allclose(np.asarray(pc.colors)[: len(cloud)] * 255, colours, atol=1e-6)


def test_written_files_get_ordinary_permissions_and_failures_leave_nothing(tmp_path) -> None:
    """Exports and pictures are written through one atomic helper: the file gets 0666 less the
    umask (not mkstemp's private 0600), and an error mid-write leaves neither a temporary file nor a
    changed target."""
    import os

    from spatialevo.scene.imageio import atomic_file

    scene = load_scene(bundled_scene_paths()[0])
    out = export_scene(scene, tmp_path / "s.glb")
    mask = os.umask(0o022)
    os.umask(mask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~mask
    (tmp_path / "keep.png").write_bytes(b"old")
    with pytest.raises(KeyboardInterrupt):
        with atomic_file(tmp_path / "keep.png") as fh:
            fh.write(b"new, partial")
            raise KeyboardInterrupt
    assert (tmp_path / "keep.png").read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.png", "s.glb"]
