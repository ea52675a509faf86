"""One GRPO step of the ``1gpu-3b`` config on a GPU: step time, rollout tokens/s, peak memory, DGE share.

Run: ``python benchmarks/gpu_bench.py`` (``make gpu-bench``; ``--settings full,lora``, ``--steps``,
``--budget``, ``--json PATH``); on CPU, ``--tiny`` runs the tiny model for one small step (a test
runs it). Prints one JSON line per setting.

**Model.** A randomly initialised ``Qwen2_5_VLForConditionalGeneration`` with the real
Qwen2.5-VL-3B-Instruct architecture (:data:`QWEN25VL_3B_TEXT`, :data:`QWEN25VL_3B_VISION`: about
3.75 B parameters, 0.67 B of them in the vision tower), built from a config written here: nothing is
downloaded. The tokenizer is the offline one of the tests (:mod:`spatialevo.train.tiny`, a few hundred
tokens); the model keeps the real vocabulary width (151,936 rows of embedding and LM head), so
every matrix has its real shape. The random policy rarely samples an end token: completions run to
``max_completion_length`` (the slowest case; ``completion_tokens_mean`` says so). The image tokens of a
prompt are exact (the round's frames within ``max_pixels``); its text, in the offline tokenizer's
tokens (about 1.8 characters each), is roughly twice as long as in Qwen's, so 1–2-image prompts are
some 20 % longer than in a real run and 16-frame clips about 3 %.

**Step.** What one optimiser step of ``spatialevo evolve`` with TRL's ``GRPOTrainer`` does (TRL is
not imported: the GPU image lacks it), written from its definition: the config's self-play rows
(:class:`spatialevo.train.stream.SelfPlayStream` over the bundled scenes: questioner and solver
prompts with their frames), ``gradient_accumulation_steps × per_device_train_batch_size /
num_generations`` prompts, each sampled ``num_generations`` times in one ``model.generate`` call
(KV cache on, the image token suppressed), the real DGE rewards
(:class:`spatialevo.train.rewards.SelfPlayRewards`), group-normalised advantages (``advantage: grpo``:
sum then normalise per group; ``gdpo``: TRL's ``normalize_then_sum``), then per micro-batch of
``per_device_train_batch_size`` completions a forward pass over prompt + completion (logits of the
completion only), the clipped policy-gradient loss per token (``epsilon``, ``epsilon_high``; old log
probabilities = the detached current ones, as with ``num_iterations: 1``; ``beta: 0``: no reference
model) summed and divided by the step's completion tokens (DAPO token mean), ``backward``; then
gradient clipping at 1 and an AdamW step (``fused`` on CUDA). Gradient checkpointing (non-reentrant)
as the config says.

**Settings.** ``full``: every weight trained, loaded in bfloat16 (``model_dtype: bfloat16``).
``lora``: the ``peft:`` section of the config, or :data:`spatialevo.train.config.PEFT_DEFAULTS`
(r 16 on the language model's projections, vision tower frozen), built by
:func:`spatialevo.train.launcher.lora_config`. ``full-fp32``: float32 weights with bfloat16 autocast
(what ``model_dtype: auto`` trains for full fine-tuning on one GPU). All three run by default, the
two the package defaults to first. Memory of full fine-tuning, for 3.75 B parameters: bf16 weights 2 B + bf16
gradients 2 B + AdamW's two states (torch keeps them in the parameter dtype: 2 × 2 B) ≈ 30 GB; with
float32 Adam states (2 + 2 + 8 B) ≈ 45 GB; ``full-fp32`` (4 + 4 + 8 B) ≈ 60 GB; activations come on
top. All fit one H200 (141 GB). Note: at ``learning_rate: 1.0e-6`` pure bf16 weights barely move
(an update is far below a bf16 weight's spacing), which is why ``model_dtype: auto`` loads float32
for full fine-tuning.

**Figures** (one JSON line per setting): ``step_s`` (median over the measured steps, after
``--warmup`` steps), ``rollout_tokens_per_s`` (completion tokens / ``generate`` seconds),
``peak_gpu_mem_gib`` (``torch.cuda.max_memory_allocated`` from the model's build to the end of the
setting), ``dge_share`` (median per step of ``dge_s / step_s``: the reward functions' time — DGE
judging and scoring — without the informativeness generation, plus the DGE question sampling of
solver rows, ``stream.dge_seconds``) and the step's phases. ``--budget`` (seconds, default 420)
bounds the whole run: each setting gets its share of what is left, a step that would overrun it is
not started, and an alarm ends a step that runs past it (the line then says ``"truncated": true``).
vLLM rollouts are not measured here (the GPU image has no vLLM).

Imports torch, transformers, peft and spatialevo (whose core needs numpy, pillow, pyyaml and scipy;
all in the GPU image), never trl, datasets, gymnasium, trimesh, shapely, open3d or vllm
(:data:`FORBIDDEN`; a test runs the script with them unimportable).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import signal
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # the GPU machine runs the working tree without installing it
    sys.path.insert(0, str(ROOT))

FORBIDDEN = ("trl", "datasets", "gymnasium", "trimesh", "shapely", "open3d", "vllm")
SETTINGS = ("full", "lora", "full-fp32")

# config.json of Qwen/Qwen2.5-VL-3B-Instruct on the Hugging Face Hub (transformers 4.41 layout, flat
# text keys; ``rope_scaling: {type: mrope, mrope_section: [16, 24, 24]}``, vision ``in_chans: 3``),
# written in transformers 5's keys. transformers' own Qwen2_5_VLConfig defaults are not the 3B model's
# (text 8192 wide / 80 layers, vision out_hidden_size 3584), hence every value here.
QWEN25VL_3B_TEXT: dict[str, Any] = {
    "vocab_size": 151936, "hidden_size": 2048, "intermediate_size": 11008, "num_hidden_layers": 36,
    "num_attention_heads": 16, "num_key_value_heads": 2, "hidden_act": "silu", "max_position_embeddings": 128000,
    "rms_norm_eps": 1e-6, "use_sliding_window": False, "sliding_window": 32768, "max_window_layers": 70,
    "attention_dropout": 0.0, "initializer_range": 0.02,
    "rope_parameters": {"rope_type": "default", "rope_theta": 1000000.0, "mrope_section": [16, 24, 24]},
}
QWEN25VL_3B_VISION: dict[str, Any] = {
    "depth": 32, "hidden_size": 1280, "intermediate_size": 3420, "num_heads": 16, "hidden_act": "silu", "in_channels": 3,
    "out_hidden_size": 2048, "patch_size": 14, "spatial_merge_size": 2, "temporal_patch_size": 2, "window_size": 112,
    "fullatt_block_indexes": [7, 15, 23, 31], "tokens_per_second": 2,
}
QWEN25VL_3B_TIE_EMBEDDINGS = True  # the 3B checkpoint ties the LM head to the token embedding
#: ``--tiny``: a small batch of the same step (CPU test)
TINY_GRPO = {"per_device_train_batch_size": 4, "gradient_accumulation_steps": 1, "num_generations": 2, "max_completion_length": 8}
TINY_ROUND = {"clip_frames": 2, "max_pixels": 3136}


class StepTimeout(BaseException):
    """The setting's time share ran out during a step (raised by the alarm; a BaseException, so no library
    ``except Exception`` swallows it)."""


def qwen25vl_3b_config(tokenizer: Any) -> Any:
    """The Qwen2.5-VL-3B ``Qwen2_5_VLConfig`` with the special token ids of ``tokenizer``."""
    from transformers import Qwen2_5_VLConfig

    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in ("<|endoftext|>", "<|im_end|>", "<|image_pad|>", "<|video_pad|>",
                                                           "<|vision_start|>", "<|vision_end|>")}
    text = {**QWEN25VL_3B_TEXT, "bos_token_id": ids["<|endoftext|>"], "eos_token_id": ids["<|im_end|>"],
            "pad_token_id": ids["<|endoftext|>"], "tie_word_embeddings": QWEN25VL_3B_TIE_EMBEDDINGS}
    return Qwen2_5_VLConfig(text_config=text, vision_config=dict(QWEN25VL_3B_VISION), image_token_id=ids["<|image_pad|>"],
                            video_token_id=ids["<|video_pad|>"], vision_start_token_id=ids["<|vision_start|>"],
                            vision_end_token_id=ids["<|vision_end|>"], tie_word_embeddings=QWEN25VL_3B_TIE_EMBEDDINGS)


def build_policy(tiny: bool, round_cfg: Any, dtype: Any, device: str, seed: int, workdir: Path) -> tuple[Any, Any]:
    """(model, processor): the tiny model of :mod:`spatialevo.train.tiny`, or the 3B architecture
    initialised at random on ``device`` (a processor with the tiny tokenizer and the round's pixel budget)."""
    import torch
    from transformers import GenerationConfig, Qwen2_5_VLForConditionalGeneration

    try:  # transformers 5's PIL backend; else the default Qwen2-VL image processor
        from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil as ImageProcessor
    except ImportError:
        from transformers import Qwen2VLImageProcessor as ImageProcessor

    from spatialevo.train.processor import Qwen2_5_VLImageOnlyProcessor
    from spatialevo.train.tiny import CHAT_TEMPLATE, _build_tokenizer, make_tiny_qwen25vl

    if tiny:
        model, processor = make_tiny_qwen25vl(workdir / "tiny-model", seed=seed)
        return model.to(device=device, dtype=dtype), processor
    tok = _build_tokenizer()
    tok.model_max_length = QWEN25VL_3B_TEXT["max_position_embeddings"]
    image = ImageProcessor(min_pixels=round_cfg.min_pixels, max_pixels=round_cfg.max_pixels, patch_size=14,
                                     temporal_patch_size=2, merge_size=2)
    processor = Qwen2_5_VLImageOnlyProcessor(image_processor=image, tokenizer=tok, chat_template=CHAT_TEMPLATE)
    config = qwen25vl_3b_config(tok)
    torch.manual_seed(seed)
    with torch.device(device):
        model = Qwen2_5_VLForConditionalGeneration._from_config(config, dtype=dtype, attn_implementation="sdpa")
    model.generation_config = GenerationConfig(bos_token_id=config.text_config.bos_token_id, pad_token_id=tok.pad_token_id,
                                               eos_token_id=[tok.convert_tokens_to_ids("<|im_end|>"), tok.pad_token_id])
    return model, processor


def prepare_policy(model: Any, setting: str, cfg: Any, lr: float) -> tuple[Any, Any]:
    """(policy, optimizer) of a setting: LoRA adapters for ``lora``, gradient checkpointing as the
    config says, AdamW over the trainable weights."""
    import torch

    if cfg.grpo.get("gradient_checkpointing", True):
        with warnings.catch_warnings():  # transformers 5.2x: renamed activation checkpointing (a FutureWarning)
            warnings.simplefilter("ignore", FutureWarning)
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    if setting == "lora":
        from dataclasses import replace

        from peft import get_peft_model

        from spatialevo.train.launcher import lora_config

        model = get_peft_model(model, lora_config(replace(cfg, peft=cfg.peft if cfg.peft is not None else {})))
    params = [p for p in model.parameters() if p.requires_grad]
    cuda = next(model.parameters()).is_cuda
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=float(cfg.grpo.get("weight_decay", 0.0)), fused=cuda, foreach=not cuda)
    return model, opt


def chat_text(processor: Any, row: dict[str, Any]) -> str:
    """The row's prompt through the chat template, its images first (as TRL places them)."""
    text = row["prompt"][0]["content"]
    content = [*({"type": "image"} for _ in row["images"]), {"type": "text", "text": text}]
    return processor.apply_chat_template([{"role": "user", "content": content}], tokenize=False, add_generation_prompt=True)


def image_rows(grid_thw: Any, images_per_seq: list[int]) -> list[tuple[int, int, int, int]]:
    """Per sequence: (first image, end image, first pixel row, end pixel row) of ``pixel_values``
    (rows = patches, ``t·h·w`` per image of ``grid_thw`` (n_images, 3))."""
    patches = [int(t * h * w) for t, h, w in grid_thw.tolist()]
    out, img, row = [], 0, 0
    for n in images_per_seq:
        rows = sum(patches[img:img + n])
        out.append((img, img + n, row, row + rows))
        img, row = img + n, row + rows
    return out


def advantages(rewards: Any, weights: Any, group: int, mode: str) -> Any:
    """TRL's advantages of (N, F) rewards (NaN: the function does not score that row), groups of
    ``group`` consecutive rows: ``grpo`` = sum then normalise per group, ``gdpo`` = normalise each
    function per group, sum, normalise over the batch (``normalize_then_sum``)."""
    import torch

    def nanstd(x: Any, dim: Any = None, keepdim: bool = False) -> Any:
        mean = torch.nanmean(x, dim=dim, keepdim=True)
        n = (~torch.isnan(x)).sum(dim=dim, keepdim=True).clamp(min=2)
        var = torch.nansum((x - mean) ** 2, dim=dim, keepdim=True) / (n - 1)
        return var.sqrt() if keepdim or dim is None else var.sqrt().squeeze(dim)

    unscorable = torch.isnan(rewards).all(dim=1)
    if mode == "gdpo":
        g = rewards.view(-1, group, rewards.shape[1])
        r = ((g - torch.nanmean(g, dim=1, keepdim=True)) / (nanstd(g, dim=1, keepdim=True) + 1e-4)).view(-1, rewards.shape[1])
        total = (r * weights).nansum(dim=1)
        total[unscorable] = torch.nan
        adv = (total - torch.nanmean(total)) / (nanstd(total) + 1e-4)
    else:
        total = (rewards * weights).nansum(dim=1)
        total[unscorable] = torch.nan
        g = total.view(-1, group)
        adv = ((g - torch.nanmean(g, dim=1, keepdim=True)) / (nanstd(g, dim=1, keepdim=True) + 1e-4)).view(-1)
    return torch.nan_to_num(adv, nan=0.0)


class Bench:
    """One setting's policy, optimizer, row stream and rewards; :meth:`step` runs one GRPO step."""

    def __init__(self, cfg: Any, model: Any, processor: Any, opt: Any, grpo: dict[str, Any], autocast: bool):
        import torch

        from spatialevo.dge import TASK_NAMES
        from spatialevo.selfplay import Round
        from spatialevo.selfplay.curriculum import make_scheduler
        from spatialevo.train.rewards import SelfPlayRewards
        from spatialevo.train.stream import SelfPlayStream

        self.model, self.processor, self.opt, self.grpo = model, processor, opt, grpo
        self.device = next(model.parameters()).device
        self.autocast = autocast
        self.group = int(grpo["num_generations"])
        self.micro = int(grpo["per_device_train_batch_size"])
        self.completions = self.micro * int(grpo.get("gradient_accumulation_steps", 1))
        if self.completions % self.group:
            raise SystemExit(f"per_device_train_batch_size x gradient_accumulation_steps ({self.completions}) must be a multiple of num_generations")
        sched_kw = dict(cfg.scheduler)
        scheduler = make_scheduler(sched_kw.pop("kind", "adaptive"), TASK_NAMES, **sched_kw)
        rnd = Round(cfg.scenes, cfg.round_config())
        self.stream = SelfPlayStream(rnd, scheduler, seed=cfg.seed, roles=cfg.roles)
        self.rows = iter(self.stream)
        inf = cfg.informativeness
        self.rewards = SelfPlayRewards(rnd, informativeness_weight=float(inf.get("weight", 0.3)), scheduler=scheduler)
        self.funcs, weights = self.rewards.functions(split=cfg.advantage == "gdpo")
        self.weights = torch.tensor(weights, dtype=torch.float32)
        self.mode = cfg.advantage
        self.inf_gen, self.inf_tokens = int(inf.get("generations", 4)), int(inf.get("max_new_tokens", 64))
        self.rewards.solve = self._solve
        self.solve_s = 0.0
        self.solve_groups = 0
        tok = processor.tokenizer
        self.eos = sorted({tok.convert_tokens_to_ids("<|im_end|>"), tok.pad_token_id})
        self.pad = tok.pad_token_id
        self.image_token = model.config.image_token_id

    def _ctx(self) -> Any:
        import torch

        return torch.autocast(self.device.type, dtype=torch.bfloat16) if self.autocast else contextlib.nullcontext()

    def _sync(self) -> float:
        import torch

        if self.device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter()

    def _solve(self, items: list) -> list[list[str]]:
        """The informativeness solver groups (as the launcher's ``_solver_group``), timed apart from the DGE."""
        from spatialevo.dge import Question
        from spatialevo.train.solver import answer, pil_images

        t0 = self._sync()
        prompts, images = [], []
        for it in items:
            scene, q, frames = it if it is not None else (self.stream.usable[0], Question("room_size", ()), None)
            turn = self.stream.round.solver_turn(scene, q, frames=frames, kind="asked" if it is not None else "given")
            prompts.append(turn.prompt)
            images.append(pil_images(turn.images))
        with self._ctx():
            out = answer(self.model, self.processor, prompts, images, n=self.inf_gen, max_new_tokens=self.inf_tokens, do_sample=True)
        self.solve_s += self._sync() - t0
        self.solve_groups += len(items)
        return out

    def step(self) -> dict[str, Any]:
        """One optimiser step; its phases (seconds), token counts and the DGE seconds."""
        import torch

        t0 = self._sync()
        dge0, rew0, solve0, groups0 = self.stream.dge_seconds, self.rewards.seconds, self.solve_s, self.solve_groups
        rows = self.stream.resolve([next(self.rows) for _ in range(self.completions // self.group)])
        rows = [r for r in rows for _ in range(self.group)]  # TRL's sampler repeats each prompt num_generations times
        texts = [chat_text(self.processor, r) for r in rows]
        enc = self.processor(text=texts, images=[list(r["images"]) for r in rows], return_tensors="pt", padding=True)
        enc = {k: v.to(self.device) for k, v in enc.items()}
        t1 = self._sync()
        self.model.eval()  # generation: KV cache on, checkpointing off (as TRL's unwrap_model_for_generation)
        with torch.no_grad(), self._ctx():
            out = self.model.generate(**enc, do_sample=True, temperature=float(self.grpo.get("temperature", 1.0)), top_p=1.0, top_k=0,
                                      max_new_tokens=int(self.grpo["max_completion_length"]), suppress_tokens=[self.image_token],
                                      eos_token_id=self.eos, pad_token_id=self.pad, use_cache=True)
        t2 = self._sync()
        prompt_len = enc["input_ids"].shape[1]
        comp = out[:, prompt_len:]
        is_eos = torch.isin(comp, torch.tensor(self.eos, device=comp.device))
        first = torch.where(is_eos.any(1), is_eos.int().argmax(1), torch.full_like(is_eos[:, 0], comp.shape[1], dtype=torch.long))
        cmask = (torch.arange(comp.shape[1], device=comp.device)[None] <= first[:, None]).long()
        ids_list = [c[m.bool()].tolist() for c, m in zip(comp.cpu(), cmask.cpu())]
        completions = [[{"role": "assistant", "content": t}] for t in self.processor.batch_decode(ids_list, skip_special_tokens=True)]
        cols = {k: [r[k] for r in rows] for k in rows[0] if k != "prompt"}
        scores = [fn(prompts=[r["prompt"] for r in rows], completions=completions, completion_ids=ids_list, log_metric=None, **cols)
                  for fn in self.funcs]
        rewards = torch.tensor([[float("nan") if s[i] is None else float(s[i]) for s in scores] for i in range(len(rows))])
        adv = advantages(rewards, self.weights, self.group, self.mode).to(self.device)
        self.stream.advance(**self.rewards.flush())
        t3 = self._sync()
        self._train(enc, comp, cmask, adv, [len(r["images"]) for r in rows])
        t4 = self._sync()
        dge = (self.stream.dge_seconds - dge0) + (self.rewards.seconds - rew0) - (self.solve_s - solve0)
        return {"step_s": t4 - t0, "prepare_s": t1 - t0, "generate_s": t2 - t1, "rewards_s": t3 - t2, "train_s": t4 - t3,
                "dge_s": dge, "informativeness_s": self.solve_s - solve0, "informativeness_groups": self.solve_groups - groups0,
                "completion_tokens": int(cmask.sum()), "prompt_tokens": int(enc["attention_mask"].sum()), "sequences": len(rows),
                "prompt_len_padded": prompt_len}

    def _train(self, enc: dict[str, Any], comp: Any, cmask: Any, adv: Any, n_images: list[int]) -> None:
        """Micro-batches of the clipped token-level policy-gradient loss (DAPO token mean), backward, AdamW."""
        import torch

        eps_low = float(self.grpo.get("epsilon", 0.2))
        eps_high = float(self.grpo.get("epsilon_high") or eps_low)
        temperature = float(self.grpo.get("temperature", 1.0))
        total_tokens = cmask.sum().clamp(min=1)
        spans = image_rows(enc["image_grid_thw"], n_images) if "image_grid_thw" in enc else None
        self.model.train()
        for s in range(0, comp.shape[0], self.micro):
            e = min(s + self.micro, comp.shape[0])
            ids = torch.cat([enc["input_ids"][s:e], comp[s:e]], dim=1)
            kw: dict[str, Any] = {"attention_mask": torch.cat([enc["attention_mask"][s:e], cmask[s:e]], dim=1)}
            if "mm_token_type_ids" in enc:
                kw["mm_token_type_ids"] = torch.cat([enc["mm_token_type_ids"][s:e], torch.zeros_like(comp[s:e])], dim=1)
            if spans is not None:
                kw["pixel_values"] = enc["pixel_values"][spans[s][2]:spans[e - 1][3]]
                kw["image_grid_thw"] = enc["image_grid_thw"][spans[s][0]:spans[e - 1][1]]
            with self._ctx():
                logits = self.model(input_ids=ids, logits_to_keep=comp.shape[1] + 1, use_cache=False, **kw).logits[:, :-1]
            logps = torch.log_softmax(logits.float() / temperature, dim=-1).gather(-1, comp[s:e, :, None]).squeeze(-1)
            ratio = torch.exp(logps - logps.detach())
            a = adv[s:e, None]
            per_token = -torch.min(ratio * a, torch.clamp(ratio, 1 - eps_low, 1 + eps_high) * a)
            loss = (per_token * cmask[s:e]).sum() / total_tokens
            loss.backward()
            del logits, logps, ratio, per_token, loss
        params = [p for g in self.opt.param_groups for p in g["params"]]
        torch.nn.utils.clip_grad_norm_(params, float(self.grpo.get("max_grad_norm", 1.0)))
        self.opt.step()
        self.opt.zero_grad(set_to_none=True)


def _alarm(seconds: float | None) -> None:
    """Raise :class:`StepTimeout` in ``seconds`` (at once when they are spent; ``None``: cancel);
    POSIX only, a no-op elsewhere."""
    if not hasattr(signal, "SIGALRM"):
        return

    def fire(signum: int, frame: Any) -> None:
        raise StepTimeout

    signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, 0.0 if seconds is None else max(1e-3, seconds))


def run_setting(setting: str, cfg: Any, grpo: dict[str, Any], args: argparse.Namespace, deadline: float, workdir: Path) -> dict[str, Any]:
    """Build, warm up and measure one setting before ``deadline`` (``time.perf_counter`` seconds); its JSON record."""
    import torch

    from spatialevo.train.launcher import load_dtype

    cuda = args.device.startswith("cuda")
    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    name = args.dtype if args.dtype != "auto" else (load_dtype(cfg) if args.tiny else "bfloat16")
    dtype = torch.float32 if setting == "full-fp32" else getattr(torch, name)
    record: dict[str, Any] = {"bench": "gpu_bench", "setting": setting, "model": "tiny" if args.tiny else "qwen2.5-vl-3b-architecture",
                              "device": torch.cuda.get_device_name() if cuda else "cpu", "dtype": str(dtype).removeprefix("torch."),
                              "autocast_bf16": setting == "full-fp32", "rollouts": "transformers generate (vLLM not measured)"}
    steps: list[dict[str, Any]] = []
    t_build = time.perf_counter()
    bench = None
    _alarm(deadline - time.perf_counter())
    try:
        model, processor = build_policy(args.tiny, cfg.round_config(), dtype, args.device, cfg.seed, workdir)
        policy, opt = prepare_policy(model, setting, cfg, float(grpo.get("learning_rate", 1e-6)))
        record["params_total"] = sum(p.numel() for p in policy.parameters())
        record["params_trainable"] = sum(p.numel() for p in policy.parameters() if p.requires_grad)
        bench = Bench(cfg, policy, processor, opt, grpo, autocast=setting == "full-fp32")
        record["build_s"] = round(time.perf_counter() - t_build, 3)
        for k in range(args.warmup + args.steps):
            last = steps[-1]["step_s"] if steps else 0.0
            if k > args.warmup - 1 and steps and time.perf_counter() + last > deadline:
                break  # the next step would not finish in this setting's share
            steps.append(bench.step())
    except StepTimeout:
        record["truncated"] = True
    except Exception as exc:  # noqa: BLE001 (e.g. out of memory: the line says so and the next setting runs)
        record["error"] = f"{type(exc).__name__}: {exc}"[:800]
    finally:
        _alarm(None)
    record.setdefault("truncated", len(steps) < args.warmup + args.steps)
    measured = steps[args.warmup:] or steps[-1:]  # without a measured step: the warm-up step, flagged
    record["steps_measured"] = len(steps[args.warmup:])
    record["batch"] = {**{k: grpo.get(k) for k in ("per_device_train_batch_size", "gradient_accumulation_steps", "num_generations",
                                                      "max_completion_length")},
                       "gradient_checkpointing": bool(cfg.grpo.get("gradient_checkpointing", True)),
                       "prompts_per_step": bench.completions // bench.group if bench else None,
                       "clip_frames": cfg.round_config().clip_frames, "max_pixels": cfg.round_config().max_pixels}
    if measured:
        med = {k: statistics.median(s[k] for s in measured) for k in measured[0]}
        gen_s = sum(s["generate_s"] for s in measured)
        record.update({
            "step_s": round(med["step_s"], 3), "step_s_all": [round(s["step_s"], 3) for s in measured],
            "phases_s": {k: round(med[k], 3) for k in ("prepare_s", "generate_s", "rewards_s", "train_s")},
            "rollout_tokens_per_s": round(sum(s["completion_tokens"] for s in measured) / gen_s, 1) if gen_s > 0 else None,
            "completion_tokens_mean": round(med["completion_tokens"] / med["sequences"], 1),
            "prompt_tokens_mean": round(med["prompt_tokens"] / med["sequences"], 1), "prompt_len_padded": int(med["prompt_len_padded"]),
            "dge_s": round(med["dge_s"], 4), "dge_share": round(statistics.median(s["dge_s"] / s["step_s"] for s in measured), 5),
            "informativeness_s": round(med["informativeness_s"], 3),
            "informativeness_groups": int(sum(s["informativeness_groups"] for s in measured)),
        })
    record["peak_gpu_mem_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2) if cuda else None
    record["peak_gpu_reserved_gib"] = round(torch.cuda.max_memory_reserved() / 2**30, 2) if cuda else None
    return record


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", default=str(ROOT / "configs" / "1gpu-3b.yaml"), help="evolve config: batch, lengths, round, peft (default configs/1gpu-3b.yaml)")
    ap.add_argument("--settings", default="full-fp32,lora,full", help=f"comma-separated, of {', '.join(SETTINGS)} (default full-fp32,lora,full)")
    ap.add_argument("--steps", type=int, default=None, help="measured steps per setting (default 3; --tiny 1)")
    ap.add_argument("--warmup", type=int, default=None, help="unmeasured steps first (default 1; --tiny 0)")
    ap.add_argument("--budget", type=float, default=420.0, help="seconds for the whole run (default 420)")
    ap.add_argument("--tiny", action="store_true", help="the tiny model and a tiny batch (CPU test)")
    ap.add_argument("--device", default=None, help="default: cuda when available, else cpu")
    ap.add_argument("--dtype", default="auto", choices=("auto", "bfloat16", "float32"),
                    help="weights of full / lora (auto: bfloat16; --tiny: the config's model_dtype, float32 on CPU)")
    ap.add_argument("--json", default=None, help="also append the lines to this file")
    args = ap.parse_args(argv)
    t_start = time.perf_counter()
    import torch

    from spatialevo.train.config import load_config

    args.device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    args.steps = args.steps if args.steps is not None else (1 if args.tiny else 3)
    args.warmup = args.warmup if args.warmup is not None else (0 if args.tiny else 1)
    settings = [s.strip() for s in args.settings.split(",") if s.strip()]
    bad = [s for s in settings if s not in SETTINGS]
    if bad or not settings or args.steps < 1 or args.warmup < 0:
        ap.error(f"--settings takes {', '.join(SETTINGS)} (got {bad or settings}); --steps >= 1, --warmup >= 0")
    if not args.tiny and not args.device.startswith("cuda"):
        print("warning: the 3B architecture on CPU is very slow; use --tiny for a CPU check", file=sys.stderr)
    cfg = load_config(args.config)
    grpo = dict(cfg.grpo)
    if args.tiny:
        grpo.update(TINY_GRPO)
        cfg = load_config(args.config, round={**cfg.round, **TINY_ROUND})
    torch.manual_seed(cfg.seed)
    failed = 0
    with tempfile.TemporaryDirectory(prefix="gpu_bench_") as tmp:
        for i, setting in enumerate(settings):
            share = (args.budget - (time.perf_counter() - t_start)) / (len(settings) - i)
            record = run_setting(setting, cfg, grpo, args, time.perf_counter() + share, Path(tmp))
            failed += "error" in record
            line = json.dumps(record, sort_keys=True)
            print(line, flush=True)
            if args.json:
                Path(args.json).parent.mkdir(parents=True, exist_ok=True)
                with open(args.json, "a") as f:
                    f.write(line + "\n")
            gc.collect()
            if args.device.startswith("cuda"):
                torch.cuda.empty_cache()
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
