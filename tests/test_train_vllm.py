"""vLLM rollouts (issue #17, item 1) on CPU, without vLLM: the ``grpo:`` vLLM options checked when the
config is read, ``build`` refusing a config whose package (vLLM, DeepSpeed) is missing before any
model is loaded, the shipped GPU configs loading without vLLM, and the informativeness solver group
sent through the rollouts' engine in TRL's calling convention (against a fake engine: our side of
the contract, not vLLM)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("trl")  # the 'train' extra
import numpy as np  # noqa: E402

from spatialevo.cli.main import main  # noqa: E402
from spatialevo.errors import SpatialEvoError  # noqa: E402
from spatialevo.train import launcher  # noqa: E402
from spatialevo.train.config import load_config  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "cpu-smoke.yaml"
GPU_CONFIGS = ("1gpu-3b", "8gpu-7b-zero3", "multinode")
SERVER = {"use_vllm": True, "vllm_mode": "server", "vllm_server_host": "10.0.0.5", "vllm_server_port": 8000}


def _write(tmp_path: Path, grpo: dict[str, Any], model: str = "/models/Qwen2.5-VL-3B-Instruct") -> Path:
    path = tmp_path / "run.yaml"
    path.write_text(json.dumps({"output_dir": str(tmp_path / "out"), "model": model, "grpo": grpo}))  # JSON is YAML
    return path


@pytest.mark.parametrize(("grpo", "expect"), [
    ({"use_vllm": True, "vllm_mode": "colocated"}, "grpo.vllm_mode: 'colocated' is not a valid choice; did you mean colocate?"),
    ({"use_vllm": True, "vllm_mode": "sever"}, "did you mean server?"),
    ({"vllm_gpu_memory_utilization": 0.3}, "grpo: vllm_gpu_memory_utilization set without use_vllm: true"),
    ({"use_vllm": False, "vllm_mode": "server"}, "grpo: vllm_mode set without use_vllm: true (TRL then ignores it)"),
    ({"use_vllm": True, "vllm_mode": "server"}, "vllm_mode: server needs the server's address"),
    ({**SERVER, "vllm_server_host": ""}, "needs the server's address"),
    ({"use_vllm": True, "vllm_mode": "server", "vllm_server_base_url": "10.0.0.5:8000"}, "expected http(s)://HOST:PORT"),
    ({"use_vllm": True, "vllm_mode": "server", "vllm_server_base_url": "http://h:70000"}, "vllm_server_base_url: expected a port in 1..65535"),
    ({**SERVER, "vllm_server_port": 0}, "grpo.vllm_server_port: expected a port in 1..65535, got 0"),
    ({**SERVER, "vllm_server_base_url": "http://h:8000"}, "not both"),
    ({**SERVER, "vllm_group_port": 65536}, "grpo.vllm_group_port: expected a port in 1..65535, got 65536"),
    ({**SERVER, "vllm_gpu_memory_utilization": 0.5}, "pass --gpu_memory_utilization to `trl vllm-serve` instead"),
    ({**SERVER, "vllm_tensor_parallel_size": 2}, "pass --tensor_parallel_size to `trl vllm-serve` instead"),
    ({**SERVER, "vllm_max_model_length": 8192}, "pass --max_model_len to `trl vllm-serve` instead"),
    ({**SERVER, "vllm_enable_sleep_mode": True}, "it has no server equivalent"),
    ({"use_vllm": True, "vllm_server_host": "h"}, "grpo: vllm_server_host applies only to vllm_mode: server"),
    ({"use_vllm": True, "vllm_gpu_memory_utilization": 1.0}, "vllm_gpu_memory_utilization: expected a number in (0, 1)"),
    ({"use_vllm": True, "vllm_gpu_memory_utilization": 0}, "vllm_gpu_memory_utilization: expected a number in (0, 1)"),
    ({"use_vllm": True, "vllm_tensor_parallel_size": 0}, "vllm_tensor_parallel_size: expected an integer >= 1, got 0"),
    ({"use_vllm": True, "vllm_max_model_length": 200, "max_completion_length": 256}, "above max_completion_length"),
    ({"use_vllm": True, "vllm_model_impl": "transformer"}, "did you mean transformers?"),
    ({"use_vllm": "yes"}, "grpo.use_vllm: expected true/false"),
])
def test_vllm_options_are_one_line_errors_at_load(tmp_path: Path, grpo: dict[str, Any], expect: str) -> None:
    with pytest.raises(SpatialEvoError) as err:
        load_config(_write(tmp_path, grpo))
    assert expect in str(err.value) and "\n" not in str(err.value), str(err.value)


def test_vllm_with_the_tiny_model_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SpatialEvoError, match="image-only Qwen2.5-VL processor") as err:
        load_config(_write(tmp_path, {"use_vllm": True}, model="tiny"))
    assert "\n" not in str(err.value)
    with pytest.raises(SpatialEvoError, match="model: tiny"):  # the CLI's --model override is checked too
        load_config(_write(tmp_path, {"use_vllm": True}), model="tiny")


@pytest.mark.parametrize("grpo", [
    SERVER,
    {"use_vllm": True, "vllm_mode": "server", "vllm_server_base_url": "https://vllm.cluster:8443/", "vllm_group_port": 51217},
    {"use_vllm": True, "vllm_mode": "server", "vllm_server_base_url": "http://[fe80::1]:8000", "vllm_server_timeout": 600},
    {"use_vllm": True, "vllm_tensor_parallel_size": 2, "vllm_gpu_memory_utilization": 0.25, "vllm_max_model_length": 8192},
    {"use_vllm": True, "vllm_importance_sampling_mode": "token_truncate", "vllm_enable_sleep_mode": True},
])
def test_valid_vllm_options_load_and_reach_grpo_config(tmp_path: Path, grpo: dict[str, Any]) -> None:
    cfg = load_config(_write(tmp_path, grpo))
    args = launcher.grpo_args(cfg)  # TRL's GRPOConfig takes them without vLLM installed (it checks at trainer init)
    assert all(getattr(args, k) == v for k, v in grpo.items())


def test_cli_exits_2_with_one_line(tmp_path: Path) -> None:
    path = _write(tmp_path, {"use_vllm": True, "vllm_mode": "colocated"})
    proc = subprocess.run([sys.executable, "-m", "spatialevo.train", "--config", str(path)], capture_output=True, text=True,
                          cwd=ROOT, timeout=300)
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip() and "Warning" not in line and "warnings.warn" not in line]
    assert lines == ["error: grpo.vllm_mode: 'colocated' is not a valid choice; did you mean colocate?"], proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "out").exists()


def _missing(*names: str) -> Any:
    real = launcher._importable
    return lambda name: False if name in names else real(name)


def test_build_without_vllm_refuses_before_loading_a_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")  # a checkpoint folder as far as the config check goes
    monkeypatch.setattr(launcher, "_importable", _missing("vllm"))
    monkeypatch.setattr(launcher, "model_path", lambda cfg: pytest.fail("a model was reached before the package check"))
    cfg = load_config(_write(tmp_path, {"use_vllm": True, "vllm_gpu_memory_utilization": 0.25}, model=str(model)))  # loads without vLLM
    with pytest.raises(SpatialEvoError) as err:
        launcher.build(cfg)
    assert str(err.value) == "grpo.use_vllm needs vLLM: pip install 'spatialevo[vllm]'"
    assert main(["evolve", "--config", str(_write(tmp_path, cfg.grpo, model=str(model)))]) == 2
    assert capsys.readouterr().err.strip() == "error: grpo.use_vllm needs vLLM: pip install 'spatialevo[vllm]'"
    assert not (tmp_path / "out").exists() and sorted(p.name for p in model.iterdir()) == ["config.json"]
    cfg.grpo = {**cfg.grpo, "vllm_mode": "server"}  # changed after loading: checked again at build, before anything else
    with pytest.raises(SpatialEvoError, match="colocate"):
        launcher.build(cfg)
    monkeypatch.setattr(launcher, "_importable", lambda name: True)
    launcher.check_packages(load_config(_write(tmp_path, {"use_vllm": True}, model=str(model))))  # installed: no refusal


def test_build_without_deepspeed_refuses_before_the_tiny_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(launcher, "_importable", _missing("deepspeed"))
    monkeypatch.delenv("ACCELERATE_USE_DEEPSPEED", raising=False)
    out = tmp_path / "ds"
    cfg = load_config(CONFIG, output_dir=str(out))
    cfg.grpo = {**cfg.grpo, "deepspeed": str(ROOT / "configs" / "accelerate" / "zero3.json")}
    with pytest.raises(SpatialEvoError) as err:
        launcher.build(cfg)
    assert str(err.value) == "grpo.deepspeed needs DeepSpeed: pip install 'spatialevo[deepspeed]'"
    monkeypatch.setenv("ACCELERATE_USE_DEEPSPEED", "true")  # what accelerate sets for a DeepSpeed launch
    with pytest.raises(SpatialEvoError, match=r"^a DeepSpeed launch \(ACCELERATE_USE_DEEPSPEED=true\) needs DeepSpeed: "):
        launcher.build(load_config(CONFIG, output_dir=str(out)))
    assert not out.exists()  # the tiny model was not built
    monkeypatch.setenv("ACCELERATE_USE_DEEPSPEED", "false")
    launcher.check_packages(load_config(CONFIG, output_dir=str(out)))  # plain run: nothing needed


def test_every_shipped_config_loads_without_vllm(monkeypatch: pytest.MonkeyPatch) -> None:
    """The GPU configs use vLLM (needed at build time only); cpu-smoke does not."""
    monkeypatch.setattr(launcher, "_importable", _missing("vllm"))
    names = sorted(p.stem for p in (ROOT / "configs").glob("*.yaml"))
    assert set(GPU_CONFIGS) <= set(names)
    for name in names:
        cfg = load_config(ROOT / "configs" / f"{name}.yaml")
        assert bool(cfg.grpo.get("use_vllm")) == (name in GPU_CONFIGS), name
        if name in GPU_CONFIGS:
            with pytest.raises(SpatialEvoError, match=r"^grpo.use_vllm needs vLLM: pip install 'spatialevo\[vllm\]'$"):
                launcher.check_packages(cfg)
            text = (ROOT / "configs" / f"{name}.yaml").read_text()
            assert "NOT yet measured" in text, name
    multinode = load_config(ROOT / "configs" / "multinode.yaml")
    server = {k: v for k, v in multinode.grpo.items() if k not in ("vllm_tensor_parallel_size", "vllm_gpu_memory_utilization",
                                                                   "vllm_max_model_length")}
    load_config(ROOT / "configs" / "multinode.yaml", grpo={**server, **SERVER})  # the server-mode variant its comment gives


class FakeEngine:
    """Stands in for ``trl.generation.vllm_generation.VLLMGeneration`` with its documented signature,
    ``generate(prompts, images, num_generations, profiler=None) -> (prompt_ids, completion_ids, logprobs,
    logprob_token_ids)``, reading ``max_completion_length`` at call time. It records what it receives and
    returns the token ids of fixed texts: the contract on our side, not vLLM's behaviour."""

    def __init__(self, tokenizer: Any, texts: list[str]):
        self.tokenizer, self.texts = tokenizer, texts
        self.max_completion_length = 24
        self.calls: list[dict[str, Any]] = []
        self.syncs = 0

    def sync_weights(self) -> None:
        self.syncs += 1

    def generate(self, prompts: list[list[int]], images: list[list[Any] | None] | None, num_generations: int,
                 profiler: Any = None) -> tuple:
        self.calls.append({"prompts": prompts, "images": images, "n": num_generations, "max": self.max_completion_length})
        assert len(prompts) == len(self.texts) and all(isinstance(t, int) for p in prompts for t in p)
        completions = [self.tokenizer.encode(t, add_special_tokens=False) for t in self.texts]
        return prompts, completions, [[[0.0]] * len(c) for c in completions], None


def _pixels(img: Any) -> bytes:
    return np.asarray(img.convert("RGB")).tobytes()


def test_informativeness_group_goes_through_the_vllm_engine(tmp_path: Path) -> None:
    """With ``use_vllm`` the solver group is one ``generate`` call on the trainer's engine: each turn's
    prompt ids (equal to TRL's own rollout tokenisation of the same message) and images repeated
    ``generations`` times in a row, ``num_generations=generations``, ``max_completion_length`` =
    ``informativeness.max_new_tokens`` during the call only; the decoded texts are scored."""
    from spatialevo.dge import Question
    from spatialevo.train.solver import pil_images

    cfg = load_config(CONFIG, output_dir=str(tmp_path / "run"), max_steps=1)
    trainer, stream, rewards, _ = launcher.build(cfg)  # the plain trainer; the engine is faked below
    n, max_new = int(cfg.informativeness["generations"]), int(cfg.informativeness["max_new_tokens"])
    assert n == 2
    scene = stream.usable[0]
    shown = tuple(stream.round.evidence(scene, "object_size"))
    q = stream.round.sample(scene, "object_size", np.random.default_rng(0))
    gt = stream.round.judge(scene, q, shown).answer_text
    texts = [f"<answer>{gt}</answer>", "<answer>0</answer>",  # the asked question: half right
             "<answer>pad</answer>", "<answer>pad</answer>"]  # the pad item
    engine = FakeEngine(trainer.processing_class.tokenizer, texts)
    trainer.args.use_vllm, trainer.vllm_generation = True, engine
    trainer._last_loaded_step = trainer.state.global_step  # synced by this step's rollout
    groups = rewards.solve([(scene, q, shown), None])
    assert groups == [texts[:2], texts[2:]]
    (call,) = engine.calls
    assert call["n"] == n and call["max"] == max_new and engine.max_completion_length == 24 and engine.syncs == 0
    turns = [stream.round.solver_turn(scene, q, frames=shown, kind="asked"),
             stream.round.solver_turn(stream.usable[0], Question("room_size", ()), kind="given")]
    for k, turn in enumerate(turns):
        imgs = pil_images(turn.images)
        conv = [{"role": "user", "content": [*({"type": "image", "image": im} for im in imgs), {"type": "text", "text": turn.prompt}]}]
        trl_ids = [int(t) for t in trainer._tokenize_prompts([conv])[0][0]]
        assert call["prompts"][k * n : (k + 1) * n] == [trl_ids] * n
        for sent in call["images"][k * n : (k + 1) * n]:
            assert [_pixels(a) for a in sent] == [_pixels(b) for b in imgs]
    # through the reward's call site: a half-right group is maximally informative (1 − |2·½ − 1| = 1)
    engine.texts = texts[:2]
    cols = {"role": ["questioner"], "scene": [scene], "task": ["object_size"], "frames": [json.dumps(list(shown))], "question": [""],
            "row": [0]}
    reward = rewards.questioner_reward(prompts=[None], completions=[q.to_json()], **cols)[0]
    assert rewards.history[-1]["parts"][0]["informativeness"] == 1.0 and reward == pytest.approx(1.0 + 0.3 * 1.0)
    trainer._last_loaded_step = trainer.state.global_step - 1  # a new step: the engine gets the current weights first
    engine.texts = texts[:2]
    rewards.solve([(scene, q, shown)])
    assert engine.syncs == 1 and trainer._last_loaded_step == trainer.state.global_step
    # the plain path is untouched: without use_vllm the policy's generate answers and the engine is not called
    trainer.args.use_vllm = False
    calls = len(engine.calls)
    plain = rewards.solve([(scene, q, shown)])
    assert len(engine.calls) == calls and len(plain) == 1 and len(plain[0]) == n and all(isinstance(t, str) for t in plain[0])


def test_engine_returning_too_few_completions_is_an_error(tmp_path: Path) -> None:
    class Short(FakeEngine):
        def generate(self, prompts, images, num_generations, profiler=None):  # noqa: ANN001, ANN202
            out = super().generate(prompts, images, num_generations, profiler)
            return out[0], out[1][:-1], out[2][:-1], None

    from PIL import Image

    tok = load_processor_for_test(tmp_path)
    trainer = type("T", (), {})()
    trainer.vllm_generation = Short(tok.tokenizer, ["<answer>1</answer>"] * 2)
    trainer.state = type("S", (), {"global_step": 0})()
    with pytest.raises(SpatialEvoError, match="1 completions for 2 prompts"):
        launcher.vllm_answers(trainer, tok, ["how big?"], [[Image.new("RGB", (56, 56))]], n=2, max_new_tokens=4)
    assert trainer.vllm_generation.max_completion_length == 24  # restored after the call


def load_processor_for_test(tmp_path: Path) -> Any:
    """The tiny model's processor (built offline into ``tmp_path``)."""
    from spatialevo.train.processor import load_processor
    from spatialevo.train.tiny import make_tiny_qwen25vl

    make_tiny_qwen25vl(tmp_path / "tiny", seed=0)
    return load_processor(str(tmp_path / "tiny"))
