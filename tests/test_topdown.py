"""Top-down pictures (metre ticks, legend, frame ids, view directions) and the overlap-free label placement."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from spatialevo import load_scene
from spatialevo.bundled import bundled_scene_paths
from spatialevo.scene.boxes import OrientedBox
from spatialevo.scene.labelplace import MAX_LABELS, boxes_overlap, place_labels
from spatialevo.scene.model import ObjectInstance, Scene
from spatialevo.scene.topdown import PRIORITY_FRAME, TopDown, save_topdown, tick_step, topdown_image
from spatialevo.selfplay.sources import SyntheticSource


def _scene(name: str) -> Scene:
    return load_scene(next(p for p in bundled_scene_paths() if p.stem == name))


def synthetic_1() -> Scene:
    """The L-shaped synthetic room of seed 1 (``synthetic_1`` of the synthetic source), where the lamp stands on the table."""
    src = SyntheticSource(2)
    scene = src.get(1)
    assert scene is not None
    return scene


def crowded_room(n: int = 60, seed: int = 0) -> Scene:
    """``n`` small boxes packed into a 3 x 3 m room (long labels, many near-coincident centres)."""
    rng = np.random.default_rng(seed)
    objs = []
    for i in range(n):
        c = (rng.uniform(0.2, 2.8), rng.uniform(0.2, 2.8), 0.3)
        if i % 5 == 0 and objs:  # every fifth object stands on the previous one (same footprint centre)
            c = (float(objs[-1].box.center[0]), float(objs[-1].box.center[1]), 0.9)
        objs.append(ObjectInstance(i, ("coffee table", "lamp", "book shelf", "plant", "chair")[i % 5], OrientedBox(c, (0.25, 0.2, 0.4))))
    return Scene("crowded", objs, [], floor_polygon=np.array([[0.0, 0.0], [3.0, 0.0], [3.0, 3.0], [0.0, 3.0]]))


def _label_boxes(td: TopDown) -> dict[str, np.ndarray]:
    pl = td.placement
    return {lab.text: pl.boxes[i] for i, lab in enumerate(td._labels) if pl.placed[i]}


def _assert_overlap_free(td: TopDown) -> None:
    pl = td.placement
    boxes = pl.boxes[pl.placed]
    assert not boxes_overlap(boxes).any()
    assert (boxes[:, :2] >= 0).all() and (boxes[:, 2] <= td.width).all() and (boxes[:, 3] <= td.height).all()


# -- placement ----------------------------------------------------------------------------------
def test_place_labels_never_overlaps_and_stays_inside() -> None:
    rng = np.random.default_rng(3)
    anchors = np.r_[np.full((150, 2), 200.0), rng.uniform(0, 600, (150, 2))]  # half of them on one point
    sizes = np.c_[rng.uniform(20, 50, 300), np.full(300, 12.0)]  # 64 % of the free area when padded
    blocked = np.array([[0, 0, 600, 20]])
    pl = place_labels(anchors, sizes, (600, 400), blocked=blocked)
    boxes = pl.boxes[pl.placed]
    assert pl.placed.sum() >= 270  # nearly all fit
    assert not boxes_overlap(boxes).any()
    assert (boxes[:, 0] >= 0).all() and (boxes[:, 2] <= 600).all() and (boxes[:, 1] >= 20).all() and (boxes[:, 3] <= 400).all()
    assert pl.leader[pl.placed].any() and not pl.leader[pl.placed].all()
    again = place_labels(anchors, sizes, (600, 400), blocked=blocked)
    assert np.array_equal(again.boxes, pl.boxes) and np.array_equal(again.placed, pl.placed)  # deterministic


def test_place_labels_priority_and_what_does_not_fit() -> None:
    anchors = np.full((3, 2), 50.0)
    sizes = np.array([[90.0, 20.0], [90.0, 20.0], [500.0, 10.0]])  # the third is wider than the image
    pl = place_labels(anchors, sizes, (100, 30), priority=np.array([0.0, 1.0, 5.0]), pad=0.0)
    assert list(pl.placed) == [False, True, False]  # one of the two fits; the higher priority wins
    assert MAX_LABELS >= 1000


def test_crowded_room_labels_are_all_placed_without_overlap() -> None:
    scene = crowded_room(60)
    td = TopDown(scene, size=700)
    img = td.image()
    _assert_overlap_free(td)
    boxes = _label_boxes(td)
    assert set(boxes) == {o.ref for o in scene.objects}  # every one of the 60 labels is shown
    assert img.size[0] == td.width and img.size[1] > td.height  # the legend strip below


@pytest.mark.parametrize("which", ["synthetic_1", "l_dense"])
def test_table_3_and_lamp_14_are_both_visible(which: str) -> None:
    """The rooms where the lamp stands on the table: their labels must not hide each other."""
    scene = synthetic_1() if which == "synthetic_1" else _scene("l_dense")
    refs = {o.ref: o for o in scene.objects}
    assert "table#3" in refs and "lamp#14" in refs
    td = TopDown(scene)
    img = np.asarray(td.image())
    _assert_overlap_free(td)
    boxes = _label_boxes(td)
    a, b = boxes["table#3"], boxes["lamp#14"]
    assert not boxes_overlap(np.array([a, b])).any()
    for x0, y0, x1, y1 in (a, b):  # a white box with dark text in it
        patch = img[int(y0) + 1 : int(y1) - 1, int(x0) + 1 : int(x1) - 1]
        assert (patch.min(axis=2) < 80).any() and (patch.min(axis=2) > 240).any()


# -- the picture --------------------------------------------------------------------------------
def test_topdown_size_ticks_legend_and_content(tmp_path) -> None:
    a, b = _scene("rect_small"), _scene("l_shaped")
    td = TopDown(a, size=600)
    img = td.image()
    assert max(td.width, td.height - td.top) == 600
    assert {lab for lab in a.labels()} <= set(td._legend)  # one legend entry per label present
    assert len([k for k in td._legend if k in a.labels()]) == len(a.labels())
    arr = np.asarray(img)
    assert len(np.unique((arr[..., 0].astype(np.int64) << 16) | (arr[..., 1].astype(np.int64) << 8) | arr[..., 2])) > 20
    other = np.asarray(topdown_image(b, size=600))
    assert other.shape != arr.shape or np.abs(other.astype(int) - arr).mean() > 1
    path = save_topdown(a, tmp_path / "sub" / "top.png", size=600)
    assert Image.open(path).size == img.size
    assert np.array_equal(np.asarray(Image.open(path).convert("RGB")), arr)  # deterministic


def test_tick_step_keeps_at_most_twelve_ticks() -> None:
    assert tick_step(3.0) == 0.25 and tick_step(5.0) == 0.5 and tick_step(8.0) == 1.0 and tick_step(30.0) == 5.0
    for span in (0.5, 2.9, 7.3, 19.0, 150.0, 900.0, 5000.0):
        assert span / tick_step(span) <= 12


def test_frame_ids_are_thinned_and_never_overlap() -> None:
    scene = _scene("rect_large")
    td = TopDown(scene, size=500)
    td.image()
    _assert_overlap_free(td)
    frame_labels = [lab.text for lab in td._labels if lab.priority <= PRIORITY_FRAME + 1]
    ids = [f.id for f in scene.frames]
    assert ids[0] in frame_labels and ids[-1] in frame_labels and set(frame_labels) <= set(ids)
    # every camera at one spot: one id is written
    crowd = Scene("one_spot", scene.objects, [scene.frames[0]] + [type(f)(f"x{k}", f.K, scene.frames[0].T_wc, f.width, f.height)
                                                                  for k, f in enumerate(scene.frames[1:4])])
    td2 = TopDown(crowd, size=500)
    assert len([lab for lab in td2._labels if lab.priority <= PRIORITY_FRAME + 1]) == 1


def test_overlays_change_the_picture() -> None:
    scene = _scene("rect_small")
    base = np.asarray(TopDown(scene, size=500).image()).astype(int)
    td = TopDown(scene, size=500)
    o1, o2 = scene.objects[3], scene.objects[9]
    td.highlight(o1, (220, 40, 40))
    td.segment(o1.box.center, o2.box.center, (0, 0, 0), "1.23 m")
    td.arrow(o2.box.center, o1.box.center, (245, 130, 0), "to")
    td.camera(scene.frames[2], (0, 0, 0), "image 1")
    td.marker(o2.box.center, (20, 150, 60), "here")
    over = np.asarray(td.image()).astype(int)
    assert over.shape[1] == base.shape[1]
    h = min(over.shape[0], base.shape[0]) - 60
    assert np.abs(over[:h] - base[:h]).max(axis=2).astype(bool).mean() > 0.005
    texts = {lab.text for lab in td._labels}
    assert {"1.23 m", "to", "image 1", "here", o1.ref} <= texts
    _assert_overlap_free(td)
    assert td.clip_px((-50.0, -50.0), (-10.0, -60.0)) is None  # a guide line outside the plot is not drawn
    (a, b) = td.clip_px((-100.0, 100.0), (td.width + 100.0, 100.0)) or ((0, 0), (0, 0))
    assert a[0] == td.margin and b[0] == td.width - td.margin
