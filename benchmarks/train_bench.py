"""Throughput of the self-evolution launcher on the CPU smoke config, and where the step time goes.

Run: ``.venv/bin/python benchmarks/train_bench.py`` (``--steps``, ``--questioner scripted``,
``--json PATH``). Trains the tiny Qwen2.5-VL of ``configs/cpu-smoke.yaml`` for ``--steps`` steps
(both roles) and reports rollouts (completions) per second and three disjoint shares of the
measured training time (``trainer.train()``, wall clock; CPU shares beside them), for the whole
run, its first step (scene and frame first use, first-use imports) and the steps after it:

- **DGE**: the DGE calls only — judging questions (``Round.judge_canonical``, under every
  ``Round.judge``), sampling questions (``Round.sample``), scoring answers (the solver reward's
  scorer, :func:`spatialevo.selfplay.rewards.solver_reward`), and the DGE's own work reached from
  elsewhere: ``DGE`` construction and the index's visibility (``SceneIndex.visible`` / ``seen``,
  which the questioner prompt's askable labels and the evidence use). Target: < 5 % after the
  first step.
- **project**: spatialevo code that is neither — building rows (prompts, evidence, askable labels,
  scene loading, images), the reward functions' parsing and reward composition, the step-end
  hand-over (``flush`` / ``advance``), the informativeness solver groups' prompts and images.
- **model**: torch / transformers / trl — ``generate`` (TRL's rollouts and the informativeness
  solver groups), ``forward``, ``backward``, the optimizer, the processor (chat template,
  tokenising, decoding) and the trainer's own code in ``training_step``, data loading and logging.

The remainder (the Trainer loop's code between those calls, callback dispatch, the set-up in
``train()`` before the first step) is reported as ``unattributed``. Every timer counts its
*exclusive* time: a timed call nested in another (a ``generate`` inside a reward function, a
``judge`` inside row building) is subtracted from the outer one, so nothing is counted twice and
the four parts sum to the measured time. The timers wrap instance attributes, two module
functions and three class methods in this process only, restored afterwards; no library code
changes.

``legacy_dge_*`` is the old figure of this benchmark (``rewards.seconds + stream.dge_seconds``: the
reward functions' whole time, which holds the informativeness generation, plus the question
sampling of solver rows only); ``in_rewards`` splits the reward functions' time into the shares.

``--questioner scripted``: the questioner's rollouts are replaced by a JSON question about the
labels its prompt lists (what a trained questioner writes), so valid questions reach the
informativeness term and its solver groups are generated every step. The random tiny model rarely
writes a valid question, so without it the informativeness generation seldom runs.
"""

from __future__ import annotations

import argparse
import functools
import json
import re
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from spatialevo.train.config import load_config
from spatialevo.train.launcher import build

ROOT = Path(__file__).resolve().parents[1]
CATEGORIES = ("dge", "project", "model")


def category(label: str) -> str:
    """The share a timer label belongs to: its prefix (``"dge.judge"`` → ``"dge"``)."""
    return label.split(".", 1)[0]


class _Frame:
    """One timed call in progress (a plain class: ``tests/fixtures.load_benchmark`` loads this file
    without registering it as a module, which dataclasses need)."""

    __slots__ = ("label", "wall0", "cpu0", "child_wall", "child_cpu", "by")

    def __init__(self, label: str, wall0: float, cpu0: float):
        self.label, self.wall0, self.cpu0 = label, wall0, cpu0
        self.child_wall = self.child_cpu = 0.0
        self.by: dict[str, float] = defaultdict(float)  # wall seconds by category: this call and the timed calls in it


class Attribution:
    """Exclusive wall / CPU seconds per timer label (seconds; CPU = ``time.process_time``).

    A timed call's exclusive time is its duration minus that of the timed calls nested in it, so
    each second of a thread is counted under one label at most. ``within[label]`` splits the time
    of the outermost calls of ``label`` (nested calls included) by category.
    """

    def __init__(self) -> None:
        self.wall: dict[str, float] = defaultdict(float)
        self.cpu: dict[str, float] = defaultdict(float)
        self.calls: Counter[str] = Counter()
        self.within: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        self.marks: list[tuple[float, float, dict[str, float], dict[str, float]]] = []  # (wall, cpu, wall by category, cpu by category)
        self._local = threading.local()

    def reset(self) -> None:
        """Forget what was timed so far (the build of the launcher, before training starts)."""
        self.wall.clear()
        self.cpu.clear()
        self.calls.clear()
        self.within.clear()
        self.marks.clear()

    def mark(self) -> None:
        """Remember the clocks and the totals by category now (the benchmark marks the start and
        the end of training and each step end, when no timed call is open)."""
        self.marks.append((time.perf_counter(), time.process_time(), {c: self.total(c) for c in CATEGORIES},
                           {c: self.total(c, "cpu") for c in CATEGORIES}))

    def window(self, a: int, b: int) -> dict[str, Any]:
        """Seconds and shares by category between marks ``a`` and ``b`` (wall and CPU); the
        ``unattributed`` remainder is the time no timer holds (negative only if one counted twice)."""
        (w0, c0, bw0, bc0), (w1, c1, bw1, bc1) = self.marks[a], self.marks[b]
        wall = {c: bw1[c] - bw0[c] for c in CATEGORIES}
        cpu = {c: bc1[c] - bc0[c] for c in CATEGORIES}
        wall["unattributed"], cpu["unattributed"] = (w1 - w0) - sum(wall.values()), (c1 - c0) - sum(cpu.values())
        return {"seconds": w1 - w0, "cpu_seconds": c1 - c0, "seconds_by": wall, "cpu_seconds_by": cpu,
                "shares": {k: v / (w1 - w0) for k, v in wall.items()}, "cpu_shares": {k: v / max(c1 - c0, 1e-9) for k, v in cpu.items()}}

    def _stack(self) -> list[_Frame]:
        if not hasattr(self._local, "stack"):
            self._local.stack = []
        return self._local.stack

    def begin(self, label: str) -> None:
        self._stack().append(_Frame(label, time.perf_counter(), time.process_time()))

    def end(self) -> None:
        wall1, cpu1 = time.perf_counter(), time.process_time()
        stack = self._stack()
        f = stack.pop()
        wall, cpu = wall1 - f.wall0, cpu1 - f.cpu0
        own_wall, own_cpu = wall - f.child_wall, cpu - f.child_cpu
        self.wall[f.label] += own_wall
        self.cpu[f.label] += own_cpu
        self.calls[f.label] += 1
        f.by[category(f.label)] += own_wall
        if stack:
            parent = stack[-1]
            parent.child_wall += wall
            parent.child_cpu += cpu
            for cat, s in f.by.items():
                parent.by[cat] += s
        if all(g.label != f.label for g in stack):  # outermost call of this label
            for cat, s in f.by.items():
                self.within[f.label][cat] += s

    def wrap(self, label: str, fn: Callable) -> Callable:
        """``fn`` timed under ``label``."""

        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            self.begin(label)
            try:
                return fn(*args, **kwargs)
            finally:
                self.end()

        return timed

    def patch(self, obj: Any, name: str, label: str) -> None:
        """Time ``obj.name`` under ``label`` (an instance attribute: the object's own calls go through it)."""
        setattr(obj, name, self.wrap(label, getattr(obj, name)))

    def total(self, cat: str, clock: str = "wall") -> float:
        src = self.wall if clock == "wall" else self.cpu
        return sum(s for label, s in src.items() if category(label) == cat)

    def overhead_per_call(self, n: int = 20000) -> float:
        """Seconds one timed call adds (a timed no-op against a bare one), for the report."""
        probe = Attribution()
        bare, timed = (lambda: None), probe.wrap("probe.x", lambda: None)
        t0 = time.perf_counter()
        for _ in range(n):
            bare()
        t1 = time.perf_counter()
        for _ in range(n):
            timed()
        return max(0.0, (time.perf_counter() - t1) - (t1 - t0)) / n


@contextmanager
def module_patches(att: Attribution) -> Iterator[None]:
    """Module functions and class methods timed while the block runs (restored after): the solver
    reward's scorer, DGE construction and the DGE index's visibility (DGE: the round and the
    questioner prompt's askable labels reach them on first use of a scene or frame), and the
    policy's ``answer`` (chat template, processor, ``generate``, decoding: model), which the
    launcher binds when :func:`build` runs."""
    import spatialevo.train.rewards as rewards_mod
    import spatialevo.train.solver as solver_mod
    from spatialevo.dge.engine import DGE
    from spatialevo.dge.index import SceneIndex

    saved = [(rewards_mod, "solver_reward", "dge.score"), (solver_mod, "answer", "model.answer"), (DGE, "__init__", "dge.build"),
             (SceneIndex, "visible", "dge.visibility"), (SceneIndex, "seen", "dge.visibility")]
    originals = [getattr(obj, name) for obj, name, _ in saved]
    for obj, name, label in saved:
        att.patch(obj, name, label)
    try:
        yield
    finally:
        for (obj, name, _), fn in zip(saved, originals):
            setattr(obj, name, fn)


def instrument(att: Attribution, trainer: Any, stream: Any, rewards: Any) -> None:
    """Time the DGE, project and model boundaries of a built launcher (module docstring)."""
    from transformers import TrainerCallback

    rnd = stream.round
    att.patch(rnd, "judge_canonical", "dge.judge")
    att.patch(rnd, "sample", "dge.sample")
    att.patch(rnd, "askable", "project.askable")
    att.patch(rnd, "images", "project.images")
    att.patch(rnd.source, "get", "project.scenes")
    att.patch(stream, "row", "project.rows")
    att.patch(stream, "resolve", "project.rows")
    att.patch(stream, "advance", "project.step_end")
    att.patch(rewards, "flush", "project.step_end")
    for name in ("questioner_reward", "solver_reward", "questioner_parts"):
        att.patch(rewards, name, "project.rewards")
    if rewards.solve is not None:
        att.patch(rewards, "solve", "project.informativeness")
    model = trainer.model
    att.patch(model, "generate", "model.generate")
    att.patch(model, "forward", "model.forward")
    att.patch(model, "zero_grad", "model.optimizer")
    att.patch(trainer.accelerator, "backward", "model.backward")
    att.patch(trainer, "training_step", "model.trainer")
    att.patch(trainer, "get_batch_samples", "model.data")
    for name in ("_clip_grad_norm", "_get_grad_norm", "_maybe_log_save_evaluate"):
        if hasattr(trainer, name):
            att.patch(trainer, name, "model.trainer")

    class Timers(TrainerCallback):
        """Times ``optimizer.step()`` (the Trainer calls it between the two optimizer events) and
        marks each step end (after the launcher's own step-end callback, added before this one)."""

        def on_step_end(self, args, state, control, **kwargs):  # noqa: ANN001, ANN201
            att.mark()

        def on_pre_optimizer_step(self, args, state, control, **kwargs):  # noqa: ANN001, ANN201
            att.begin("model.optimizer")

        def on_optimizer_step(self, args, state, control, **kwargs):  # noqa: ANN001, ANN201
            att.end()

    trainer.add_callback(Timers())


_TASK = re.compile(r'"task": "(\w+)"')
_LABELS = re.compile(r"You can ask about these [^:]*: (.*?)\.(?: Also visible|\n|$)")


def scripted_question(prompt: str) -> str | None:
    """The question JSON a scripted questioner writes for a questioner prompt (``None``: not one):
    the scheduled task about the first labels the prompt lists as askable."""
    from spatialevo.dge import TASKS

    if "Role: questioner" not in prompt or not (m := _TASK.search(prompt)) or m.group(1) not in TASKS:
        return None
    task = m.group(1)
    lm = _LABELS.search(prompt)
    labels = [s.strip() for s in lm.group(1).split(",")] if lm and lm.group(1) != "none" else []
    return json.dumps({"task": task, "objects": labels[: TASKS[task].n_objects[0]]})


def script_questioner(model: Any, tokenizer: Any) -> None:
    """``model.generate`` writes :func:`scripted_question` as the completion of every questioner
    prompt (other rows keep the model's tokens; the model still generates all of them)."""
    import torch

    generate = model.generate

    def scripted(*args: Any, **kwargs: Any) -> Any:
        out = generate(*args, **kwargs)
        ids = kwargs.get("input_ids")
        if ids is None or out.shape[0] != ids.shape[0]:
            return out
        width = ids.shape[1]
        comps = [row[width:].tolist() for row in out]
        for i, row in enumerate(ids):
            q = scripted_question(tokenizer.decode(row, skip_special_tokens=False))
            if q is not None:
                comps[i] = tokenizer.encode(q) + [tokenizer.eos_token_id]
        n = max(len(c) for c in comps)
        pad = tokenizer.pad_token_id
        tail = torch.tensor([c + [pad] * (n - len(c)) for c in comps], dtype=out.dtype, device=out.device)
        return torch.cat([out[:, :width], tail], dim=1)

    model.generate = scripted


def report(att: Attribution, steps: int, completions: int, legacy: float) -> dict:
    """The benchmark's figures from the marks of one run (training start, each step end, training
    end): the whole run, the first step (scene loading, DGE construction, first-use imports) and
    the steps after it (``steady``); seconds and shares of the measured training time."""
    run = att.window(0, len(att.marks) - 1)
    secs = run["seconds"]
    first, steady = att.window(0, 1), att.window(1, len(att.marks) - 1)
    calls = sum(att.calls.values())
    inf = att.within.get("project.informativeness", {})
    return {
        "steps": steps, **run, "rollouts_per_s": completions / secs, "step_s": secs / steps,
        "first_step": first, "steady": {**steady, "steps": steps - 1, "step_s": steady["seconds"] / max(steps - 1, 1)},
        "parts": {k: {"wall": att.wall[k], "cpu": att.cpu[k], "calls": att.calls[k]} for k in sorted(att.wall)},
        "in_rewards": {c: att.within.get("project.rewards", {}).get(c, 0.0) for c in CATEGORIES},
        "informativeness": {"calls": att.calls["project.informativeness"], "seconds": sum(inf.values()),
                            "model_seconds": inf.get("model", 0.0), "generate_calls": att.calls["model.answer"]},
        "dge_seconds": run["seconds_by"]["dge"], "dge_share": run["shares"]["dge"],
        "steady_dge_share": steady["shares"]["dge"], "target_dge_share": 0.05,
        "legacy_dge_seconds": legacy, "legacy_dge_share": legacy / secs,
        "timer_calls": calls, "timer_overhead_s": calls * att.overhead_per_call(),
    }


def print_report(out: dict) -> None:
    print(f"{out['steps']} steps in {out['seconds']:.1f} s: {out['rollouts_per_s']:.1f} rollouts/s, {1000 * out['step_s']:.0f} ms/step "
          f"(first step {1000 * out['first_step']['seconds']:.0f} ms, then {1000 * out['steady']['step_s']:.0f} ms/step)")
    print(f"  {'share':<13} {'whole run':>21} {'first step':>10} {'steps 2+':>9}  (wall; CPU share of the whole run)")
    for k in (*CATEGORIES, "unattributed"):
        print(f"  {k:<13} {1000 * out['seconds_by'][k]:8.0f} ms {100 * out['shares'][k]:6.2f} %  {1000 * out['first_step']['seconds_by'][k]:6.0f} ms "
              f"{100 * out['steady']['shares'][k]:7.2f} %  (CPU {100 * out['cpu_shares'][k]:6.2f} %)")
    print(f"  DGE {100 * out['dge_share']:.2f} % of the run, {100 * out['steady_dge_share']:.2f} % after the first step (target < 5 %); "
          f"old figure (reward functions + sampling) {100 * out['legacy_dge_share']:.2f} %")
    r, inf = out["in_rewards"], out["informativeness"]
    print("  inside the reward functions: " + ", ".join(f"{k} {1000 * r[k]:.0f} ms" for k in CATEGORIES))
    print(f"  informativeness solver groups: {inf['calls']} calls, {1000 * inf['seconds']:.0f} ms, of which model {1000 * inf['model_seconds']:.0f} ms")
    for k, p in out["parts"].items():
        print(f"    {k:<24} {1000 * p['wall']:8.1f} ms  {p['calls']:6d} calls")
    print(f"  timers: {out['timer_calls']} calls, about {1000 * out['timer_overhead_s']:.0f} ms of overhead")


def main(argv: list[str] | None = None, *, setup: Callable[[Any, Any, Any], None] | None = None) -> dict:
    """Run the benchmark; ``setup(trainer, stream, rewards)`` runs after the build, before the
    timers are installed (tests use it to inject known work into the model's ``generate``)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--questioner", choices=("model", "scripted"), default="model")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    if args.steps < 2:
        ap.error("--steps must be at least 2 (the first step is reported apart from the others)")
    att = Attribution()
    with tempfile.TemporaryDirectory() as tmp, module_patches(att):
        cfg = load_config(ROOT / "configs" / "cpu-smoke.yaml", output_dir=tmp, max_steps=args.steps, resume=False)
        cfg.grpo.update({"save_steps": 10**9, "report_to": "none"})
        trainer, stream, rewards, _ = build(cfg)
        if args.questioner == "scripted":
            script_questioner(trainer.model, trainer.processing_class.tokenizer)
        if setup is not None:
            setup(trainer, stream, rewards)
        instrument(att, trainer, stream, rewards)
        legacy0 = rewards.seconds + stream.dge_seconds
        att.reset()
        att.mark()
        trainer.train()
        att.mark()
    completions = args.steps * int(cfg.grpo["per_device_train_batch_size"])
    out = report(att, args.steps, completions, rewards.seconds + stream.dge_seconds - legacy0)
    out["questioner"] = args.questioner
    print_report(out)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()
