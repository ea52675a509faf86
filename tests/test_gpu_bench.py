"""benchmarks/gpu_bench.py: the GPU step benchmark runs on CPU (``--tiny``) with the packages the GPU
image lacks made unimportable, prints one JSON line per setting, and builds the real 3B architecture."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from fixtures import load_benchmark
from PIL import Image

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("peft")

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "gpu_bench.py"
FORBIDDEN = ("trl", "datasets", "gymnasium", "trimesh", "shapely", "open3d", "vllm")

# Runs the script as __main__ with FORBIDDEN unimportable (as on the GPU image, where they are not
# installed), then reports any of them found in sys.modules all the same.
WRAPPER = textwrap.dedent("""
    import importlib.abc, runpy, sys
    BLOCKED = set(sys.argv[1].split(","))
    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"No module named {name!r} (blocked)", name=name)
            return None
    sys.meta_path.insert(0, Block())
    script, sys.argv = sys.argv[2], sys.argv[2:]
    try:
        runpy.run_path(script, run_name="__main__")
        code = 0
    except SystemExit as exc:
        code = exc.code or 0
    loaded = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
    print("LOADED_FORBIDDEN=" + ",".join(loaded), file=sys.stderr)
    sys.exit(code)
""")


def test_tiny_run_prints_one_line_per_setting_without_forbidden_imports() -> None:
    cmd = [sys.executable, "-c", WRAPPER, ",".join(FORBIDDEN), str(SCRIPT), "--tiny", "--device", "cpu", "--settings", "full,lora",
           "--budget", "300"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "LOADED_FORBIDDEN=\n" in proc.stderr, proc.stderr[-2000:]
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert [r["setting"] for r in lines] == ["full", "lora"], proc.stdout
    for r in lines:
        assert "error" not in r and r["truncated"] is False and r["steps_measured"] == 1, r
        assert r["device"] == "cpu" and r["peak_gpu_mem_gib"] is None and r["model"] == "tiny", r
        assert r["batch"]["prompts_per_step"] == 2 and r["batch"]["num_generations"] == 2, r["batch"]
        assert r["batch"]["max_completion_length"] == 8 and r["batch"]["gradient_checkpointing"] is True, r["batch"]
        assert 0 < r["completion_tokens_mean"] <= 8 and r["prompt_tokens_mean"] > 0, r
        assert r["step_s"] > 0 and r["step_s_all"] == [r["step_s"]] and r["rollout_tokens_per_s"] > 0, r
        phases = r["phases_s"]
        assert set(phases) == {"prepare_s", "generate_s", "rewards_s", "train_s"} and all(v >= 0 for v in phases.values()), phases
        assert sum(phases.values()) == pytest.approx(r["step_s"], abs=0.01), r  # the phases tile the step
        assert 0 < r["dge_s"] < r["step_s"] and 0 < r["dge_share"] < 1, r  # rows sample DGE questions, the rewards judge them
    full, lora = lines
    assert full["params_trainable"] == full["params_total"], full
    # LoRA trains exactly the adapters it adds to the same (frozen) base model
    assert lora["params_total"] - full["params_total"] == lora["params_trainable"] > 0, (full, lora)


def test_budget_bounds_the_run() -> None:
    """--budget ends the run in time however many steps are asked for; the line says it was truncated."""
    budget = 6
    cmd = [sys.executable, str(SCRIPT), "--tiny", "--device", "cpu", "--settings", "full", "--steps", "1000", "--budget", str(budget)]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180, cwd=ROOT)
    wall = time.perf_counter() - t0
    assert proc.returncode == 0, proc.stderr[-3000:]
    (line,) = [json.loads(x) for x in proc.stdout.splitlines() if x.startswith("{")]
    assert line["truncated"] is True and "error" not in line and line["steps_measured"] < 1000, line
    assert wall < budget + 20, wall  # the interpreter's start and exit lie outside the budget


def test_3b_architecture_has_the_published_size() -> None:
    """Qwen2.5-VL-3B-Instruct has 3.75 B parameters (0.67 B in the vision tower, the LM head tied to the
    token embedding); built on the meta device, nothing is allocated."""
    from spatialevo.train.config import load_config

    bench = load_benchmark("gpu_bench")
    round_cfg = load_config(ROOT / "configs" / "1gpu-3b.yaml").round_config()
    model, processor = bench.build_policy(False, round_cfg, torch.bfloat16, "meta", 0, Path("unused"))
    cfg = model.config
    total = sum(p.numel() for p in model.parameters())
    vision = sum(p.numel() for p in model.model.visual.parameters())
    assert 3.74e9 < total < 3.76e9 and 0.66e9 < vision < 0.68e9, (total, vision)
    assert model.lm_head.weight is model.model.language_model.embed_tokens.weight
    attn = model.model.language_model.layers[0].self_attn
    assert (attn.q_proj.out_features, attn.k_proj.out_features) == (2048, 256)  # 16 heads of 128, 2 KV heads
    assert len(model.model.language_model.layers) == 36 and len(model.model.visual.blocks) == 32
    assert model.model.visual.merger.mlp[-1].out_features == 2048  # vision out_hidden_size = text hidden_size
    assert cfg.image_token_id == processor.tokenizer.convert_tokens_to_ids("<|image_pad|>") and model.dtype == torch.bfloat16
    # the processor keeps an image within the round's pixel budget (200704 = 448²): 640x480 -> 504x364, 36x26 patches
    assert round_cfg.max_pixels == 200704
    grid = processor.image_processor(images=[Image.new("RGB", (640, 480))], return_tensors="pt")["image_grid_thw"]
    assert grid.tolist() == [[1, 26, 36]]


def test_advantages_follow_trl() -> None:
    bench = load_benchmark("gpu_bench")
    nan = math.nan
    # two reward functions, each scoring its own rows (the other is NaN there); groups of 2
    rewards = torch.tensor([[1.0, nan], [0.0, nan], [nan, 2.0], [nan, 2.0], [nan, nan], [nan, nan]])
    adv = bench.advantages(rewards, torch.tensor([1.0, 1.0]), 2, "grpo")
    a = 0.5 / (math.sqrt(0.5) + 1e-4)  # group (1, 0): mean 0.5, sample std 0.7071
    assert adv.tolist() == pytest.approx([a, -a, 0.0, 0.0, 0.0, 0.0], abs=1e-6)  # equal rewards and unscored rows: 0
    gd = bench.advantages(torch.tensor([[1.0, 0.0], [0.0, 0.0], [0.0, 3.0], [0.0, 1.0]]), torch.tensor([1.0, 0.5]), 2, "gdpo")
    # per function and group: (1, 0) -> ±a; (0, 0) -> 0; (0, 0) -> 0; (3, 1): mean 2, std √2 -> ±b (x 0.5); then over the batch
    b = 1.0 / (math.sqrt(2.0) + 1e-4)
    summed = torch.tensor([a, -a, 0.5 * b, -0.5 * b])
    assert gd.tolist() == pytest.approx(((summed - summed.mean()) / (summed.std() + 1e-4)).tolist(), abs=1e-5)


def test_image_rows_split_pixel_values_per_sequence() -> None:
    bench = load_benchmark("gpu_bench")
    grid = torch.tensor([[1, 2, 2], [1, 4, 4], [1, 2, 4]])
    assert bench.image_rows(grid, [1, 2]) == [(0, 1, 0, 4), (1, 3, 4, 28)]
    assert bench.image_rows(grid, [0, 3]) == [(0, 0, 0, 0), (0, 3, 0, 28)]


def test_informativeness_groups_are_generated_by_the_policy(tmp_path: Path) -> None:
    """The solver groups of the informativeness term (rarely reached by a random policy) run and are timed apart."""
    from spatialevo.dge import Question
    from spatialevo.train.config import load_config

    bench = load_benchmark("gpu_bench")
    cfg = load_config(ROOT / "configs" / "1gpu-3b.yaml", round=bench.TINY_ROUND)
    model, processor = bench.build_policy(True, cfg.round_config(), torch.float32, "cpu", 0, tmp_path)
    policy, opt = bench.prepare_policy(model, "full", cfg, 1e-6)
    b = bench.Bench(cfg, policy, processor, opt, {**cfg.grpo, **bench.TINY_GRPO}, autocast=False)
    scene = b.stream.usable[0]
    groups = b._solve([None, (scene, Question("room_size", ()), None)])
    n = int(cfg.informativeness["generations"])
    assert len(groups) == 2 and all(len(g) == n and all(isinstance(t, str) for t in g) for g in groups), groups
    assert b.solve_groups == 2 and b.solve_s > 0
