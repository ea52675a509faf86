"""Dataset folders (issue #14, item 1): ``spatialevo generate`` writes a folder that ``datasets``,
TRL and VSI-Bench scoring read as they are, with typed columns, images, the training prompt, seeds
and invalid-question records."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from spatialevo.cli.main import main
from spatialevo.dge import EVIDENCE_FIELDS, TASK_NAMES, Question
from spatialevo.errors import SpatialEvoError
from spatialevo.generate import regenerate
from spatialevo.hfdata import COLUMNS, FORMATS, write_folder
from spatialevo.hfdata.features import conform, hf_features, yaml_features
from spatialevo.selfplay import Round, RoundConfig
from spatialevo.selfplay.prompts import chat
from spatialevo.selfplay.rewards import solver_reward

datasets = pytest.importorskip("datasets")  # the 'train' extra; make test installs it

TASKS = ("object_counting", "object_size", "relative_distance", "relative_direction_hard", "room_size",
         "single_image_relative_direction", "position_cam_cam")
ROUND = RoundConfig(clip_frames=4, max_pixels=3136)


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("qa") / "qa"
    assert main(["generate", "--out", str(out), "--tasks", ",".join(TASKS), "--per-task", "4", "--invalid-share", "0.25",
                 "--clip-frames", "4", "--max-pixels", "3136", "--quiet"]) == 0
    return out


def _copy(folder: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "copy"
    shutil.copytree(folder, dst, ignore=shutil.ignore_patterns(".lock"))
    return dst


def _records(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "data.jsonl").read_text().splitlines()]


def test_load_dataset_gives_typed_records_with_images_and_the_training_prompt(folder: Path) -> None:
    ds = datasets.load_dataset(str(folder), split="train")
    recs = _records(folder)
    assert ds.num_rows == len(recs) > 40
    assert ds.features == datasets.Features.from_dict(hf_features(COLUMNS["spatialevo"]))
    assert isinstance(ds.features["images"], datasets.List) and isinstance(ds.features["images"].feature, datasets.Image)
    assert ds.features["question"]["params"]["reference"] == datasets.Value("int64")
    assert ds.features["evidence"]["distances_m"] == datasets.List(datasets.Value("float64"))
    rnd = Round("bundled", ROUND)
    from PIL import Image

    for i in (0, 7, len(recs) // 2, len(recs) - 1):
        row, rec = ds[i], recs[i]
        assert row["id"] == rec["id"] and row["index"] == rec["index"] and row["seed"] == 0
        assert row["question"]["objects"] == rec["question"]["objects"] and row["answer"] == rec["answer_text"]
        assert len(row["images"]) == len(rec["frames"]) > 0 and all(isinstance(im, Image.Image) for im in row["images"])
        assert np.array_equal(np.asarray(row["images"][0]), np.asarray(Image.open(folder / rec["images"][0])))
        turn = rnd.solver_turn(rec["scene"], Question.from_dict(rec["question"]), images=False)
        assert row["prompt"] == chat(turn.prompt) == rec["prompt"]  # the conversation training gives the solver
        assert tuple(row["frames"]) == turn.frames
    # the json builder reads the records themselves
    js = datasets.load_dataset("json", data_files=str(folder / "data.jsonl"), split="train")
    assert js["id"] == ds["id"] and js["answer_text"] == ds["answer"]


def test_invalid_records_answer_with_their_reason_code(folder: Path) -> None:
    recs = _records(folder)
    invalid = [r for r in recs if not r["valid"]]
    by_task = Counter(r["task"] for r in invalid)
    assert set(by_task) >= {"object_size", "relative_distance"}, by_task
    assert 0.1 < len(invalid) / len(recs) < 0.4  # one in four units per scene-task asks an invalid question
    for r in invalid:
        assert r["reason"] and r["answer"] == r["answer_text"] == r["reason"] and r["answer_kind"] == "reason"
        assert r["id"].endswith("000003")  # unit k = 3 of per-task 4
    big = folder.parent / "invalid-half"
    assert main(["generate", "--out", str(big), "--tasks", "object_counting,object_size,relative_distance", "--per-task", "8",
                 "--invalid-share", "0.5", "--clip-frames", "4", "--no-images", "--quiet"]) == 0
    rnd = Round("bundled", ROUND)
    keys = Counter()
    for r in _records(big):
        if not r["valid"]:
            _, canon = rnd.judge_canonical(r["scene"], Question.from_dict(r["question"]), r["frames"])
            keys[(r["scene"], r["task"], (canon or Question.from_dict(r["question"])).key())] += 1
    assert sum(keys.values()) > 20 and max(keys.values()) == 1  # distinct invalid questions per scene and task


def test_score_answer_is_the_reward_score_part_on_every_row(folder: Path) -> None:
    import spatialevo

    ds = datasets.load_dataset(str(folder), split="train").remove_columns(["images"])
    rnd = Round("bundled", ROUND)
    for row, rec in zip(ds, _records(folder)):
        v = rnd.judge(rec["scene"], Question.from_dict(rec["question"]), rec["frames"])
        assert v.valid == row["valid"] and (v.reason.value if v.reason else None) == row["reason"]
        for text in (f"<answer>{row['answer']}</answer>", "<answer>2</answer>", "<answer>left</answer>", "no idea",
                     "<answer>not_in_evidence</answer>", f"<answer>not {row['answer']}</answer>"):
            part = solver_reward(text, v)[1]["score"]
            assert spatialevo.score_answer(text, row) == part == spatialevo.score_answer(text, rec), (row["id"], text)
        assert spatialevo.score_answer(f"<answer>{row['answer']}</answer>", row) == 1.0
        got = spatialevo.reward_fn([[{"role": "assistant", "content": "<answer>3</answer>"}]],
                                   **{k: [row[k]] for k in ("answer", "answer_kind", "unit", "options", "reason")})
        assert got == [solver_reward("<answer>3</answer>", v)[0]]


def test_every_record_regenerates_from_its_index(folder: Path) -> None:
    recs = _records(folder)
    picks = [recs[0], recs[5], next(r for r in recs if not r["valid"]), recs[-1]]
    for rec in picks:
        assert regenerate(folder, rec["index"], scenes="bundled") == rec
    with pytest.raises(SpatialEvoError, match="not the ones"):
        regenerate(folder, 0, scenes="synthetic:2")
    with pytest.raises(SpatialEvoError, match="index must be"):
        regenerate(folder, 10**9, scenes="bundled")


def test_no_absolute_path_in_the_folder(folder: Path) -> None:
    from spatialevo.bundled import bundled_scene_paths

    places = [str(folder.parent), str(bundled_scene_paths()[0].parent), str(Path(__file__).resolve().parents[1])]
    for path in folder.rglob("*"):
        if path.is_file() and not path.name.endswith(".lock"):
            data = path.read_bytes()
            assert not any(p.encode() in data for p in places), path
    card = (folder / "README.md").read_text()
    assert card.startswith("---\nconfigs:") and "data/train-00000-of-00001-" in card and "spatialevo.score_answer" in card


def test_trl_format_trains_two_grpo_steps_with_no_glue(folder: Path, tmp_path: Path) -> None:
    pytest.importorskip("trl")
    from trl import GRPOConfig, GRPOTrainer

    import spatialevo
    from spatialevo.train.processor import load_processor
    from spatialevo.train.tiny import make_tiny_qwen25vl

    out = _copy(folder, tmp_path)
    write_folder(out, "trl")
    ds = datasets.load_dataset(str(out), split="train")
    assert ds.features == datasets.Features.from_dict(hf_features(COLUMNS["trl"]))
    assert ds[0]["completion"] == [{"role": "assistant", "content": f"<answer>{ds[0]['solution']}</answer>"}]
    make_tiny_qwen25vl(tmp_path / "tiny")
    args = GRPOConfig(output_dir=str(tmp_path / "grpo"), max_steps=2, per_device_train_batch_size=2, num_generations=2,
                      max_completion_length=8, use_cpu=True, report_to="none", logging_steps=1, save_strategy="no", seed=0)
    trainer = GRPOTrainer(model=str(tmp_path / "tiny"), processing_class=load_processor(str(tmp_path / "tiny")),
                          reward_funcs=spatialevo.reward_fn, train_dataset=ds, args=args)
    trainer.train()
    logged = [h for h in trainer.state.log_history if "rewards/reward_fn/mean" in h]
    assert trainer.state.global_step == 2 and len(logged) == 2


@pytest.mark.parametrize("fmt", ["sft", "trl"])
def test_sft_trainer_reads_the_sft_and_trl_formats_with_no_glue(fmt: str, folder: Path, tmp_path: Path) -> None:
    pytest.importorskip("trl")
    from trl import SFTConfig, SFTTrainer

    from spatialevo.train.processor import load_processor
    from spatialevo.train.tiny import make_tiny_qwen25vl

    out = _copy(folder, tmp_path)
    write_folder(out, fmt)
    make_tiny_qwen25vl(tmp_path / "tiny")
    args = SFTConfig(output_dir=str(tmp_path / "sft"), max_steps=2, per_device_train_batch_size=2, use_cpu=True, report_to="none",
                     save_strategy="no", max_length=None, logging_steps=1)
    trainer = SFTTrainer(model=str(tmp_path / "tiny"), processing_class=load_processor(str(tmp_path / "tiny")),
                         train_dataset=datasets.load_dataset(str(out), split="train"), args=args)
    trainer.train()
    assert trainer.state.global_step == 2
    tokens = [h["num_tokens"] for h in trainer.state.log_history if "num_tokens" in h]
    assert tokens and all(t > 100 for t in tokens)  # prompt, image and answer tokens


def test_sft_and_vsibench_formats(folder: Path, tmp_path: Path) -> None:
    from spatialevo import vsibench

    out = _copy(folder, tmp_path)
    write_folder(out, "sft")
    sft = datasets.load_dataset(str(out), split="train")
    recs = _records(folder)
    assert sft.num_rows == len(recs)
    assert sft[0]["messages"] == [*recs[0]["prompt"], {"role": "assistant", "content": f"<answer>{recs[0]['answer_text']}</answer>"}]
    res = write_folder(out, "vsibench")
    vsi = datasets.load_dataset(str(out), split="test")
    assert list(vsi.features)[:7] == ["id", "dataset", "scene_name", "question_type", "question", "options", "ground_truth"]
    shared = [r for r in recs if r["valid"] and vsibench.question_type(r["task"], r["question"]["params"])]
    assert vsi.num_rows == res["rows"] == len(shared) and vsi["id"] == list(range(len(shared)))
    rows = vsi.remove_columns(["images"]).to_list()
    letters: dict[tuple[str, int], Counter] = {}
    for row, rec in zip(rows, shared):
        assert row["question_type"] == vsibench.question_type(rec["task"], rec["question"]["params"])
        assert all(o in row["question"] for o in rec["question"]["objects"])
        if row["options"]:
            assert row["options"][0].startswith("A. ") and row["ground_truth"] in "ABCD"
            assert row["options"]["ABCD".index(row["ground_truth"])] == f"{row['ground_truth']}. {rec['answer_text']}"
            letters.setdefault((row["question_type"], len(row["options"])), Counter())[row["ground_truth"]] += 1
        else:
            assert row["ground_truth"] == rec["answer_text"]
        assert vsibench.score(row["ground_truth"], row["ground_truth"], row["question_type"]) == 1.0
    # rewritten with other rows under the same format: the new rows load (not datasets' cache of the old ones)
    lines = (out / "data.jsonl").read_text().splitlines()
    (out / "data.jsonl").write_text("\n".join(lines[:-12]) + "\n")
    assert datasets.load_dataset(str(out), split="test").num_rows == vsi.num_rows
    write_folder(out, "vsibench")
    assert datasets.load_dataset(str(out), split="test").num_rows < vsi.num_rows
    for (qtype, n), c in letters.items():  # the answer letter cycles A, B, …: balanced per type and option count
        assert max(c.values()) - min(c.values()) <= 1 and len(c) == min(n, sum(c.values())), (qtype, c)
    level_words = {"easy": "to the left or the right of the", "medium": "to my left, right, or back?", "hard": "front-left, front-right"}
    directions = [r for r in rows if r["question_type"].startswith("object_rel_direction_")]
    assert directions and all(level_words[r["question_type"].rsplit("_", 1)[1]] in r["question"] for r in directions)


def test_format_and_argument_errors(folder: Path, tmp_path: Path, capsys) -> None:
    with pytest.raises(SpatialEvoError, match="unknown dataset format"):
        write_folder(folder, "csv")
    out = _copy(folder, tmp_path)
    code = main(["generate", "--out", str(out), "--tasks", ",".join(TASKS), "--per-task", "4", "--invalid-share", "0.5",
                 "--clip-frames", "4", "--max-pixels", "3136", "--quiet"])
    assert code == 2 and "--invalid-share: 0.25 there, 0.5 here" in capsys.readouterr().err
    code = main(["generate", "--out", str(out), "--tasks", ",".join(TASKS), "--per-task", "4", "--invalid-share", "0.25",
                 "--clip-frames", "6", "--max-pixels", "3136", "--quiet"])
    assert code == 2 and "clip_frames (round option): 4 there, 6 here" in capsys.readouterr().err
    assert main(["generate", "--out", str(tmp_path / "x"), "--invalid-share", "1", "--quiet"]) == 2
    assert "--invalid-share must be" in capsys.readouterr().err
    before = datasets.load_dataset(str(out), split="train").num_rows
    from spatialevo.hfdata import folder as folder_mod

    real = folder_mod.atomic_write

    def full_disk(path, data, where):  # noqa: ANN001, ANN202
        if path.name == "README.md":
            raise OSError(28, "No space left on device", str(path))
        return real(path, data, where)

    folder_mod.atomic_write = full_disk
    try:
        with pytest.raises(OSError):
            write_folder(out, "trl")
    finally:
        folder_mod.atomic_write = real
    assert datasets.load_dataset(str(out), split="train").num_rows == before  # the old card's shards are all there
    (out / "images" / "rect_small").rename(out / "gone")
    with pytest.raises(SpatialEvoError, match="cannot be read"):
        write_folder(out, "trl")
    assert datasets.load_dataset(str(out), split="train").num_rows == len(_records(folder))  # the earlier shards stay


@pytest.mark.parametrize("fmt", FORMATS)
def test_column_types_are_spelled_as_datasets_spells_them(fmt: str) -> None:
    cols = COLUMNS[fmt]
    feats = datasets.Features.from_dict(hf_features(cols))
    assert feats._to_yaml_list() == yaml_features(cols)
    from spatialevo.hfdata.features import arrow_schema

    assert arrow_schema(cols).remove_metadata() == feats.arrow_schema.remove_metadata()


def test_every_evidence_key_has_its_declared_type() -> None:
    """Evidence of valid and invalid verdicts on bundled and synthetic scenes fits EVIDENCE_FIELDS
    (so the typed evidence column holds every verdict)."""
    from spatialevo.hfdata.formats import EVIDENCE

    seen: set[str] = set()
    rng = np.random.default_rng(0)
    for scenes in ("bundled", "synthetic:3"):
        rnd = Round(scenes, RoundConfig(clip_frames=4))
        for name in rnd.source.names:
            for task in TASK_NAMES:
                for valid in (True, False):
                    for _ in range(6):
                        q = rnd.sample(name, task, rng, valid=valid)
                        if q is not None:
                            ev = rnd.judge(name, q).to_dict()["evidence"]
                            conform(ev, EVIDENCE, f"{task} evidence")  # raises on an undeclared key or another type
                            seen |= set(ev)
    assert len(seen) >= 0.75 * len(EVIDENCE_FIELDS), sorted(set(EVIDENCE_FIELDS) - seen)
