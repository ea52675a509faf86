"""Label vocabularies: tables, ScanNet's tsv, relabelling, and what the DGE answers in each vocabulary."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from fixtures import write_scannet

from spatialevo.dge import DGE
from spatialevo.dge.question import Question
from spatialevo.errors import SceneFileNotFoundError, SceneFormatError, SpatialEvoError
from spatialevo.scene import NO_HIT
from spatialevo.scene.cache import load_cache, save_cache
from spatialevo.scene.labels import (
    SCANNET_TSV,
    VOCABULARIES,
    LabelMap,
    ScanNetTable,
    categories,
    category_ids,
    category_names,
)
from spatialevo.scene.loaders import load_scene

#: raw ScanNet labels of the fixture (as scene0000_00 has them) and where ScanNet's tsv sends them
RAW = ["couch", "trashcan", "tv", "office chair", "chair", "xyzzy widget"]
TSV_ROWS = {  # raw_category: (category, nyu40class)
    "couch": ("couch", "sofa"),
    "trashcan": ("trash can", "otherprop"),
    "tv": ("tv", "television"),
    "office chair": ("office chair", "chair"),
    "chair": ("chair", "chair"),
}
_BOXES = [([0.8, 0.8, 0.4], [1.8, 0.9, 0.8]), ([2.2, 0.4, 0.2], [0.3, 0.3, 0.4]), ([3.0, 2.5, 0.9], [1.0, 0.1, 0.6]),
          ([1.5, 2.0, 0.5], [0.5, 0.5, 1.0]), ([2.6, 1.6, 0.45], [0.5, 0.5, 0.9]), ([0.6, 2.6, 0.3], [0.4, 0.4, 0.6])]
OBJECTS = [{"label": raw, "raw": raw, "center": c, "extents": e, "yaw": 10.0 * k} for k, (raw, (c, e)) in enumerate(zip(RAW, _BOXES))]


def write_tsv(path, rows=TSV_ROWS):
    """A ``scannetv2-labels.combined.tsv`` with ScanNet's real header (the columns the package reads and others)."""
    ids = {name: i for i, name in category_ids("scannet200").items()}
    lines = ["id\traw_category\tcategory\tcount\tnyu40id\teigen13id\tnyuClass\tnyu40class\teigen13class"]
    for k, (raw, (cat, nyu)) in enumerate(rows.items()):
        nyu_id = category_names("nyu40").index(nyu) + 1
        lines.append(f"{ids.get(cat, 5000 + k)}\t{raw}\t{cat}\t10\t{nyu_id}\t0\t{nyu}\t{nyu}\tx")
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def scan(tmp_path):
    fx = write_scannet(tmp_path / "scans", objects=OBJECTS)
    write_tsv(tmp_path / SCANNET_TSV)  # at the top of the download, two folders above the scan
    return fx


def q(task, objects, params=None):
    return Question(task, tuple(objects), (), params or {})


def test_tables_have_their_sizes_and_sources():
    assert len(category_names("nyu40")) == 40 and category_names("nyu40")[0] == "wall" and category_names("nyu40")[-1] == "otherprop"
    assert len(category_names("scannet20")) == 20
    assert len(category_names("scannet200")) == len(set(category_names("scannet200"))) == 200
    assert len(category_ids("scannet200")) == 200
    assert set(category_names("scannet20")) - {"refrigerator", "shower curtain", "otherfurniture"} <= set(category_names("nyu40")) | {
        "refrigerator"}
    for ds in ("scannet", "scannetpp", "arkitscenes"):
        assert categories("vsibench", ds), ds
    assert categories("vsibench") == categories("vsibench", "scannet") | categories("vsibench", "scannetpp") | categories(
        "vsibench", "arkitscenes")


def test_raw_keeps_todays_labels(scan):
    assert sorted(o.label for o in load_scene(scan.path).objects) == sorted(RAW)
    assert sorted(o.label for o in load_scene(scan.path, labels="raw").objects) == sorted(RAW)


def test_vsibench_vocabulary_answers_public_category_questions(scan):
    scene = load_scene(scan.path, labels="vsibench")
    table = LabelMap("vsibench", "scannet", ScanNetTable.read(scan.path.parent.parent / SCANNET_TSV))
    expected = {raw: table.map(raw) for raw in RAW}
    assert expected["couch"] == "sofa" and expected["trashcan"] == "trash bin" and expected["tv"] == "tv"
    assert expected["xyzzy widget"] is None
    assert sorted(o.label for o in scene.objects) == sorted(c for c in expected.values() if c is not None)
    dge = DGE(scene)
    assert dge.evaluate(q("object_size", ["sofa"])).valid
    assert dge.evaluate(q("object_size", ["trash bin"])).valid
    assert dge.evaluate(q("object_size", ["couch"])).reason == "label_absent"
    assert dge.evaluate(q("object_size", ["xyzzy widget"])).reason == "label_absent"
    chairs = sum(1 for c in expected.values() if c == "chair")
    assert dge.evaluate(q("object_counting", ["chair"])).answer == chairs
    # the unmapped object is gone from the objects but its surface stays (unlabelled, still occluding)
    gone = [o for o in scan.objects if o["raw"] == "xyzzy widget"][0]["id"]
    assert [u["id"] for u in scene.meta["unmapped_objects"]] == [gone]
    assert gone not in scene.mesh.face_object_ids and (scene.mesh.face_object_ids == NO_HIT).sum() == 12
    assert scene.meta["labels"] == "vsibench" and scene.meta["raw_labels"][str(scan.objects[0]["id"])] == "couch"


def test_office_chairs_count_as_chairs_when_the_table_says_so(scan):
    table = LabelMap("vsibench", "scannet", ScanNetTable.read(scan.path.parent.parent / SCANNET_TSV))
    scene = load_scene(scan.path, labels="vsibench")
    assert table.map("office chair") == "chair"  # vsibench-scannet.map.tsv: office chair -> chair (NYU-40 class chair)
    assert DGE(scene).evaluate(q("object_counting", ["chair"])).answer == 2
    assert load_scene(scan.path).labels()["chair"] == 1  # raw: the office chair is not a chair


def test_nyu40_and_scannet200_follow_scannets_tsv(scan):
    nyu = load_scene(scan.path, labels="nyu40")
    assert sorted(o.label for o in nyu.objects) == sorted(["sofa", "otherprop", "television", "chair", "chair"])
    s200 = load_scene(scan.path, labels="scannet200")
    names = set(category_names("scannet200"))
    assert sorted(o.label for o in s200.objects) == sorted(c for c, _ in TSV_ROWS.values() if c in names)


def test_tsv_given_by_path_and_missing_tsv(tmp_path):
    fx = write_scannet(tmp_path / "a", objects=OBJECTS)
    with pytest.raises(SceneFileNotFoundError, match=SCANNET_TSV):
        load_scene(fx.path, labels="vsibench")
    elsewhere = write_tsv(tmp_path / "tables.tsv")
    assert {o.label for o in load_scene(fx.path, labels="vsibench", label_map=elsewhere).objects} >= {"sofa", "trash bin"}
    bad = tmp_path / "bad.tsv"
    bad.write_text("id\traw\n1\tchair\n")
    with pytest.raises(SceneFormatError, match="raw_category"):
        load_scene(fx.path, labels="nyu40", label_map=bad)


def test_unknown_vocabulary_and_cache_round_trip(scan, tmp_path):
    with pytest.raises(SpatialEvoError, match="unknown label vocabulary 'vsi'"):
        load_scene(scan.path, labels="vsi")
    assert "vsibench" in VOCABULARIES
    cached = save_cache(load_scene(scan.path, labels="vsibench"), tmp_path / "c.npz")
    back = load_cache(cached)
    assert back.meta["labels"] == "vsibench" and sorted(o.label for o in back.objects) == sorted(
        o.label for o in load_scene(scan.path, labels="vsibench").objects)
    assert load_scene(cached, labels="vsibench").labels() == back.labels()
    with pytest.raises(SpatialEvoError, match="cannot be relabelled"):
        load_scene(cached, labels="nyu40")
    raw_cache = save_cache(load_scene(scan.path), tmp_path / "scans" / "raw.npz")  # beside the scans: the tsv is found
    assert load_scene(raw_cache, labels="vsibench").labels() == back.labels()


def test_synthetic_scene_in_vsibench(tmp_path):
    from spatialevo.synthetic import generate_room, room_config

    scene = generate_room(0, room_config(n_frames=2, width=64, height=48))
    from spatialevo.scene.labels import relabel

    out = relabel(scene, LabelMap("vsibench"))
    cats = categories("vsibench")
    assert all(o.label in cats for o in out.objects)
    assert len(out.objects) + len(out.meta["unmapped_objects"]) == len(scene.objects)
    assert np.array_equal(out.mesh.vertices, scene.mesh.vertices)  # geometry untouched


def test_round_and_generate_take_the_vocabulary(scan, tmp_path):
    import gymnasium as gym

    import spatialevo.env  # noqa: F401  (registers SpatialEvo-v0)
    from spatialevo.generate import GenerateConfig, generate
    from spatialevo.selfplay import Round, RoundConfig

    rnd = Round(scan.path.parent, RoundConfig(labels="vsibench"))
    assert "sofa" in rnd.scene(rnd.names[0]).labels() and "couch" not in rnd.scene(rnd.names[0]).labels()
    env = gym.make("SpatialEvo-v0", scenes=str(scan.path.parent), round_config={"labels": "vsibench"})
    env.reset(seed=0)
    assert "couch" not in env.unwrapped.round.scene(rnd.names[0]).labels()
    env.close()
    with pytest.raises(SpatialEvoError, match="round.labels"):
        RoundConfig(labels="vsi")
    cfg = GenerateConfig(out=tmp_path / "qa", scenes=str(scan.path.parent), tasks=("object_size",), per_task=2, images=False,
                         round=RoundConfig(labels="vsibench"))
    generate(cfg, progress=False)
    with pytest.raises(SpatialEvoError, match="labels \\(round option\\): vsibench there, None here"):
        generate(dataclasses.replace(cfg, round=RoundConfig()), progress=False)


def test_scannets_tsv_maps_scannet_scans_only_and_unlisted_labels_go_on(scan, tmp_path):
    from fixtures import write_arkitscenes

    ark = write_arkitscenes(tmp_path / "ark")
    tsv = scan.path.parent.parent / SCANNET_TSV
    assert load_scene(ark.path, labels="nyu40", label_map=tsv).labels() == load_scene(ark.path, labels="nyu40").labels()
    table = LabelMap("nyu40", "scannet", ScanNetTable.read(tsv))
    assert table.map("couch") == "sofa" and table.map("television") == "television"  # unlisted, itself a category
    assert LabelMap("nyu40", "scannet", ScanNetTable.read(tsv)).map("xyzzy widget") is None
