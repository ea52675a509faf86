"""DGE on hand-built scenes whose answers are known in closed form; every reason code triggered."""

from __future__ import annotations

import json

import numpy as np
import pytest
from dge_scenes import analytic_scene

from spatialevo import DGE, Question
from spatialevo.dge import REASON_CODES, TASK_NAMES, Reason


@pytest.fixture(scope="module")
def dge() -> DGE:
    return DGE(analytic_scene())


def q(task: str, objects=(), frames=(), **params) -> Question:
    return Question(task, tuple(objects), tuple(frames), params)


# (question, expected answer_text)
VALID = [
    (q("object_counting", ["chair"]), "2"),
    (q("object_counting", ["Sofa"]), "1"),
    (q("object_size", ["sofa"]), "200"),
    (q("object_size", ["lamp"]), "150"),
    (q("absolute_distance", ["sofa", "table"]), "1.8"),  # closest points: dx 1.5, dy 1.0 (centres: 3.6)
    (q("absolute_distance", ["table", "sofa"]), "1.8"),
    (q("absolute_distance", ["sofa", "tv"]), "1.4"),
    (q("relative_distance", ["sofa", "table", "lamp"]), "table"),  # 1.80 vs 2.30
    (q("relative_distance", ["sofa", "chair", "tv", "table"]), "tv"),  # chair: nearest 2.25; tv 1.4
    (q("relative_direction_hard", ["sofa", "table", "lamp"]), "back-right"),  # θ = -123.7°
    (q("relative_direction_hard", ["sofa", "table", "lamp"], level="medium"), "right"),
    (q("relative_direction_hard", ["sofa", "table", "lamp"], level="easy"), "right"),
    (q("relative_direction_hard", ["sofa", "table", "tv"]), "back-left"),  # θ = +146.3°
    (q("relative_direction_hard", ["sofa", "table", "tv"], level="medium"), "back"),
    (q("relative_direction_hard", ["sofa", "table", "tv"], level="easy"), "left"),
    (q("relative_direction_hard", ["sofa", "lamp", "table"]), "back-left"),  # facing -y: +x is left, +y behind
    (q("room_size"), "192.0"),
    (q("single_image_relative_direction", ["table", "sofa"], ["f0"]), "back-right"),
    (q("single_image_relative_direction", ["sofa", "table"], ["f0"]), "front-left"),
    (q("single_image_relative_direction", ["lamp", "sofa"], ["f0"]), "front"),
    (q("distance_cam_obj", ["sofa"], ["f0"]), "5.5"),  # to (0, -0.5, 0.8): sqrt(5.5² + 0.7²) = 5.54
    (q("distance_cam_obj", ["lamp"], ["f0"]), "2.8"),
    (q("depth_order_obj_obj", ["sofa", "table"], ["f0"]), "sofa"),
    (q("depth_order_obj_obj", ["table", "lamp"], ["f0"]), "lamp"),
    (q("depth_order_obj_obj", ["sofa", "tv"], ["f0"]), "same"),
    (q("position_cam_cam", [], ["f0", "f1"]), "right"),
    (q("position_cam_cam", [], ["f0", "f1"], reference=2), "left"),
    (q("position_cam_cam", [], ["f0", "f6"]), "front-right"),
    (q("elevation_cam_cam", [], ["f0", "f2"]), "lower"),
    (q("elevation_cam_cam", [], ["f0", "f2"], reference=2), "higher"),
    (q("visibility_compare", ["sofa"], ["f0", "f5"]), "image1"),
    (q("visibility_compare", ["sofa"], ["f5", "f0"]), "image2"),
    (q("visibility_compare", ["sofa"], ["f0", "f1"]), "same"),
    (q("visibility_compare", ["cabinet"], ["f0", "f1"]), "neither"),
    (q("position_cam_obj", ["sofa"], ["f1", "f0"]), "front-left"),  # 33.7°
    (q("position_cam_obj", ["lamp"], ["f0", "f1"]), "front"),
    (q("position_cam_reg", ["sofa", "table"], ["f0", "f1"]), "front"),  # centroid (1.5, 1): -12.1°
    (q("position_cam_reg", ["lamp"], ["f1", "f0"]), "front-left"),  # (-4, 3): 53.1°
    (q("motion_camera", [], ["f0", "f1"]), "right"),
    (q("motion_camera", [], ["f1", "f0"]), "left"),
    (q("motion_camera", [], ["f0", "f2"]), "down"),
    (q("motion_camera", [], ["f0", "f6"]), "front-right"),
    (q("motion_camera", [], ["f0", "f3"]), "turn-left"),
    (q("motion_camera", [], ["f3", "f0"]), "turn-right"),
    (q("attribute_measurement", ["sofa", "table"], ["f0", "f1"]), "sofa"),
    (q("attribute_measurement", ["table", "tv"], ["f0", "f1"]), "tv"),
    (q("object_size", ["chair#2"]), "100"),  # instance references "label#id"
    (q("absolute_distance", ["chair#2", "chair#3"]), "2.5"),  # dx 2.5, dy 0.5: sqrt(6.5) = 2.55
]

INVALID = [
    (q("object_counting", ["bed"]), Reason.LABEL_ABSENT),
    (q("object_size", ["chair"]), Reason.AMBIGUOUS_LABEL),
    (q("absolute_distance", ["sofa", "sofa"]), Reason.SAME_OBJECT),
    (q("absolute_distance", ["sofa", "pillow"]), Reason.TOO_CLOSE),  # pillow lies on the sofa
    (q("absolute_distance", ["sofa"]), Reason.MALFORMED),
    (q("relative_distance", ["sofa", "tv", "stool"]), Reason.NEAR_TIE),  # 1.4 vs 1.5
    (q("relative_distance", ["chair", "tv", "stool"]), Reason.AMBIGUOUS_LABEL),
    (q("relative_distance", ["sofa", "tv", "tv"]), Reason.SAME_OBJECT),
    (q("relative_distance", ["sofa", "tv"]), Reason.MALFORMED),
    (q("relative_direction_hard", ["sofa", "table", "bookshelf"]), Reason.NEAR_BOUNDARY),  # θ = 0°
    (q("relative_direction_hard", ["sofa", "table", "pillow"]), Reason.TOO_CLOSE),
    (q("relative_direction_hard", ["sofa", "table", "lamp"], level="extreme"), Reason.MALFORMED),
    (q("relative_direction_hard", ["sofa", "table", "lamp"], colour="red"), Reason.MALFORMED),
    (q("single_image_relative_direction", ["chair", "sofa"], ["f0"]), Reason.AMBIGUOUS_LABEL),
    (q("single_image_relative_direction", ["cabinet", "sofa"], ["f0"]), Reason.NOT_VISIBLE),
    (q("single_image_relative_direction", ["sofa", "remote"], ["f0"]), Reason.TOO_CLOSE),  # 0.28 m
    (q("single_image_relative_direction", ["sofa", "table"], ["nope"]), Reason.FRAME_MISSING),
    (q("single_image_relative_direction", ["sofa", "table"], []), Reason.MALFORMED),
    (q("depth_order_obj_obj", ["sofa", "plant"], ["f0"]), Reason.NEAR_TIE),  # depths 6.0 vs 6.15
    (q("position_cam_cam", [], ["f0", "f2"]), Reason.TOO_CLOSE),
    (q("position_cam_cam", [], ["f0", "f7"]), Reason.NEAR_BOUNDARY),  # exactly 22.5°
    (q("position_cam_cam", [], ["f5", "f1"]), Reason.NEAR_BOUNDARY),  # looks straight down
    (q("position_cam_cam", [], ["f0", "f0"]), Reason.SAME_OBJECT),
    (q("position_cam_cam", [], ["f0", "f1"], reference=3), Reason.MALFORMED),
    (q("elevation_cam_cam", [], ["f0", "f3"]), Reason.NO_HEIGHT_DIFFERENCE),
    (q("motion_camera", [], ["f0", "f4"]), Reason.NO_MOTION),
    (q("position_cam_obj", ["cabinet"], ["f0", "f1"]), Reason.NOT_VISIBLE),
    (q("position_cam_obj", ["tv"], ["f0", "f1"]), Reason.NEAR_BOUNDARY),  # 26.6°
    (q("attribute_measurement", ["table", "plant"], ["f0", "f1"]), Reason.NEAR_TIE),  # 1.0 vs 1.0
    (q("object_size", ["sofa"], ["f0"]), Reason.MALFORMED),
    (q("teleportation", ["sofa"]), Reason.MALFORMED),
    (q("object_size", ["chair#4"]), Reason.LABEL_ABSENT),  # id 4 is the lamp
    (q("absolute_distance", ["chair#2", "chair#2"]), Reason.SAME_OBJECT),
]


@pytest.mark.parametrize("question,expected", VALID, ids=[f"{a.task}-{'-'.join(a.objects + a.frames)}-{e}" for a, e in VALID])
def test_valid_answers(dge: DGE, question: Question, expected: str) -> None:
    v = dge.evaluate(question)
    assert v.valid, v.message
    assert v.reason is None
    assert v.answer_text == expected
    if v.options is not None:
        assert v.answer_text in v.options


@pytest.mark.parametrize("question,reason", INVALID, ids=[f"{a.task}-{r.value}" for a, r in INVALID])
def test_invalid_reasons(dge: DGE, question: Question, reason: Reason) -> None:
    v = dge.evaluate(question)
    assert not v.valid
    assert v.reason == reason, v.message
    assert v.answer is None and v.answer_text == ""
    assert v.message


def test_numeric_answers_are_typed(dge: DGE) -> None:
    assert dge.evaluate(q("object_counting", ["chair"])).answer == 2
    assert dge.evaluate(q("object_size", ["sofa"])).answer == 200
    v = dge.evaluate(q("absolute_distance", ["sofa", "table"]))
    assert v.answer == pytest.approx(1.8) and v.unit == "m" and v.answer_kind == "number"
    assert v.evidence["distance_m"] == pytest.approx(np.hypot(1.5, 1.0), abs=1e-12)
    assert v.evidence["center_distance_m"] == pytest.approx(np.hypot(3.0, 2.0), abs=1e-12)
    theta = dge.evaluate(q("relative_direction_hard", ["sofa", "table", "lamp"])).evidence["angle_deg"]
    assert theta == pytest.approx(-90.0 - np.degrees(np.arctan2(2, 3)), abs=1e-9)


def test_not_in_evidence_for_the_shown_frames() -> None:
    """SPEC §7: judged for frames f1 (lamp and tv out of view) and f5 (facing away), a scene question
    is valid only when every object it names is visible in one of them."""
    dge = DGE(analytic_scene())
    assert dge.evaluate(q("object_size", ["tv"])).valid  # the whole scene is the evidence by default
    v = dge.evaluate(q("object_size", ["tv"]), shown=["f1", "f5"])
    assert v.reason is Reason.NOT_IN_EVIDENCE and v.evidence == {"object": "tv#5", "visible": [0.0], "hidden": 1}
    assert dge.evaluate(q("object_size", ["tv"]), shown=["f1", "f7"]).answer_text == dge.evaluate(q("object_size", ["tv"])).answer_text
    assert dge.evaluate(q("object_counting", ["chair"]), shown=["f3"]).reason is Reason.NOT_IN_EVIDENCE  # chair#3 hidden
    assert dge.evaluate(q("object_counting", ["chair"]), shown=["f3", "f1"]).answer == 2
    assert dge.evaluate(q("absolute_distance", ["sofa", "lamp"]), shown=["f1"]).reason is Reason.NOT_IN_EVIDENCE
    assert dge.evaluate(q("object_size", ["unicorn"]), shown=["f1"]).reason is Reason.LABEL_ABSENT  # earlier rules first
    assert dge.evaluate(q("room_size", []), shown=["f5"]).valid  # names no object


def test_every_reason_code_is_triggered() -> None:
    seen = {r.value for _, r in INVALID} | {Reason.NO_FRAMES.value, Reason.ROOM_UNKNOWN.value, Reason.NOT_IN_EVIDENCE.value}
    assert seen == set(REASON_CODES)


def test_every_task_has_an_analytic_answer() -> None:
    assert {a.task for a, _ in VALID} == set(TASK_NAMES)


def test_box_list_scene_frame_tasks_say_no_frames(tmp_path) -> None:
    from spatialevo import load_scene

    data = {
        "scene_id": "boxes",
        "room_size": 23.45,
        "objects": {
            "sofa": [{"centroid": [0, 0, 0.4], "axesLengths": [2.0, 1.0, 0.8], "normalizedAxes": [1, 0, 0, 0, 1, 0, 0, 0, 1]}],
            "table": [{"centroid": [3, 0, 0.4], "axesLengths": [1.0, 1.0, 0.8], "normalizedAxes": [0, 1, 0, -1, 0, 0, 0, 0, 1]}],
        },
    }
    path = tmp_path / "boxes.json"
    path.write_text(json.dumps(data))
    scene = load_scene(path)
    assert not scene.frames and scene.mesh is None
    dge = DGE(scene)
    assert dge.evaluate(q("absolute_distance", ["sofa", "table"])).answer_text == "1.5"
    assert dge.evaluate(q("object_size", ["table"])).answer_text == "100"
    assert dge.evaluate(q("room_size")).answer_text == "23.5"
    for task, objs, frames in [
        ("distance_cam_obj", ["sofa"], ["0"]),
        ("position_cam_cam", [], ["0", "1"]),
        ("attribute_measurement", ["sofa", "table"], ["0", "1"]),
    ]:
        v = dge.evaluate(q(task, objs, frames))
        assert v.reason == Reason.NO_FRAMES, v.message


def test_room_unknown_without_floor_or_points() -> None:
    dge = DGE(analytic_scene(with_frames=False, with_floor=False))
    assert dge.evaluate(q("room_size")).reason == Reason.ROOM_UNKNOWN


@pytest.mark.parametrize(
    "bad",
    ['{"task": "object_size"', "[]", '{"objects": ["sofa"]}', '{"task": 3}', '{"task": "object_size", "objects": "sofa"}',
     '{"task": "object_size", "objects": ["sofa"], "extra": 1}', {"task": "object_size", "params": {"x": [1]}}, 42, None],
)
def test_malformed_data_is_an_invalid_verdict(dge: DGE, bad) -> None:
    v = dge.evaluate(bad)
    assert not v.valid and v.reason == Reason.MALFORMED and v.message


def test_question_json_round_trip() -> None:
    for question, _ in VALID + INVALID:
        assert Question.from_json(question.to_json()) == question
        assert Question.from_dict(question.to_dict()) == question
    assert Question.from_dict({"task": "object_size", "objects": ["sofa"]}) == Question("object_size", ("sofa",))


def test_verdict_is_json_serialisable(dge: DGE) -> None:
    for question, _ in VALID[:10] + INVALID[:10]:
        d = json.loads(dge.evaluate(question).to_json())
        assert set(d) >= {"valid", "reason", "message", "answer", "answer_text", "options", "evidence"}


@pytest.mark.parametrize("override", [{"absolute_distance": {"min_distance_m": 0}}, {"absolute_distance": {"min_distance_m": -1}},
                                      {"object_size": {"min_size_cm": float("nan")}}, {"absolute_distance": {"nope": 1}}, {"teleport": {}}])
def test_bad_threshold_overrides_are_clear_errors(override) -> None:
    from spatialevo.errors import SceneFormatError

    with pytest.raises(SceneFormatError):
        DGE(analytic_scene(), config=override)
