"""The evolve run configuration (``configs/<name>.yaml``).

Top-level keys (all optional except ``output_dir``):

``model``        ``"tiny"`` (a tiny random Qwen2.5-VL built offline, for smoke tests) or the path
                 of a local transformers VLM checkpoint (Qwen2.5-VL family by default).
``model_dtype``  the dtype the policy's weights are loaded in (the tiny model too): ``auto``
                 (default: ``bfloat16`` with CUDA for LoRA or DeepSpeed, else ``float32``, trained
                 under bf16 autocast with CUDA: pure bf16 weights lose small AdamW updates), ``bfloat16``,
                 ``float16`` (only with ``peft:``; full fine-tuning of float16 weights fails in the
                 fp16 grad scaler) or ``float32``. Not under ``grpo: model_init_kwargs``.
``peft``         LoRA adapters instead of full fine-tuning (absent or ``null``: full fine-tuning;
                 ``{}``: the defaults): ``{r: 16, lora_alpha: 32, lora_dropout: 0.05,
                 target_modules: [q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj],
                 freeze_vision: true}``. The default targets are the language model's attention
                 (q/k/v/o) and MLP (gate/up/down) projections. ``freeze_vision: true`` keeps every
                 adapter out of the vision tower (``visual.*``: it stays frozen); ``false`` also
                 puts adapters on the vision blocks' attention (``qkv``, ``attn.proj``) and on
                 the target names there (the vision MLPs' gate/up/down projections). Checkpoints
                 and ``final/`` then hold the adapter (``adapter_model.safetensors``) only.
``scenes``       ``"bundled"``, ``"synthetic"`` or a folder of scenes (any layout).
``output_dir``   checkpoints, logs and the final model.
``seed``         run seed (rows, sampling, initialisation).
``max_steps``    optimiser steps.
``round``        how each role is shown a question (:class:`spatialevo.selfplay.RoundConfig`):
                 ``{clip_frames: 16, min_visible: 0.05, min_pixels: 3136, max_pixels: 50176,
                 invalid_rate: 0.1, counting_min: 2, trivial_weight: 0.5, max_question_age: 1,
                 cache: 32, answer_format: direct}`` — a scene task's clip of frames, the per-image
                 pixel budget (aspect kept), the share of invalid questions the solver sees, the
                 solver's answer format (``direct``: ``<answer>…</answer>``; ``reasoning``:
                 ``<think>…</think><answer>…</answer>``, both blocks checked by the format reward), …
``advantage``    ``"grpo"`` (sum the rewards, then normalise per group) or ``"gdpo"`` (normalise
                 each reward per group, then sum: decoupled, for the questioner's multi-part reward).
``scheduler``    ``{kind: adaptive|uniform, temperature, floor, momentum}``.
``roles``        roles of consecutive rows, cycled: ``[questioner, solver]`` (default) or
                 ``[solver]`` (solver-only training).
``questions``    a ``data.jsonl`` written by ``spatialevo generate`` on the same ``scenes``: a
                 fixed question set for the solver rows, used in order.
``informativeness``  ``{weight: 0.3, generations: 4, max_new_tokens: 64}``: the questioner's
                 informativeness term (SPEC §6): the policy answers each valid question as a
                 solver group of ``generations``; weight 0 turns it off (no extra generation).
``pose_aux``     optional auxiliary pose loss on the vision features (``spatialevo.pose``):
                 ``{weight: 0.1, hidden: 256, penalty: 4.0, lr: 1.0e-4}``; absent: off.
``resume``       ``true`` (default): continue from the last checkpoint in ``output_dir`` if any.
``threads``      torch CPU threads (default: leave torch's choice).
``grpo``         keyword arguments of ``trl.GRPOConfig`` (batch size, generations, lengths,
                 learning rate, ``save_steps``, ``report_to``, ``deepspeed``, vLLM options, …).
                 Checked when the config is read: an unknown key is named with the closest
                 valid ones, and a number or flag field given another type (e.g. ``"2"`` or
                 ``1e-3``, which YAML reads as a string) is refused. spatialevo's defaults (a key
                 given here wins): ``save_total_limit: 2`` (older checkpoints are deleted; with 2
                 or more, a run killed while saving keeps a complete one; ``null`` keeps all),
                 ``save_steps: 50``, ``logging_steps: 1``, ``bf16`` on CUDA (``fp16`` with
                 ``model_dtype: float16``), TensorBoard (+ W&B when installed).
                 ``gradient_checkpointing`` (TRL's default: on) works with ``peft:``.
                 vLLM rollouts (``use_vllm: true``, the ``vllm`` extra) are checked by
                 :func:`check_vllm`: the mode, the server address, the keys each mode reads.
"""

from __future__ import annotations

import difflib
import enum
import logging
import re
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from spatialevo.errors import SpatialEvoError
from spatialevo.selfplay import RoundConfig

ADVANTAGES = ("grpo", "gdpo")
#: generation length (tokens) below which the reasoning format gets a warning
MIN_REASONING_TOKENS = 256
DTYPES = ("auto", "bfloat16", "float16", "float32")  #: choices of ``model_dtype``
#: ``peft:`` defaults: LoRA on the language model's attention and MLP projections
PEFT_DEFAULTS: dict[str, Any] = {"r": 16, "lora_alpha": 32, "lora_dropout": 0.05,
                                 "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
                                 "freeze_vision": True}


@dataclass
class EvolveConfig:
    """See the module docstring for each field."""

    output_dir: str
    model: str = "tiny"
    model_dtype: str = "auto"
    peft: dict[str, Any] | None = None
    scenes: str = "bundled"
    seed: int = 0
    max_steps: int = 100
    round: dict[str, Any] = field(default_factory=dict)
    advantage: str = "grpo"
    scheduler: dict[str, Any] = field(default_factory=lambda: {"kind": "adaptive"})
    roles: list[str] = field(default_factory=lambda: ["questioner", "solver"])
    questions: str | None = None
    pose_aux: dict[str, Any] | None = None
    informativeness: dict[str, Any] = field(default_factory=lambda: {"weight": 0.3, "generations": 4, "max_new_tokens": 64})
    resume: bool = True
    threads: int | None = None
    grpo: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.advantage not in ADVANTAGES:
            raise SpatialEvoError(f"advantage must be one of {ADVANTAGES}, got {self.advantage!r}")
        if int(self.max_steps) < 1:
            raise SpatialEvoError("max_steps must be >= 1")
        if not isinstance(self.round, dict):
            raise SpatialEvoError("round must be a mapping (see spatialevo.selfplay.RoundConfig)")
        self._warn_short_reasoning(self.round_config())  # option errors now, named
        for key in ("output_dir", "max_steps", "seed", "reward_weights", "multi_objective_aggregation"):
            if key in self.grpo:
                raise SpatialEvoError(f"set {key!r} at the top level of the config, not under grpo: (spatialevo sets it)")
        if not isinstance(self.grpo, dict) or not isinstance(self.scheduler, dict):
            raise SpatialEvoError("grpo and scheduler must be mappings")
        check_grpo(self.grpo)
        check_vllm(self.grpo, self.model)
        self.check_memory_options()
        inf = self.informativeness
        if not isinstance(inf, dict) or set(inf) - {"weight", "generations", "max_new_tokens"}:
            raise SpatialEvoError(f"informativeness takes weight, generations, max_new_tokens; got {inf!r}")
        if float(inf.get("weight", 0.3)) < 0 or int(inf.get("generations", 4)) < 1 or int(inf.get("max_new_tokens", 64)) < 1:
            raise SpatialEvoError(f"informativeness needs weight >= 0, generations >= 1, max_new_tokens >= 1; got {inf!r}")
        if self.pose_aux is not None:
            unknown = sorted(set(self.pose_aux) - {"weight", "hidden", "penalty", "lr"})
            if not isinstance(self.pose_aux, dict) or unknown:
                raise SpatialEvoError(f"pose_aux takes weight, hidden, penalty, lr; got {self.pose_aux!r}")
            if float(self.pose_aux.get("weight", 0.1)) <= 0:
                raise SpatialEvoError("pose_aux.weight must be > 0 (remove pose_aux to turn it off)")

    def check_memory_options(self) -> None:
        """Check ``model_dtype`` and ``peft:`` (before any model is built).

        Raises:
            SpatialEvoError: one line naming the key: an unknown dtype, an unknown ``peft:`` key (with
                the closest valid one), a value of the wrong type or range, a dtype under
                ``grpo: model_init_kwargs``, or ``float16`` without ``peft:``.
        """
        if self.model_dtype not in DTYPES:
            close = difflib.get_close_matches(str(self.model_dtype), DTYPES, n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]}?" if close else ""
            raise SpatialEvoError(f"model_dtype must be one of {', '.join(DTYPES)}; got {self.model_dtype!r}{hint}")
        init = self.grpo.get("model_init_kwargs")
        if isinstance(init, dict) and {"dtype", "torch_dtype"} & set(init):
            raise SpatialEvoError("set the load dtype as model_dtype at the top level of the config, not under grpo: model_init_kwargs")
        if self.peft is not None:
            check_peft(self.peft)
        elif self.model_dtype == "float16":
            raise SpatialEvoError("model_dtype float16 needs peft: (full fine-tuning of float16 weights fails in the fp16 grad scaler); "
                                  "use bfloat16 or float32")

    def lora_settings(self) -> dict[str, Any] | None:
        """The ``peft:`` section with the defaults filled in (:data:`PEFT_DEFAULTS`); ``None``: full fine-tuning."""
        if self.peft is None:
            return None
        out = {**PEFT_DEFAULTS, **self.peft}
        out["target_modules"] = [out["target_modules"]] if isinstance(out["target_modules"], str) else list(out["target_modules"])
        return out

    def _warn_short_reasoning(self, rc: RoundConfig) -> None:
        """With ``answer_format: reasoning``, warn when a generation length leaves no room for the
        think block (its answers would be cut before ``</answer>``: format 0, a constant reward)."""
        if rc.answer_format != "reasoning":
            return
        lengths = {"informativeness.max_new_tokens": int(self.informativeness.get("max_new_tokens", 64)),
                   "grpo.max_completion_length": int(self.grpo.get("max_completion_length", 256))}
        for key, n in lengths.items():
            if n < MIN_REASONING_TOKENS:
                logging.getLogger(__name__).warning(
                    "answer_format reasoning with %s %d: a <think> block and the answer rarely fit (their rewards would be 0); "
                    "give it at least %d tokens", key, n, MIN_REASONING_TOKENS)

    def round_config(self) -> RoundConfig:
        """The :class:`~spatialevo.selfplay.RoundConfig` of the ``round:`` section."""
        return RoundConfig.from_dict(self.round)

    def check_model(self) -> Path | None:
        """The local checkpoint folder (``None`` for ``"tiny"``).

        Raises:
            SpatialEvoError: the folder does not exist.
        """
        if self.model == "tiny":
            return None
        path = Path(self.model).expanduser()
        if not (path / "config.json").is_file():
            raise SpatialEvoError(f"model checkpoint not found: {self.model} (a local folder with config.json; nothing is downloaded)")
        return path


def check_peft(peft: Any) -> None:
    """Check a ``peft:`` section (keys of :data:`PEFT_DEFAULTS`).

    Raises:
        SpatialEvoError: not a mapping, an unknown key (named with the closest valid one and the
            valid keys), or a value of the wrong type or range (named).
    """
    if not isinstance(peft, dict):
        raise SpatialEvoError(f"peft must be a mapping (peft: {{}} for the defaults {PEFT_DEFAULTS}), got {peft!r}")
    for key, value in peft.items():
        if key not in PEFT_DEFAULTS:
            close = difflib.get_close_matches(str(key), PEFT_DEFAULTS, n=1, cutoff=0.6)
            hint = f"did you mean {close[0]}? " if close else ""
            raise SpatialEvoError(f"peft: unknown key {key!r}; {hint}valid keys: {', '.join(PEFT_DEFAULTS)}")
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        problem = {
            "r": None if isinstance(value, int) and not isinstance(value, bool) and value >= 1 else "an integer >= 1",
            "lora_alpha": None if number and value > 0 else "a number > 0",
            "lora_dropout": None if number and 0 <= value < 1 else "a number in [0, 1)",
            "target_modules": None if (isinstance(value, str) and value) or (isinstance(value, list) and value and all(
                isinstance(m, str) and m for m in value)) else "a non-empty list of module names",
            "freeze_vision": None if isinstance(value, bool) else "true/false",
        }[key]
        if problem:
            raise SpatialEvoError(f"peft.{key}: expected {problem}, got {type(value).__name__} {value!r}")


_SIMPLE = (bool, int, float, type(None))  #: field types whose values check_grpo verifies


def grpo_fields() -> dict[str, Any] | None:
    """``trl.GRPOConfig``'s dataclass fields by name and declared type (``None`` without trl)."""
    try:
        from trl import GRPOConfig
    except ImportError:  # no 'train' extra: nothing to run, nothing to check against
        return None
    import dataclasses

    return {f.name: f.type for f in dataclasses.fields(GRPOConfig) if f.init}


def check_grpo(grpo: dict[str, Any]) -> None:
    """Check the ``grpo:`` keys against ``trl.GRPOConfig`` (before any model is loaded).

    Raises:
        SpatialEvoError: an unknown key (named with the closest valid ones), or a value whose type
            a number / flag field cannot take.
    """
    known = grpo_fields()
    if known is None:
        return
    for key, value in grpo.items():
        if key not in known:
            close = difflib.get_close_matches(str(key), known, n=3, cutoff=0.6)
            hint = f"; did you mean {', '.join(close)}?" if close else " (see trl.GRPOConfig for the valid keys)"
            raise SpatialEvoError(f"grpo: unknown key {key!r}{hint}")
        problem = _type_problem(known[key], value)
        if problem:
            raise SpatialEvoError(f"grpo.{key}: {problem}")


VLLM_MODES = ("colocate", "server")  #: choices of ``grpo.vllm_mode``
#: ``grpo:`` keys TRL reads only in colocate mode, and the ``trl vllm-serve`` flag that sets each on a server (``None``: none)
VLLM_COLOCATE_ONLY: dict[str, str | None] = {"vllm_gpu_memory_utilization": "--gpu_memory_utilization",
                                             "vllm_tensor_parallel_size": "--tensor_parallel_size",
                                             "vllm_max_model_length": "--max_model_len", "vllm_model_impl": "--vllm_model_impl",
                                             "vllm_enable_sleep_mode": None}
#: ``grpo:`` keys TRL reads only in server mode
VLLM_SERVER_ONLY = ("vllm_server_base_url", "vllm_server_host", "vllm_server_port", "vllm_server_timeout", "vllm_group_port")
_CHOICES = {"vllm_mode": VLLM_MODES, "vllm_model_impl": ("vllm", "transformers"),
            "vllm_importance_sampling_mode": ("token_truncate", "token_mask", "sequence_truncate", "sequence_mask")}
_BASE_URL = re.compile(r"https?://(?P<host>[^\s/:?#]+|\[[0-9A-Fa-f:.]+\]):(?P<port>\d+)/?")


def check_vllm(grpo: dict[str, Any], model: str) -> None:
    """Check the ``grpo:`` vLLM options (TRL ignores most mistakes in them silently, or finds them
    only once the model is loaded). vLLM itself is needed at build time only
    (:func:`spatialevo.train.launcher.check_packages`), not here.

    Raises:
        SpatialEvoError: one line: a ``vllm_*`` key without ``use_vllm: true``; an unknown
            ``vllm_mode`` (with the closest choice); server mode without an address
            (``vllm_server_base_url: http(s)://HOST:PORT``, or ``vllm_server_host`` and
            ``vllm_server_port``), with both, with a port outside 1..65535, or with a colocate-only key
            (naming the ``trl vllm-serve`` flag to use instead); a server-only key in colocate mode;
            ``vllm_gpu_memory_utilization`` outside (0, 1); ``vllm_tensor_parallel_size`` < 1;
            ``model: tiny`` (vLLM cannot load its processor).
    """
    keys = sorted(str(k) for k in grpo if str(k).startswith("vllm_"))
    use = grpo.get("use_vllm", False)
    if not isinstance(use, bool):
        raise SpatialEvoError(f"grpo.use_vllm: expected true/false, got {type(use).__name__} {use!r}")
    if not use:
        if keys:
            them = "them" if len(keys) > 1 else "it"
            raise SpatialEvoError(f"grpo: {', '.join(keys)} set without use_vllm: true (TRL then ignores {them}); "
                                  f"add use_vllm: true or remove {them}")
        return
    if model == "tiny":
        raise SpatialEvoError("grpo.use_vllm does not work with model: tiny: vLLM loads the checkpoint's own processor, and the tiny "
                              "model has spatialevo's image-only Qwen2.5-VL processor (no video processor), which vLLM cannot load; "
                              "use a local Qwen2.5-VL checkpoint folder")
    for key, choices in _CHOICES.items():
        if key in grpo and (problem := _choice_problem(list(choices), str(grpo[key]))):
            raise SpatialEvoError(f"grpo.{key}: {problem}")
    mode = grpo.get("vllm_mode", "colocate")
    if mode == "server":
        _check_vllm_server(grpo)
    else:
        wrong = [k for k in VLLM_SERVER_ONLY if k in grpo]
        if wrong:
            them = "them" if len(wrong) > 1 else "it"
            raise SpatialEvoError(f"grpo: {', '.join(wrong)} {'apply' if len(wrong) > 1 else 'applies'} only to vllm_mode: server "
                                  f"(TRL ignores {them} in colocate mode); remove {them} or set vllm_mode: server")
    _check_number(grpo, "vllm_gpu_memory_utilization", lambda v: 0 < v < 1, "a number in (0, 1): the share of each GPU's memory vLLM takes")
    _check_number(grpo, "vllm_tensor_parallel_size", lambda v: isinstance(v, int) and v >= 1, "an integer >= 1")
    if grpo.get("vllm_max_model_length") is not None:
        _check_number(grpo, "vllm_max_model_length", lambda v: isinstance(v, int) and v > int(grpo.get("max_completion_length") or 256),
                      "an integer above max_completion_length (it holds the prompt with its image tokens and the completion)")


def _check_vllm_server(grpo: dict[str, Any]) -> None:
    """The server-mode half of :func:`check_vllm`: an address, valid ports, no colocate-only key."""
    for key, flag in VLLM_COLOCATE_ONLY.items():
        if key in grpo:
            where = f"pass {flag} to `trl vllm-serve` instead" if flag else "it has no server equivalent"
            raise SpatialEvoError(f"grpo.{key} only applies to vllm_mode: colocate (TRL ignores it in server mode); {where}")
    url = grpo.get("vllm_server_base_url")
    if url is not None:
        if "vllm_server_host" in grpo or "vllm_server_port" in grpo:
            raise SpatialEvoError("grpo: set vllm_server_base_url or vllm_server_host / vllm_server_port, not both "
                                  "(TRL ignores the host and port when the base URL is set)")
        match = _BASE_URL.fullmatch(str(url))
        if match is None:
            raise SpatialEvoError(f"grpo.vllm_server_base_url: expected http(s)://HOST:PORT (where `trl vllm-serve` listens), got {url!r}")
        port = int(match["port"])
    else:
        host = grpo.get("vllm_server_host")
        if not isinstance(host, str) or not host.strip() or "/" in host:
            raise SpatialEvoError("grpo: vllm_mode: server needs the server's address: vllm_server_host: HOST (with vllm_server_port, "
                                  f"default 8000) or vllm_server_base_url: http://HOST:PORT; got vllm_server_host {host!r}")
        port = grpo.get("vllm_server_port", 8000)
    group = grpo.get("vllm_group_port", 51216)  # TRL's default: the NCCL weight-sync group, hosted by training rank 0
    for key, value in (("vllm_server_port" if url is None else "vllm_server_base_url", port), ("vllm_group_port", group)):
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 65535:
            raise SpatialEvoError(f"grpo.{key}: expected a port in 1..65535, got {value!r}")
    _check_number(grpo, "vllm_server_timeout", lambda v: v > 0, "a number of seconds > 0")


def _check_number(grpo: dict[str, Any], key: str, ok: Callable[[Any], bool], want: str) -> None:
    """Raise a one-line error when ``grpo[key]`` is given and is not a number that ``ok`` accepts."""
    if key not in grpo:
        return
    value = grpo[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not ok(value):
        raise SpatialEvoError(f"grpo.{key}: expected {want}, got {value!r}")


def _members(tp: Any) -> tuple[Any, ...]:
    """The members of a union type (``int | None`` → ``(int, NoneType)``), or the type itself."""
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
        return typing.get_args(tp)
    return (tp,)


def _type_problem(tp: Any, value: Any) -> str | None:
    """Why ``value`` does not fit a field declared ``tp``; ``None`` when it fits or when ``tp`` is
    not a number / flag / choice type (those values are left to ``GRPOConfig``)."""
    members = _members(tp)
    enums = [m for m in members if isinstance(m, type) and issubclass(m, enum.Enum)]
    if enums and isinstance(value, str):  # e.g. lr_scheduler_type: SchedulerType | str
        return _choice_problem([e.value for m in enums for e in m], value)
    if not all(m in _SIMPLE for m in members) or any(_fits(m, value) for m in members):
        return None
    want = " or ".join("null" if m is type(None) else {bool: "true/false", int: "an integer", float: "a number"}[m] for m in members)
    hint = " (YAML reads 1e-3 as a string: write 1.0e-3)" if isinstance(value, str) and float in members else ""
    return f"expected {want}, got {type(value).__name__} {value!r}{hint}"


def _fits(tp: type, value: Any) -> bool:
    """``value`` is a ``tp`` (``bool``, ``int``, ``float`` or ``NoneType``); a bool is no number, an int is a float."""
    if tp is type(None) or tp is bool:
        return isinstance(value, tp)
    return isinstance(value, (int, float) if tp is float else int) and not isinstance(value, bool)


def _choice_problem(choices: list[Any], value: str) -> str | None:
    """Why ``value`` is not one of ``choices``; ``None`` when it is."""
    if value in choices:
        return None
    close = difflib.get_close_matches(value, [str(c) for c in choices], n=3, cutoff=0.6)
    hint = f"did you mean {', '.join(close)}?" if close else f"expected one of {choices}"
    return f"{value!r} is not a valid choice; {hint}"


def load_config(path: str | Path, **overrides: Any) -> EvolveConfig:
    """Read a YAML config (a path, or the name of a shipped config such as ``cpu-smoke``);
    ``overrides`` replace top-level keys.

    Raises:
        SpatialEvoError: a missing file, bad YAML, or an unknown key (named).
    """
    p = Path(path)
    if not p.is_file():
        from spatialevo.data_dirs import data_dir

        shipped = data_dir("configs") / f"{p.stem}.yaml"
        if p.suffix in ("", ".yaml") and len(p.parts) <= 2 and shipped.is_file():
            p = shipped  # a shipped config by name: "cpu-smoke" or "configs/cpu-smoke.yaml" outside the repository
        else:
            raise SpatialEvoError(f"config not found: {p} (shipped configs: {sorted(x.stem for x in data_dir('configs').glob('*.yaml'))})")
    try:
        data = yaml.safe_load(p.read_text()) or {}
    except yaml.YAMLError as exc:
        raise SpatialEvoError(f"{p}: not valid YAML ({exc})") from None
    if not isinstance(data, dict):
        raise SpatialEvoError(f"{p}: the config must be a mapping")
    data.update({k: v for k, v in overrides.items() if v is not None})
    known = {f.name for f in fields(EvolveConfig)}
    unknown = sorted(set(data) - known)
    if "image_size" in unknown:
        raise SpatialEvoError(f"{p}: image_size was replaced by round: {{max_pixels: N}} (each image keeps its aspect ratio "
                              f"within N pixels; image_size {data['image_size']} is about max_pixels {int(data['image_size']) ** 2})")
    if unknown:
        raise SpatialEvoError(f"{p}: unknown key(s) {unknown}; known: {sorted(known)}")
    if "output_dir" not in data:
        raise SpatialEvoError(f"{p}: output_dir is required")
    return EvolveConfig(**data)
