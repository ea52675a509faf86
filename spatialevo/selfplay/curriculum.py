"""Task schedulers for the curriculum (SPEC §6): which task category to ask next.

:class:`AdaptiveScheduler` keeps a running (exponentially weighted) solver accuracy per task and
samples tasks with probability rising as accuracy falls::

    p_t = floor + (1 - K · floor) · softmax((1 - acc_t) / temperature)_t      (K tasks)

so the weakest tasks are asked most while no task ever drops below ``floor``. Tasks never scored
start at ``prior``. :class:`UniformScheduler` samples uniformly (the baseline to compare with).
Both share the interface ``update(task, score)``, ``sample(rng)``, ``probabilities()``,
``state_dict()`` / ``load_state_dict()`` (plain JSON-serialisable data, saved with checkpoints).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from spatialevo.errors import SpatialEvoError


class SchedulerError(SpatialEvoError, ValueError):
    """Bad scheduler input: unknown task, score outside [0, 1], inconsistent state."""


class UniformScheduler:
    """Uniform task sampling; tracks accuracy the same way, for reporting and comparison.

    Args:
        tasks: task names (at least one, distinct).
        momentum: weight of the old value in the running accuracy (0 ≤ momentum < 1).
        prior: starting accuracy of every task.
    """

    kind = "uniform"

    def __init__(self, tasks: Sequence[str], *, momentum: float = 0.9, prior: float = 0.5):
        tasks = list(tasks)
        if not tasks or len(set(tasks)) != len(tasks) or not all(isinstance(t, str) for t in tasks):
            raise SchedulerError(f"tasks must be distinct names, at least one; got {tasks!r}")
        if not 0.0 <= momentum < 1.0:
            raise SchedulerError(f"momentum must be in [0, 1), got {momentum}")
        if not 0.0 <= prior <= 1.0:
            raise SchedulerError(f"prior must be in [0, 1], got {prior}")
        self.tasks = tasks
        self.momentum = float(momentum)
        self.prior = float(prior)
        self._index = {t: i for i, t in enumerate(tasks)}
        self.accuracy = np.full(len(tasks), self.prior)
        self.counts = np.zeros(len(tasks), dtype=np.int64)

    def _i(self, task: str) -> int:
        try:
            return self._index[task]
        except (KeyError, TypeError):
            raise SchedulerError(f"unknown task {task!r}; scheduled tasks: {self.tasks}") from None

    def update(self, task: str, score: float) -> None:
        """Record a solver score in [0, 1] for ``task``."""
        i = self._i(task)
        if not isinstance(score, (int, float, np.floating, np.integer)) or not math.isfinite(score) or not 0.0 <= score <= 1.0:
            raise SchedulerError(f"score must be a number in [0, 1], got {score!r}")
        self.accuracy[i] = self.momentum * self.accuracy[i] + (1.0 - self.momentum) * float(score)
        self.counts[i] += 1

    def probabilities(self) -> np.ndarray:
        """(K,) sampling probabilities in ``tasks`` order."""
        return np.full(len(self.tasks), 1.0 / len(self.tasks))

    def sample(self, rng: np.random.Generator) -> str:
        """One task name drawn from :meth:`probabilities`."""
        return self.tasks[int(rng.choice(len(self.tasks), p=self.probabilities()))]

    def state_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "tasks": list(self.tasks),
            "accuracy": self.accuracy.tolist(),
            "counts": self.counts.tolist(),
            **self._hyper(),
        }

    def _hyper(self) -> dict[str, Any]:
        return {"momentum": self.momentum, "prior": self.prior}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore from :meth:`state_dict` (same kind and task list)."""
        if state.get("kind") != self.kind or list(state.get("tasks", [])) != self.tasks:
            raise SchedulerError(f"state is for a {state.get('kind')!r} scheduler over {state.get('tasks')}, not {self.kind!r} over {self.tasks}")
        acc = np.asarray(state["accuracy"], dtype=np.float64)
        cnt = np.asarray(state["counts"], dtype=np.int64)
        if acc.shape != (len(self.tasks),) or cnt.shape != acc.shape or np.any((acc < 0) | (acc > 1)) or np.any(cnt < 0):
            raise SchedulerError("state accuracy / counts have the wrong shape or range")
        self.accuracy, self.counts = acc.copy(), cnt.copy()
        for key, value in state.items():
            if key in self._hyper():
                setattr(self, key, float(value))


class AdaptiveScheduler(UniformScheduler):
    """Accuracy-adaptive sampling (see module docstring).

    Args:
        tasks: task names.
        temperature: softmax temperature over ``1 - accuracy`` (smaller = greedier), > 0.
        floor: minimum probability of every task, 0 ≤ floor ≤ 1 / K.
        momentum, prior: as :class:`UniformScheduler`.
    """

    kind = "adaptive"

    def __init__(self, tasks: Sequence[str], *, temperature: float = 0.1, floor: float = 0.02, momentum: float = 0.9, prior: float = 0.5):
        super().__init__(tasks, momentum=momentum, prior=prior)
        if not temperature > 0 or not math.isfinite(temperature):
            raise SchedulerError(f"temperature must be > 0, got {temperature}")
        if not 0.0 <= floor <= 1.0 / len(self.tasks):
            raise SchedulerError(f"floor must be in [0, 1/{len(self.tasks)}], got {floor}")
        self.temperature = float(temperature)
        self.floor = float(floor)

    def _hyper(self) -> dict[str, Any]:
        return {**super()._hyper(), "temperature": self.temperature, "floor": self.floor}

    def probabilities(self) -> np.ndarray:
        z = (1.0 - self.accuracy) / self.temperature
        w = np.exp(z - z.max())
        w /= w.sum()
        return self.floor + (1.0 - len(self.tasks) * self.floor) * w


def make_scheduler(kind: str, tasks: Sequence[str], **kwargs: float) -> UniformScheduler:
    """``"adaptive"`` or ``"uniform"`` scheduler over ``tasks``."""
    if kind == "adaptive":
        return AdaptiveScheduler(tasks, **kwargs)
    if kind == "uniform":
        return UniformScheduler(tasks, **{k: v for k, v in kwargs.items() if k in ("momentum", "prior")})
    raise SchedulerError(f"unknown scheduler kind {kind!r}; use 'adaptive' or 'uniform'")
