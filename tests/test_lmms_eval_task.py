"""The lmms-eval task shipped for spatialevo's VSI-Bench-format folders (issue #14, item 3): its
files hold what lmms-eval reads, its functions pose and score rows exactly as
:mod:`spatialevo.vsibench` does, and (where lmms-eval is installed: ``make test-lmms-eval``)
lmms-eval itself loads the task and scores it."""

from __future__ import annotations

import importlib.util
import itertools
from pathlib import Path

import pytest
import yaml

from spatialevo import vsibench
from spatialevo.cli.main import main
from spatialevo.evaluation import lmms_eval_utils as U

datasets = pytest.importorskip("datasets")  # the 'train' extra; make test installs it


class _Loader(yaml.SafeLoader):
    """YAML with lmms-eval's ``!function module.name`` tag."""


_Loader.add_constructor("!function", lambda loader, node: ("function", loader.construct_scalar(node)))


@pytest.fixture(scope="module")
def task(tmp_path_factory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("lmms")
    data = tmp / "qa-vsi"
    assert main(["generate", "--out", str(data), "--tasks", "object_counting,object_size,absolute_distance,relative_distance,"
                 "relative_direction_hard,room_size", "--per-task", "3", "--clip-frames", "4", "--max-pixels", "3136",
                 "--format", "vsibench", "--quiet"]) == 0
    assert main(["eval", "--benchmark", "vsibench", "--data", str(data), "--lmms-eval-task", str(tmp / "tasks")]) == 0
    return data, tmp / "tasks"


def _utils(folder: Path):  # noqa: ANN202
    spec = importlib.util.spec_from_file_location("spatialevo_task_utils", folder / "utils.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_task_files_hold_what_lmms_eval_reads(task) -> None:
    data, folder = task
    cfg = yaml.load((folder / "spatialevo_vsibench.yaml").read_text(), Loader=_Loader)
    assert cfg["task"] == "spatialevo_vsibench" and Path(cfg["dataset_path"]) == data.resolve() and cfg["output_type"] == "generate_until"
    utils = _utils(folder)
    fns = [cfg[k][1] for k in ("doc_to_visual", "doc_to_text", "process_results")] + [m["aggregation"][1] for m in cfg["metric_list"]]
    assert all(f.startswith("utils.") and callable(getattr(utils, f.split(".", 1)[1])) for f in fns), fns
    kw = cfg["lmms_eval_specific_kwargs"]["default"]
    assert kw == {"pre_prompt": "These are frames of a video.", "mca_post_prompt": "Answer with the option's letter from the given choices directly.",
                  "na_post_prompt": "Please answer the question using a single word or phrase."}
    ds = datasets.load_dataset(cfg["dataset_path"], split=cfg["test_split"])  # what lmms-eval calls
    results = []
    for doc in ds:
        imgs = utils.doc_to_visual(doc)
        assert len(imgs) == len(doc["frames"]) > 0 and all(im.mode == "RGB" for im in imgs)
        assert utils.doc_to_text(doc, kw) == vsibench.prompt(doc)
        out = utils.process_results(doc, [doc["ground_truth"]])
        assert set(out) == {m["metric"] for m in cfg["metric_list"]}
        results.append(out["overall"])
    assert utils.aggregate_overall(results) == pytest.approx(100.0)
    for m in cfg["metric_list"]:
        assert getattr(utils, m["aggregation"][1].split(".", 1)[1])(results) == pytest.approx(100.0), m["metric"]


def test_task_functions_equal_the_package_scoring() -> None:
    cases = [("2.5", "2.5 meters", "object_abs_distance"), ("2.5", "about 2.5", "object_abs_distance"), ("3", "3.", "object_counting"),
             ("20.0", "10", "room_size_estimation"), ("200", "176", "object_size_estimation"), ("B", "B. right", "object_rel_direction_easy"),
             ("C", "c", "object_rel_distance"), ("A", "B", "object_rel_direction_hard"), ("2", "", "object_counting"),
             ("2", "inf", "object_counting"), ("1.0", "1.05", "object_abs_distance")]
    for gt, pred, qtype in cases:
        assert U.score(pred, gt, qtype) == vsibench.score(pred, gt, qtype), (gt, pred, qtype)
    # fixed values of the public formula (not only agreement): |2.7 − 2.5| / 2.5 = 0.08 passes θ ≤ 0.92, 9 of 10 thresholds
    fixed = {("2.5", "2.7 meters", "object_abs_distance"): 0.9, ("200", "180", "object_size_estimation"): 0.9,
             ("2.5", "about 2.5", "object_abs_distance"): 0.0, ("10", "14", "object_counting"): 0.3, ("10", "5", "object_counting"): 0.1,
             ("B", "b.", "object_rel_direction_easy"): 1.0, ("B", "A", "object_rel_distance"): 0.0}
    for (gt, pred, qtype), want in fixed.items():
        assert U.score(pred, gt, qtype) == pytest.approx(want), (gt, pred, qtype)
    two = [{"question_type": "object_counting", "score": 1.0}, {"question_type": "object_rel_direction_easy", "score": 1.0},
           {"question_type": "object_rel_direction_hard", "score": 0.0}]
    assert U.table(two) == {"object_counting": 100.0, "object_rel_direction": 50.0} and U.aggregate_overall(two) == 75.0
    rows = [{"question_type": t, "score": s} for t, s in zip(itertools.cycle([*vsibench.NUMERIC_TYPES, *vsibench.DIRECTION_TYPES,
                                                                             "object_rel_distance"]), [0.1 * (i % 11) for i in range(40)])]
    rep = vsibench.report((r["question_type"], r["score"]) for r in rows)
    assert U.table(rows) == pytest.approx({t: r["score"] for t, r in rep["types"].items()})
    assert U.aggregate_overall(rows) == pytest.approx(rep["overall"])
    doc = {"question_type": "object_rel_distance", "question": "Which is closest?", "options": ["A. sofa", "B. tv"]}
    assert U.doc_to_text(doc, {}) == vsibench.prompt(doc)


def test_lmms_eval_runs_the_task(task, tmp_path: Path) -> None:
    """lmms-eval itself: its task loader reads the YAML with --include_path, builds the task from the
    dataset folder, and its scoring of the ground truth gives 100 (``make test-lmms-eval``)."""
    pytest.importorskip("lmms_eval", reason="lmms-eval is not installed here: make test-lmms-eval runs this in its own virtualenv")
    from lmms_eval.tasks import TaskManager, get_task_dict

    data, folder = task
    manager = TaskManager(include_path=str(folder))
    assert "spatialevo_vsibench" in manager.all_tasks
    t = get_task_dict(["spatialevo_vsibench"], manager)["spatialevo_vsibench"]
    docs = list(t.test_docs())
    assert len(docs) == datasets.load_dataset(str(data), split="test").num_rows
    results = [t.process_results(d, [d["ground_truth"]]) for d in docs]
    agg = t.aggregation()
    assert agg["overall"]([r["overall"] for r in results]) == pytest.approx(100.0)
    assert t.doc_to_text(docs[0]) == vsibench.prompt(docs[0])
