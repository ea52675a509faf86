"""Pose trainer, checkpoints, new scenes, bad input, and the reduced reproduction."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from spatialevo.errors import SpatialEvoError
from spatialevo.pose import (
    PoseData,
    TrainConfig,
    evaluate,
    load,
    new_model,
    pose_data_from_scene,
    save,
    synthetic_pose_data,
    train,
)
from spatialevo.scene.model import Scene

SIZE = (48, 36)


@pytest.fixture(scope="module")
def data() -> list[PoseData]:
    return synthetic_pose_data([0, 1, 2], n_frames=48, size=SIZE)


def test_training_reduces_error_in_every_mode(data) -> None:
    tr = [d.split()[0] for d in data[:2]]
    for mode in ("separate", "shared", "adaptive"):
        model = new_model(mode, tr, seed=0)
        before = evaluate(model, tr)["all"]
        log = train(model, tr, TrainConfig(steps=60, batch=16), log_every=20)
        after = evaluate(model, tr)["all"]
        assert log[-1]["loss"] < log[0]["loss"], mode
        assert after.median_t_cm < before.median_t_cm and after.median_r_deg < before.median_r_deg, mode


def test_checkpoint_round_trip_and_unknown_scene(data, tmp_path) -> None:
    tr = [d.split()[0] for d in data[:2]]
    model = new_model("adaptive", tr)
    train(model, tr, TrainConfig(steps=5, batch=8))
    path = save(model, tmp_path / "m.pt")
    again = load(path)
    assert np.array_equal(again.predict(tr[0].images, tr[0].name), model.predict(tr[0].images, tr[0].name))
    assert again.deployed_size() == model.deployed_size()
    with pytest.raises(SpatialEvoError, match="not seen at training time"):
        model.predict(data[2].images, data[2].name)
    with pytest.raises(SpatialEvoError, match="not seen at training time"):
        train(model, [data[2]], TrainConfig(steps=1))
    with pytest.raises(SpatialEvoError, match="not found"):
        load(tmp_path / "missing.pt")
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(SpatialEvoError, match="not a readable pose checkpoint"):
        load(tmp_path / "bad.pt")


@pytest.mark.parametrize("mode", ["adaptive", "shared", "separate"])
def test_new_scene_trains_only_its_own_parameters(data, mode) -> None:
    tr = [d.split()[0] for d in data[:2]]
    model = new_model(mode, tr)
    train(model, tr, TrainConfig(steps=10, batch=8))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    old_pred = model.predict(tr[0].images, tr[0].name)
    size0 = model.deployed_size()
    k = model.add_scene(data[2].name, data[2].poses)
    log = train(model, [data[2]], TrainConfig(steps=30, batch=8), only_scene=data[2].name, log_every=10)
    assert log[-1]["loss"] < log[0]["loss"]
    after = model.state_dict()
    new_keys = [key for key in after if key not in before]
    assert new_keys and all(key.endswith(f".{k}") for key in new_keys)
    changed = [key for key in before if key not in ("t_mean", "t_scale") and not torch.equal(before[key], after[key])]
    assert changed == []  # shared weights and the other scenes' weights are untouched
    assert np.array_equal(model.predict(tr[0].images, tr[0].name), old_pred)
    assert model.deployed_size() > size0
    assert model.deployed_size() - size0 < size0 / 2 or mode == "separate"  # few new parameters


def test_bad_input() -> None:
    imgs = np.zeros((3, 3, 8, 8), np.uint8)
    poses = np.tile(np.eye(4), (3, 1, 1))
    poses[1, 0, 3] = np.inf  # e.g. ScanNet marks failed tracking with -inf / nan poses
    with pytest.raises(SpatialEvoError, match="no valid pose"):
        PoseData("s", imgs, poses, ["a", "b", "c"])
    with pytest.raises(SpatialEvoError, match="needs a 4x4 pose"):
        PoseData("s", imgs, np.tile(np.eye(4), (2, 1, 1)), ["a", "b", "c"])
    with pytest.raises(SpatialEvoError, match="uint8"):
        PoseData("s", imgs.astype(np.float32), np.tile(np.eye(4), (3, 1, 1)), ["a", "b", "c"])
    with pytest.raises(SpatialEvoError, match="no camera frames"):
        pose_data_from_scene(Scene(scene_id="boxes", objects=[]))
    with pytest.raises(SpatialEvoError, match="too few"):
        PoseData("s", imgs[:1], np.eye(4)[None], ["a"]).split()


def test_cli_train_eval_add_scene(tmp_path, capsys) -> None:
    from spatialevo.cli.main import main

    ckpt = tmp_path / "p.pt"
    common = ["--frames", "24", "--quiet"]
    assert main(["pose", "train", "--synthetic", "0,1", "--size", "48x36", "--steps", "3", "--batch", "4", "--out", str(ckpt), *common]) == 0
    assert main(["pose", "eval", "--ckpt", str(ckpt), "--synthetic", "0,1", "--frames", "24", "--json", str(tmp_path / "m.json")]) == 0
    assert "synth_00000" in (tmp_path / "m.json").read_text()
    plus = tmp_path / "plus.pt"
    assert main(["pose", "train", "--synthetic", "2", "--add-scene", "--init", str(ckpt), "--steps", "3", "--out", str(plus), *common]) == 0
    assert load(plus).scene_names == ["synth_00000", "synth_00001", "synth_00002"]
    capsys.readouterr()
    assert main(["pose", "eval", "--ckpt", str(ckpt), "--synthetic", "2", "--frames", "24"]) == 2
    assert "not seen at training time" in capsys.readouterr().err
    assert main(["pose", "train", "--synthetic", "0", "--scenes", "bundled", "--out", str(ckpt)]) == 2
    assert main(["pose", "train", "--synthetic", "0", "--size", "big", "--out", str(ckpt)]) == 2
