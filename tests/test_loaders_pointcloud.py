"""Point-cloud scene loaders: Pointcept scene folders and VoteNet / mmdetection3d / ScanRefer ScanNet exports.

Fixtures are written in the native formats with known geometry: four yawed boxes sampled on their
surface (a grid per face, corners included, so the minimal box of the points is the generating
box), wall / floor / ceiling planes, an instance without a class and unlabelled clutter.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from fixtures import box_corners, rigid, yaw_matrix

from spatialevo.errors import SceneFileNotFoundError, SceneFormatError, SpatialEvoError
from spatialevo.scene.loaders import pointcept, votenet
from spatialevo.scene.model import normalize_label

TOL = 1e-3  # 1 mm
SID = "scene0000_00"
#: (centre, full extents, yaw in degrees about +z), world frame, metres; object ids 3..6.
BOXES = [
    ([1.0, 1.0, 0.4], [0.5, 0.6, 0.8], 30.0),
    ([2.5, 1.6, 0.375], [1.2, 0.8, 0.75], 0.0),
    ([3.3, 0.5, 0.2], [0.3, 0.25, 0.4], -20.0),
    ([0.8, 2.4, 0.9], [0.4, 0.35, 1.8], 75.0),
]
LABELS = ["chair", "table", "trash bin", "lamp"]
FIRST_OBJECT_ID, UNLABELLED_ID = 3, 7  # ids 0, 1, 2 = wall, floor, ceiling
A_SCAN = rigid(35.0, [-1.2, 0.7, 0.05])  # axisAlignment: raw scan frame -> world

FAKE_TABLES = {
    "scannet200": ["wall", "chair", "floor", "table", "door", "ceiling", "trash bin", "lamp"],
    "scannet20": ["wall", "floor", "cabinet", "chair", "sofa", "table", "bookshelf", "otherfurniture"],  # no ceiling
    "scannetpp": ["wall", "floor", "ceiling", "chair", "table", "trash bin", "lamp", "cup"],
}
NYU40_IDS = {"wall": 1, "floor": 2, "chair": 5, "table": 7, "ceiling": 22, "box": 29, "lamp": 35}
FAKE_TABLES["nyu40"] = [next((k for k, v in NYU40_IDS.items() if v == i), f"class {i}") for i in range(1, 41)]
NYU_LABELS = ["chair", "table", "box", "lamp"]


# -- geometry ---------------------------------------------------------------------------------------
def box_surface(center, extents, yaw, k: int = 5) -> np.ndarray:
    """Points on the six faces of a box, a k x k grid per face (corners and edges included)."""
    g = np.linspace(-1.0, 1.0, k)
    u, v = (a.ravel() for a in np.meshgrid(g, g))
    faces = []
    for axis in range(3):
        others = [a for a in range(3) if a != axis]
        for s in (-1.0, 1.0):
            p = np.empty((len(u), 3))
            p[:, axis], p[:, others[0]], p[:, others[1]] = s, u, v
            faces.append(p)
    local = np.unique(np.concatenate(faces), axis=0)
    return np.asarray(center, float) + (local * np.asarray(extents, float) / 2) @ yaw_matrix(yaw).T


def plane(x, y, z) -> np.ndarray:
    """Grid points of an axis-aligned rectangle (one of x, y, z is a scalar)."""
    axes = [np.atleast_1d(np.asarray(a, float)) for a in (x, y, z)]
    return np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)


def cloud(labels: list[str]) -> tuple[np.ndarray, np.ndarray, list[str | None]]:
    """World points (N, 3), ScanNet object id per point (-1 = none), and the label of each point's instance."""
    gx, gy, gz = np.linspace(0, 4, 9), np.linspace(0, 3, 7), np.linspace(0, 2.5, 6)
    parts = [(0, "wall", plane(gx, 3.0, gz)), (1, "floor", plane(gx, gy, 0.0)), (2, "ceiling", plane(gx, gy, 2.5))]
    parts += [(FIRST_OBJECT_ID + k, lab, box_surface(*b)) for k, (b, lab) in enumerate(zip(BOXES, labels, strict=True))]
    parts += [(UNLABELLED_ID, None, box_surface([2.0, 0.5, 1.0], [0.2, 0.2, 0.2], 0.0, k=3))]
    parts += [(-1, None, np.random.default_rng(0).uniform([0, 0, 0], [4, 3, 2.5], size=(20, 3)))]
    pts = np.concatenate([p for _, _, p in parts])
    ids = np.concatenate([np.full(len(p), i) for i, _, p in parts])
    labs = [lab for _, lab, p in parts for _ in range(len(p))]
    return pts, ids, labs


def class_index(labs: list[str | None], names: list[str]) -> np.ndarray:
    return np.array([names.index(lab) if lab in names else -1 for lab in labs], dtype=np.int64)


def inverse(T: np.ndarray) -> np.ndarray:
    return np.linalg.inv(T)


def apply(T: np.ndarray, pts: np.ndarray) -> np.ndarray:
    return pts @ T[:3, :3].T + T[:3, 3]


def colors(n: int) -> np.ndarray:
    return (np.arange(3 * n).reshape(n, 3) % 256).astype(np.uint8)


def assert_same_corners(actual: np.ndarray, expected: np.ndarray) -> None:
    d = np.linalg.norm(actual[:, None, :] - expected[None, :, :], axis=2)
    assert d.min(axis=0).max() < TOL and d.min(axis=1).max() < TOL, d


def check_boxes(scene, labels: list[str]) -> None:
    """The four known objects, ids 3..6, with their labels and boxes (1 mm)."""
    assert sorted(o.id for o in scene.objects) == list(range(FIRST_OBJECT_ID, FIRST_OBJECT_ID + len(BOXES)))
    for k, ((c, e, yaw), lab) in enumerate(zip(BOXES, labels, strict=True)):
        obj = scene.object(FIRST_OBJECT_ID + k)
        assert obj.label == normalize_label(lab)
        np.testing.assert_allclose(obj.box.center, c, atol=TOL)
        np.testing.assert_allclose(np.sort(obj.box.extents), np.sort(e), atol=TOL)
        assert_same_corners(obj.box.corners(), box_corners(c, e, yaw))


# -- writers ----------------------------------------------------------------------------------------
def write_pointcept(folder: Path, tables: dict, labels=LABELS, *, segments=("segment200.npy",), A=None) -> Path:
    """A Pointcept ScanNet scene folder (raw frame = A^-1 world when ``A`` is given, with ``<scene>.txt``)."""
    folder.mkdir(parents=True, exist_ok=True)
    pts, ids, labs = cloud(labels)
    raw = pts if A is None else apply(inverse(A), pts)
    np.save(folder / "coord.npy", raw.astype(np.float32))
    np.save(folder / "color.npy", colors(len(pts)))
    np.save(folder / "normal.npy", np.zeros((len(pts), 3), np.float32))
    np.save(folder / "instance.npy", ids.astype(np.int64))
    for seg in segments:
        vocab = dict(pointcept.SEGMENT_FILES)[seg]
        np.save(folder / seg, class_index(labs, tables[vocab]))
    if A is not None:
        (folder / f"{folder.name}.txt").write_text("colorHeight = 968\naxisAlignment = " + " ".join(repr(float(v)) for v in A.ravel()) + "\n")
    return folder


def write_export(folder: Path, sid: str = SID, *, variant: str = "votenet", labels=NYU_LABELS, names=None,
                 subsample: int | None = None, all_boxes: bool = False) -> Path:
    """One scene of a VoteNet / mmdet3d / ScanRefer export; returns ``<sid>_vert.npy``.

    The box files hold the detection classes only, as the exporters write them; with ``all_boxes``
    also the structure and unannotated instances (the exporters' boxes before their class filter).
    """
    folder.mkdir(parents=True, exist_ok=True)
    names = names or FAKE_TABLES["nyu40"]
    world, ids, labs = cloud(labels)
    sem = class_index(labs, names) + 1  # nyu40 id, 0 = unannotated
    ins = (ids + 1).astype(np.uint32)  # objectId + 1, 0 = none
    raw = world if variant == "votenet" else apply(inverse(A_SCAN), world)
    cols = [raw, colors(len(raw))] + ([np.zeros_like(raw)] if variant == "scanrefer" else [])
    vert = np.hstack(cols).astype(np.float32)
    boxes = {}
    for frame, pts in (("world", world), ("raw", raw)):
        rows = []
        for i in np.unique(ids[ids >= 0]):
            if sem[ids == i][0] in (0, 1, 2, 22) and not all_boxes:
                continue
            p = pts[ids == i]
            lo, hi = p.min(0), p.max(0)
            rows.append([*(lo + hi) / 2, *(hi - lo), sem[ids == i][0]] + ([i] if variant == "scanrefer" else []))
        boxes[frame] = np.array(rows)
    keep = np.sort(np.random.default_rng(1).choice(len(vert), subsample, replace=False)) if subsample else slice(None)
    p = folder / sid
    np.save(f"{p}_vert.npy", vert[keep])
    np.save(f"{p}_sem_label.npy", sem[keep].astype(np.uint32))
    np.save(f"{p}_ins_label.npy", ins[keep])
    if variant == "votenet":
        np.save(f"{p}_bbox.npy", boxes["world"])
    elif variant == "mmdet3d":
        np.save(f"{p}_axis_align_matrix.npy", A_SCAN)
        np.save(f"{p}_aligned_bbox.npy", boxes["world"])
        np.save(f"{p}_unaligned_bbox.npy", boxes["raw"])
    else:  # scanrefer: _bbox.npy in the raw frame, with objectId
        aligned = vert.copy()
        aligned[:, :3] = world
        np.save(f"{p}_aligned_vert.npy", aligned[keep])
        np.save(f"{p}_bbox.npy", boxes["raw"])
    return Path(f"{p}_vert.npy")


@pytest.fixture
def fake_tables(monkeypatch):
    monkeypatch.setattr(pointcept, "_names", FAKE_TABLES.__getitem__)
    monkeypatch.setattr(votenet, "_names", FAKE_TABLES.__getitem__)
    return FAKE_TABLES


def real_category_names():
    labels = pytest.importorskip("spatialevo.scene.labels", reason="spatialevo.scene.labels (category tables) is not in the package yet")
    return labels.category_names


# -- Pointcept ----------------------------------------------------------------------------------------
def test_pointcept_scannet200(tmp_path, fake_tables):
    folder = write_pointcept(tmp_path / SID, fake_tables, segments=("segment200.npy", "segment20.npy"))
    scene = pointcept.load(folder)
    check_boxes(scene, LABELS)
    assert scene.scene_id == SID and scene.mesh is None and scene.frames == []
    n = len(cloud(LABELS)[0])
    assert scene.points.shape == (n, 3) and scene.point_colors.dtype == np.uint8
    np.testing.assert_array_equal(scene.point_colors, colors(n))
    m = scene.meta
    assert (m["layout"], m["segment"], m["class_table"], m["axis_alignment"]) == ("pointcept", "segment200.npy", "scannet200", None)
    assert m["structure_objects"] == [{"id": 0, "label": "wall"}, {"id": 1, "label": "floor"}, {"id": 2, "label": "ceiling"}]
    assert [s["id"] for s in m["skipped_objects"]] == [UNLABELLED_ID]


def test_pointcept_scannet20_only(tmp_path, fake_tables):
    labels = ["chair", "table", "sofa", "bookshelf"]
    scene = pointcept.load(write_pointcept(tmp_path / SID, fake_tables, labels, segments=("segment20.npy",)))
    check_boxes(scene, labels)
    assert scene.meta["segment"] == "segment20.npy"
    assert [s["id"] for s in scene.meta["structure_objects"]] == [0, 1]
    assert [s["id"] for s in scene.meta["skipped_objects"]] == [2, UNLABELLED_ID]  # no ceiling class in ScanNet20


def test_pointcept_applies_axis_alignment(tmp_path, fake_tables):
    scene = pointcept.load(write_pointcept(tmp_path / SID, fake_tables, A=A_SCAN))
    check_boxes(scene, LABELS)
    np.testing.assert_allclose(scene.meta["axis_alignment"], A_SCAN, atol=1e-12)
    assert abs(scene.points[:, 2].min()) < 1e-6  # the floor is at z = 0 in the world frame


def test_pointcept_scannetpp_top3_columns(tmp_path, fake_tables):
    """ScanNet++ (N, 3) labels: an instance's points are gathered from every column."""
    folder = write_pointcept(tmp_path / "0a5c013435", fake_tables, segments=())
    _, ids, labs = cloud(LABELS)
    coord = np.load(folder / "coord.npy")
    names = fake_tables["scannetpp"]
    inst, seg = np.full((len(ids), 3), -1), np.full((len(ids), 3), -1)
    inst[:, 0], seg[:, 0] = ids, class_index(labs, names)
    c, e, yaw = BOXES[0]
    top = (ids == FIRST_OBJECT_ID) & np.isclose(coord[:, 2], c[2] + e[2] / 2, atol=1e-6)
    inst[top, 1], seg[top, 1] = inst[top, 0], seg[top, 0]  # the chair's top face: also in column 1 ...
    inst[top, 0], seg[top, 0] = 8, names.index("cup")  # ... column 0 holds a cup lying on it
    np.save(folder / "instance.npy", inst.astype(np.int16))
    np.save(folder / "segment.npy", seg.astype(np.int16))
    scene = pointcept.load(folder)
    assert scene.meta["segment"] == "segment.npy" and scene.meta["class_table"] == "scannetpp"
    cup = scene.object(8)
    scene.objects.remove(cup)
    check_boxes(scene, LABELS)
    assert cup.label == "cup"
    assert_same_corners(cup.box.corners(), box_corners([c[0], c[1], c[2] + e[2] / 2], [e[0], e[1], 0.0], yaw))


def test_pointcept_real_tables(tmp_path):
    category_names = real_category_names()
    s200, s20 = category_names("scannet200"), category_names("scannet20")
    assert s200[:4] == ["wall", "chair", "floor", "table"] and s200[35] == "ceiling"  # Pointcept's CLASS_LABELS_200
    assert s20[:2] == ["wall", "floor"] and s20[4] == "chair" and s20[6] == "table"  # CLASS_LABELS_20
    tables = {"scannet200": s200, "scannet20": s20}
    labels = ["chair", "table", "bed", "bookshelf"]
    for seg in ("segment200.npy", "segment20.npy"):
        scene = pointcept.load(write_pointcept(tmp_path / seg / SID, tables, labels, segments=(seg,)))
        check_boxes(scene, labels)
        assert {s["label"] for s in scene.meta["structure_objects"]} >= {"wall", "floor"}


def test_pointcept_detect(tmp_path, fake_tables):
    folder = write_pointcept(tmp_path / SID, fake_tables)
    assert pointcept.detect(folder) and not votenet.detect(folder)
    assert not pointcept.detect(folder / "coord.npy") and not pointcept.detect(tmp_path / "missing")
    (folder / "instance.npy").unlink()
    assert not pointcept.detect(folder)


# -- VoteNet / mmdetection3d / ScanRefer --------------------------------------------------------------
@pytest.mark.parametrize("variant", ["votenet", "mmdet3d", "scanrefer"])
def test_export_variants(tmp_path, fake_tables, variant):
    vert = write_export(tmp_path, variant=variant)
    scene = votenet.load(vert)
    check_boxes(scene, NYU_LABELS)
    m = scene.meta
    assert scene.scene_id == SID and m["layout"] == "votenet" and m["variant"] == variant and m["class_table"] == "nyu40"
    assert (m["axis_alignment"] is not None) == (variant == "mmdet3d")
    assert [s["id"] for s in m["structure_objects"]] == [0, 1, 2] and [s["id"] for s in m["skipped_objects"]] == [UNLABELLED_ID]
    assert m["bbox_check"] and all(c["boxes"] == c["enclosing"] == c["exact"] == len(BOXES) for c in m["bbox_check"])
    assert abs(scene.points[:, 2].min()) < 1e-6 and scene.point_colors.shape == (len(scene.points), 3)


def test_export_subsampled_points_still_pass_the_box_check(tmp_path, fake_tables):
    scene = votenet.load(write_export(tmp_path, variant="mmdet3d", subsample=600))
    assert len(scene.points) == 600 and len(scene.objects) == len(BOXES)
    assert all(c["enclosing"] == c["boxes"] for c in scene.meta["bbox_check"])


def test_export_box_rows_of_structure_and_unannotated_instances_are_not_checked(tmp_path, fake_tables):
    vert = write_export(tmp_path, variant="votenet", all_boxes=True)
    assert len(np.load(vert.with_name(f"{SID}_bbox.npy"))) == len(BOXES) + 4
    assert votenet.load(vert).meta["bbox_check"] == [{"file": f"{SID}_bbox.npy", "boxes": 4, "enclosing": 4, "exact": 4}]


def test_export_folder_with_one_or_several_scenes(tmp_path, fake_tables):
    write_export(tmp_path / "one", variant="scanrefer")
    assert votenet.load(tmp_path / "one").scene_id == SID
    assert votenet.load(tmp_path / "one" / f"{SID}_aligned_vert.npy").meta["variant"] == "scanrefer"
    for sid in ("scene0002_00", "scene0001_00"):
        write_export(tmp_path / "many", sid)
    assert [p.name for p in votenet.list_scenes(tmp_path / "many")] == ["scene0001_00_vert.npy", "scene0002_00_vert.npy"]
    assert [p.name for p in votenet.list_scenes(tmp_path / "one")] == [f"{SID}_vert.npy"]
    with pytest.raises(SceneFormatError, match=r"2 scenes .*pass one <scene>_vert.npy"):
        votenet.load(tmp_path / "many")
    assert votenet.load(tmp_path / "many" / "scene0002_00_vert.npy").scene_id == "scene0002_00"


def test_export_real_nyu40_table(tmp_path):
    names = real_category_names()("nyu40")
    assert len(names) == 40 and [names[i - 1] for i in (1, 2, 5, 7, 22)] == ["wall", "floor", "chair", "table", "ceiling"]
    labels = ["chair", "table", "bed", "lamp"]
    check_boxes(votenet.load(write_export(tmp_path, variant="mmdet3d", labels=labels, names=names)), labels)


def test_export_detect(tmp_path, fake_tables):
    vert = write_export(tmp_path / "x", variant="scanrefer")
    assert votenet.detect(vert) and votenet.detect(vert.parent) and votenet.detect(vert.with_name(f"{SID}_aligned_vert.npy"))
    assert not votenet.detect(vert.with_name(f"{SID}_sem_label.npy")) and not pointcept.detect(vert.parent)
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "_vert.npy").write_bytes(b"")
    assert not votenet.detect(tmp_path / "empty") and not votenet.detect(tmp_path / "missing_vert.npy")


def test_export_boxes_in_another_frame_are_refused(tmp_path, fake_tables):
    vert = write_export(tmp_path, variant="mmdet3d")
    np.save(vert.with_name(f"{SID}_axis_align_matrix.npy"), np.eye(4))
    err = _fails(votenet.load, vert, SceneFormatError, f"{SID}_aligned_bbox.npy", "aligned_bbox", "different frames")
    assert "0 of 4" in err.problem
    vert.with_name(f"{SID}_axis_align_matrix.npy").unlink()
    _fails(votenet.load, vert, SceneFileNotFoundError, f"{SID}_axis_align_matrix.npy", "axis_align_matrix")


# -- bad input ----------------------------------------------------------------------------------------
def _fails(load, path, exc_type, file: str, field: str, *needles: str):
    with pytest.raises(exc_type) as info:
        load(path)
    err = info.value
    assert err.path is not None and err.path.name == file, str(err)
    assert err.field is not None and err.field.startswith(field), str(err)
    for needle in needles:
        assert needle in str(err), (needle, str(err))
    return err


class _Boom:
    """Unpickling this would create a folder: the test checks that it never happens."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (str(self.marker),))


def _n() -> int:
    return len(cloud(LABELS)[0])


POINTCEPT_BAD = [
    ("coord.npy", None, SceneFileNotFoundError, "coord", ""),
    ("instance.npy", None, SceneFileNotFoundError, "instance", ""),
    ("coord.npy", lambda n: np.zeros((n, 2), np.float32), SceneFormatError, "coord", "expected shape (N, 3)"),
    ("coord.npy", lambda n: np.full((n, 3), np.nan, np.float32), SceneFormatError, "coord", "NaN"),
    ("coord.npy", lambda n: np.full((n, 3), 1e9), SceneFormatError, "coord", "exceeds"),
    ("instance.npy", lambda n: np.zeros(n - 1, np.int64), SceneFormatError, "instance", "one row per point"),
    ("instance.npy", lambda n: np.full(n, -5), SceneFormatError, "instance", "[-1, "),
    ("instance.npy", lambda n: np.zeros((n, 4), np.int64), SceneFormatError, "instance", "K <= 3"),
    ("segment200.npy", lambda n: np.zeros(n - 1, np.int64), SceneFormatError, "segment200", "one row per point"),
    ("segment200.npy", lambda n: np.full(n, 8), SceneFormatError, "segment200", "[-1, 7]"),
    ("segment200.npy", lambda n: np.full(n, 1.5), SceneFormatError, "segment200", "whole numbers"),
    ("segment200.npy", lambda n: np.zeros((n, 3), np.int64), SceneFormatError, "segment200", "label column"),
    ("segment200.npy", lambda n: np.zeros(n, bool), SceneFormatError, "segment200", "dtype bool"),
    ("color.npy", lambda n: np.full((n, 3), 300, np.int16), SceneFormatError, "color", "[0, 255]"),
    ("color.npy", lambda n: np.zeros((n, 4), np.uint8), SceneFormatError, "color", "expected shape"),
]


@pytest.mark.parametrize(("file", "make", "exc_type", "field", "needle"), POINTCEPT_BAD)
def test_pointcept_bad_input(tmp_path, fake_tables, file, make, exc_type, field, needle):
    folder = write_pointcept(tmp_path / SID, fake_tables)
    if make is None:
        (folder / file).unlink()
    else:
        np.save(folder / file, make(_n()))
    _fails(pointcept.load, folder, exc_type, file, field, needle)


def test_pointcept_missing_segments_and_unknown_vocabulary(tmp_path, fake_tables, monkeypatch):
    folder = write_pointcept(tmp_path / SID, fake_tables, segments=())
    _fails(pointcept.load, folder, SceneFileNotFoundError, "segment200.npy", "segment", "missing")
    np.save(folder / "segment.npy", np.zeros(_n(), np.int64))
    monkeypatch.setattr(pointcept, "_names", {"scannet200": ["wall"]}.__getitem__)
    _fails(pointcept.load, folder, SceneFormatError, "segment.npy", "segment", "no category table for vocabulary 'scannetpp'")

    def unknown(vocabulary):
        raise SpatialEvoError(f"no class table {vocabulary!r}")

    monkeypatch.setattr(pointcept, "_names", unknown)  # what spatialevo.scene.labels raises
    _fails(pointcept.load, folder, SceneFormatError, "segment.npy", "segment", "no class table 'scannetpp'")
    monkeypatch.setattr(pointcept, "_names", lambda vocabulary: ["chair", ""])
    _fails(pointcept.load, folder, SceneFormatError, "segment.npy", "segment", "not a non-empty list of names")


def test_pointcept_bad_axis_alignment(tmp_path, fake_tables):
    folder = write_pointcept(tmp_path / SID, fake_tables, A=A_SCAN)
    (folder / f"{SID}.txt").write_text("axisAlignment = 1 0 0 0 0 1 0 0 0 0 1 0 0 0 0\n")
    _fails(pointcept.load, folder, SceneFormatError, f"{SID}.txt", "axisAlignment", "16 numbers")
    (folder / f"{SID}.txt").write_text("axisAlignment = 2 0 0 0 0 1 0 0 0 0 1 0 0 0 0 1\n")
    _fails(pointcept.load, folder, SceneFormatError, f"{SID}.txt", "axisAlignment", "rotation")


@pytest.mark.parametrize("loader", ["pointcept", "votenet"])
def test_pickled_arrays_are_refused_never_unpickled(tmp_path, fake_tables, loader):
    marker = tmp_path / "unpickled"
    if loader == "pointcept":
        path = write_pointcept(tmp_path / SID, fake_tables)
        target, load, field = path / "coord.npy", pointcept.load, "coord"
    else:
        path = write_export(tmp_path / "export")
        target, load, field = path, votenet.load, "vert"
    np.save(target, np.array([_Boom(marker)] * 3, dtype=object), allow_pickle=True)
    _fails(load, path, SceneFormatError, target.name, field, "unsupported dtype object")
    assert not marker.exists()
    target.write_bytes(b"\x80\x04K\x01.")  # a bare pickle, not a .npy file
    _fails(load, path, SceneFormatError, target.name, field, "not a .npy array")
    np.save(target, np.zeros((_n(), 6), np.float32))
    target.write_bytes(target.read_bytes()[:-12])  # truncated: the header claims more bytes
    _fails(load, path, SceneFormatError, target.name, field, "header claims")
    assert not marker.exists()


EXPORT_BAD = [
    ("_sem_label.npy", None, SceneFileNotFoundError, "sem_label", ""),
    ("_ins_label.npy", None, SceneFileNotFoundError, "ins_label", ""),
    ("_vert.npy", lambda n: np.zeros((n, 4), np.float32), SceneFormatError, "vert", "(N, 6)"),
    ("_vert.npy", lambda n: np.full((n, 6), np.inf, np.float32), SceneFormatError, "vert xyz", "infinite"),
    ("_vert.npy", lambda n: np.full((n, 6), 999.0, np.float32), SceneFormatError, "rgb", "[0, 255]"),
    ("_sem_label.npy", lambda n: np.full(n, 41, np.uint32), SceneFormatError, "sem_label", "[0, 40]"),
    ("_sem_label.npy", lambda n: np.full(n, 1191, np.uint32), SceneFormatError, "sem_label", "ScanNet200 exports"),
    ("_sem_label.npy", lambda n: np.full(n, -1, np.int64), SceneFormatError, "sem_label", "[0, "),
    ("_sem_label.npy", lambda n: np.zeros((n, 2), np.uint32), SceneFormatError, "sem_label", "expected shape (N,)"),
    ("_ins_label.npy", lambda n: np.zeros(n + 1, np.uint32), SceneFormatError, "ins_label", "one row per point"),
    ("_ins_label.npy", lambda n: np.full(n, -1, np.int64), SceneFormatError, "ins_label", "[0, "),
    ("_axis_align_matrix.npy", lambda n: np.eye(3), SceneFormatError, "axis_align_matrix", "expected shape (4, 4)"),
    ("_axis_align_matrix.npy", lambda n: np.diag([2.0, 1, 1, 1]), SceneFormatError, "axis_align_matrix", "rotation"),
    ("_aligned_bbox.npy", lambda n: np.zeros((4, 5)), SceneFormatError, "aligned_bbox", "(K, 7)"),
    ("_aligned_bbox.npy", lambda n: np.full((4, 7), 41.0), SceneFormatError, "aligned_bbox[:, 6]", "[0, 40]"),
]


@pytest.mark.parametrize(("suffix", "make", "exc_type", "field", "needle"), EXPORT_BAD)
def test_export_bad_input(tmp_path, fake_tables, suffix, make, exc_type, field, needle):
    vert = write_export(tmp_path, variant="mmdet3d")
    target = vert.with_name(SID + suffix)
    n = len(np.load(vert))
    if make is None:
        target.unlink()
    else:
        np.save(target, make(n))
    _fails(votenet.load, vert, exc_type, target.name, field, needle)


def test_export_bad_paths(tmp_path, fake_tables):
    vert = write_export(tmp_path / "x", variant="scanrefer")
    np.save(vert.with_name(f"{SID}_aligned_vert.npy"), np.zeros((5, 9), np.float32))
    _fails(votenet.load, vert, SceneFormatError, f"{SID}_aligned_vert.npy", "aligned_vert", "N = ")
    _fails(votenet.load, vert.with_name(f"{SID}_sem_label.npy"), SceneFormatError, f"{SID}_sem_label.npy", "vert", "expected a")
    (tmp_path / "empty").mkdir()
    _fails(votenet.load, tmp_path / "empty", SceneFileNotFoundError, "<scene>_vert.npy", "vert")
