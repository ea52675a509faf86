"""Reruns of ``spatialevo evolve``: a finished run, an extended run, another run's checkpoint, and
``grpo:`` options checked before any model is built (tiny random Qwen2.5-VL on CPU)."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("trl")  # the 'train' extra; make test installs it

from spatialevo.cli.main import main  # noqa: E402
from spatialevo.errors import SpatialEvoError  # noqa: E402
from spatialevo.train import launcher  # noqa: E402
from spatialevo.train.config import load_config  # noqa: E402
from spatialevo.train.launcher import evolve  # noqa: E402

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "cpu-smoke.yaml"
FAST = {"informativeness": {"weight": 0.0, "generations": 1, "max_new_tokens": 1}}  #: no extra solver-group generation


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished 2-step run (checkpoint-2 and final/); tests that change it work on a copy."""
    out = tmp_path_factory.mktemp("runs") / "two"
    assert evolve(load_config(CONFIG, output_dir=str(out), max_steps=2, **FAST))["global_step"] == 2
    return out


def _copy(run: Path, dest: Path) -> Path:
    shutil.copytree(run, dest)
    return dest


def _no_build(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if the launcher builds the trainer (model load, tiny-model build)."""
    def build(cfg: Any) -> None:
        raise AssertionError("the trainer was built")

    monkeypatch.setattr(launcher, "build", build)


def _digests(run: Path) -> dict[str, str]:
    return {str(p.relative_to(run)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(run.glob("checkpoint-*/*")) + sorted(run.glob("final/*"))}


def _evolve_cli(run: Path, max_steps: int, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    capsys.readouterr()
    rc = main(["evolve", "--config", str(CONFIG), "--output-dir", str(run), "--max-steps", str(max_steps)])
    out, err = capsys.readouterr()
    return rc, out, err


def test_rerun_of_a_finished_run_trains_nothing(finished: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    run = _copy(finished, tmp_path / "run")
    before = _digests(run)
    _no_build(monkeypatch)
    rc, out, _ = _evolve_cli(run, 2, capsys)
    assert rc == 0 and "run complete: step 2 of max_steps 2" in out
    assert sorted(p.name for p in run.glob("checkpoint-*")) == ["checkpoint-2"] and _digests(run) == before
    # final/ missing (killed after the last checkpoint): written from the checkpoint, still no training
    shutil.rmtree(run / "final")
    rc, out, _ = _evolve_cli(run, 2, capsys)
    assert rc == 0 and "writing" in out and _digests(run) == before  # the same files as the trainer's final/
    # a smaller max_steps than the checkpoint: refused in one line
    rc, _, err = _evolve_cli(run, 1, capsys)
    assert rc == 2 and "past max_steps 1" in err and len(err.strip().splitlines()) == 1


def _lrs(res: dict[str, Any]) -> dict[int, float]:
    return {row["step"]: row["learning_rate"] for row in res["log_history"] if "learning_rate" in row}


def test_an_extended_run_continues_the_lr_schedule(finished: Path, tmp_path: Path) -> None:
    """Extending a finished 2-step run to 3 steps: step 3 gets the LR of a fresh 3-step run's step 3."""
    run = _copy(finished, tmp_path / "run")
    extended = evolve(load_config(CONFIG, output_dir=str(run), max_steps=3, **FAST))
    assert extended["resumed_from"].endswith("checkpoint-2") and extended["global_step"] == 3
    fresh_dir = tmp_path / "fresh"
    shutil.copytree(finished / "tiny-model", fresh_dir / "tiny-model")  # the same tiny model, not built again
    fresh = evolve(load_config(CONFIG, output_dir=str(fresh_dir), max_steps=3, **FAST))
    ext, new = _lrs(extended), _lrs(fresh)
    assert ext[1] == pytest.approx(new[1])  # the first steps ran under the 2-step plan
    assert ext[3] == pytest.approx(new[3]) and new[3] > 0, (ext, new)  # was 0: the 2-step schedule's end


def test_resume_refuses_another_run(finished: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _no_build(monkeypatch)
    other_model = str(finished / "final")  # a model folder, not the run's tiny model
    for key, value in (("seed", 1), ("scenes", "synthetic:2"), ("roles", ["solver"]), ("model", other_model)):
        cfg = load_config(CONFIG, output_dir=str(finished), max_steps=3, **{key: value})
        with pytest.raises(SpatialEvoError, match=rf"cannot resume .*checkpoint-2: another run \({key} "):
            evolve(cfg)


@pytest.mark.parametrize(("key", "line", "expect"), [
    ("per_device_train_batch_size", "per_device_train_batch_siz: 4",
     "grpo: unknown key 'per_device_train_batch_siz'; did you mean per_device_train_batch_size"),
    ("num_generations", "num_generations: two", "grpo.num_generations: expected an integer or null, got str 'two'"),
    ("learning_rate", "learning_rate: 1e-3", "grpo.learning_rate: expected a number, got str '1e-3'"),
    ("gradient_checkpointing", "gradient_checkpointing: 0", "grpo.gradient_checkpointing: expected true/false"),
    ("temperature", "lr_scheduler_type: cosin", "grpo.lr_scheduler_type: 'cosin' is not a valid choice; did you mean cosine"),
])
def test_grpo_options_are_checked_before_the_model(key: str, line: str, expect: str, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """A bad ``grpo:`` line of the smoke config (``key``'s line replaced): one ``error:`` line, exit 2, nothing built."""
    text = CONFIG.read_text()
    old = next(x for x in text.splitlines() if x.strip().startswith(key + ":"))
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace(old, "  " + line))
    _no_build(monkeypatch)
    capsys.readouterr()
    rc = main(["evolve", "--config", str(bad), "--output-dir", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("error: ") and expect in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "out").exists()  # no tiny model built


def test_grpo_config_errors_name_the_key(tmp_path: Path) -> None:
    cfg = load_config(CONFIG, output_dir=str(tmp_path / "o"))
    cfg.grpo["per_device_train_batch_size"] = 3  # not a multiple of num_generations 2
    with pytest.raises(SpatialEvoError, match=r"^grpo \(num_generations\): rejected by trl.GRPOConfig: .*divisible"):
        launcher.grpo_args(cfg)
    assert not (tmp_path / "o").exists()
