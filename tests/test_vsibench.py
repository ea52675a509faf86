"""VSI-Bench scoring as the public harness computes it (issue #14, item 3: the scoring part)."""

from __future__ import annotations

import pytest

from spatialevo import vsibench as vsi


def test_thresholds_are_the_ten_of_the_public_formula() -> None:
    assert len(vsi.THRESHOLDS) == 10 and vsi.THRESHOLDS[0] == 0.5 and vsi.THRESHOLDS[-1] == 0.95


@pytest.mark.parametrize("pred,gt,want", [
    ("10", 10, 1.0), ("10.4", 10, 1.0),      # 4 % off: within every threshold (≤ 5 %)
    ("10.6", 10, 0.9),                        # 6 % off: all but θ = 0.95
    ("13", 10, 0.5),                          # 30 %: θ = 0.50 … 0.70 (5 of 10)
    ("15", 10, 0.1), ("5", 10, 0.1),          # 50 % off: only θ = 0.50 (the edge is inclusive)
    ("15.1", 10, 0.0), ("4", 10, 0.0),
    ("2.5 meters", 2.5, 1.0), ("2.5.", 2.5, 1.0),   # the first token, a trailing dot dropped
    ("about 2.5", 2.5, 0.0), ("two", 2, 0.0), ("", 3, 0.0), ("inf", 3, 0.0),
])
def test_numeric_answers(pred, gt, want) -> None:
    assert vsi.score(pred, gt, "object_abs_distance") == pytest.approx(want)


def test_multiple_choice_answers() -> None:
    assert vsi.score("B", "B", "object_rel_distance") == 1.0
    assert vsi.score("b. the sofa", "B", "object_rel_direction_hard") == 1.0
    assert vsi.score("C", "B", "object_rel_distance") == 0.0  # a wrong letter
    assert vsi.score("The answer is B", "B", "object_rel_distance") == 0.0  # the first token is "The"
    assert vsi.score(None, "B", "object_rel_distance") == 0.0
    with pytest.raises(ValueError, match="unknown VSI-Bench question type"):
        vsi.score("1", 1, "object_counting_v2")
    with pytest.raises(ValueError, match="positive"):
        vsi.score("1", 0, "object_counting")


def test_ground_truth_scores_100_on_every_type_and_the_report_averages_directions() -> None:
    gts = {"object_counting": 3, "object_abs_distance": 1.7, "object_size_estimation": 88, "room_size_estimation": 21.4,
           "object_rel_distance": "A", "object_rel_direction_easy": "B", "object_rel_direction_medium": "C",
           "object_rel_direction_hard": "D", "route_planning": "A", "obj_appearance_order": "B"}
    rows = [(t, vsi.score(str(gt), gt, t)) for t, gt in gts.items()]
    rep = vsi.report(rows)
    assert set(rep["types"]) == {*gts} - set(vsi.DIRECTION_TYPES) | {"object_rel_direction"}
    assert all(v["score"] == 100.0 for v in rep["types"].values()) and rep["overall"] == 100.0
    # levels are averaged first, then the overall is the mean over the 8 types
    rows = [("object_rel_direction_easy", 1.0), ("object_rel_direction_medium", 0.0), ("object_rel_direction_hard", 0.0),
            ("object_rel_direction_hard", 1.0), ("object_counting", 0.5)]
    rep = vsi.report(rows)
    assert rep["types"]["object_rel_direction"] == {"n": 4, "score": pytest.approx((100 + 0 + 50) / 3)}
    assert rep["overall"] == pytest.approx(((100 + 0 + 50) / 3 + 50) / 2)


def test_question_types_of_the_shared_tasks() -> None:
    assert vsi.question_type("object_size") == "object_size_estimation"
    assert vsi.question_type("relative_direction_hard", {"level": "easy"}) == "object_rel_direction_easy"
    assert vsi.question_type("relative_direction_hard") == "object_rel_direction_hard"
    assert vsi.question_type("visibility_compare") is None


def _fixture(tmp_path):  # noqa: ANN001, ANN202
    import csv

    rows = [
        {"id": 0, "dataset": "scannet", "scene_name": "scene0000_00", "question_type": "object_counting", "question": "How many chairs?", "options": "", "ground_truth": "4"},
        {"id": 1, "dataset": "scannet", "scene_name": "scene0000_00", "question_type": "object_abs_distance", "question": "Distance?", "options": "", "ground_truth": "2.5"},
        {"id": 2, "dataset": "arkitscenes", "scene_name": "41069025", "question_type": "object_rel_direction_easy", "question": "Left or right?",
         "options": "['A. left', 'B. right']", "ground_truth": "A"},
        {"id": 3, "dataset": "arkitscenes", "scene_name": "41069025", "question_type": "object_rel_direction_hard", "question": "Quadrant?",
         "options": "['A. front-left', 'B. front-right', 'C. back-left', 'D. back-right']", "ground_truth": "C"},
        {"id": 4, "dataset": "scannetpp", "scene_name": "0a5c013435", "question_type": "room_size_estimation", "question": "Area?", "options": "", "ground_truth": "20"},
    ]
    path = tmp_path / "test.csv"
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path, rows


def test_eval_benchmark_vsibench_scores_predictions(tmp_path, capsys) -> None:
    import json

    from spatialevo.cli.main import main

    data, rows = _fixture(tmp_path)
    preds = tmp_path / "preds.jsonl"
    preds.write_text("".join(json.dumps({"id": r["id"], "prediction": r["ground_truth"]}) + "\n" for r in rows))
    out = tmp_path / "scores.json"
    assert main(["eval", "--benchmark", "vsibench", "--data", str(data), "--predictions", str(preds), "--json", str(out),
                 "--log", str(tmp_path / "log.jsonl")]) == 0
    rep = json.loads(out.read_text())
    assert rep["overall"] == 100.0 and all(t["score"] == 100.0 for t in rep["types"].values()) and rep["missing"] == 0
    assert "object_rel_direction" in capsys.readouterr().out
    assert len((tmp_path / "log.jsonl").read_text().splitlines()) == len(rows)
    # hand-computed: counting 5 for 4 (25 % off: θ 0.50 … 0.75 → 0.6), "about 2.5" (0), a wrong letter, "C." and no room answer
    preds.write_text("\n".join(json.dumps(x) for x in [{"id": 0, "prediction": "5 chairs"}, {"id": 1, "prediction": "about 2.5"},
                                                         {"id": 2, "prediction": "B"}, {"id": 3, "prediction": "C."}]))
    assert main(["eval", "--benchmark", "vsibench", "--data", str(data), "--predictions", str(preds), "--json", str(out)]) == 0
    rep = json.loads(out.read_text())
    t = rep["types"]
    assert t["object_counting"]["score"] == pytest.approx(60.0) and t["object_abs_distance"]["score"] == 0.0
    assert t["object_rel_direction"]["score"] == pytest.approx(50.0) and t["room_size_estimation"]["score"] == 0.0
    assert rep["missing"] == 1 and rep["overall"] == pytest.approx((60 + 0 + 50 + 0) / 4)
    # parquet and jsonl test sets read alike
    pq = pytest.importorskip("pyarrow.parquet")
    import pyarrow as pa

    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "test.parquet")
    assert main(["eval", "--benchmark", "vsibench", "--data", str(tmp_path / "test.parquet"), "--predictions", str(preds),
                 "--json", str(tmp_path / "s2.json")]) == 0
    assert json.loads((tmp_path / "s2.json").read_text()) == rep
    capsys.readouterr()
    # errors are one line
    preds.write_text(json.dumps({"id": 99, "prediction": "1"}) + "\n")
    assert main(["eval", "--benchmark", "vsibench", "--data", str(data), "--predictions", str(preds)]) == 2
    assert "ids the test set does not have" in capsys.readouterr().err
    assert main(["eval", "--benchmark", "vsibench", "--data", str(data)]) == 2
    assert "--predictions" in capsys.readouterr().err
    assert main(["eval", "--benchmark", "vsibench", "--data", str(tmp_path / "nope.csv"), "--predictions", str(preds)]) == 2
    assert "not found" in capsys.readouterr().err
