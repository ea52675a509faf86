"""The self-play round (SPEC §5–7), framework-free: no gymnasium, no torch, no transformers.

One implementation of the round serves the Gymnasium env, dataset generation, training and
evaluation (each a thin adapter):

* :mod:`~spatialevo.selfplay.sources` — the scenes (unique names, lazily loaded);
* :mod:`~spatialevo.selfplay.cache` — one bounded, least-recently-used cache of scenes, their DGEs
  and the images the policy sees;
* :mod:`~spatialevo.selfplay.evidence` — which frames go with a question (SPEC §7) and what the
  questioner can ask about in them;
* :mod:`~spatialevo.selfplay.images` — frames at the size the policy sees (aspect kept under a
  pixel budget);
* :mod:`~spatialevo.selfplay.prompts` — the two roles' prompts and the reading of questioner output;
* :mod:`~spatialevo.selfplay.round` — :class:`Round`: the questioner turn and the solver turn
  (:class:`Turn`), each question judged once;
* :mod:`~spatialevo.selfplay.rewards` — the reward formulas;
* :mod:`~spatialevo.selfplay.curriculum` — the task schedulers;
* :mod:`~spatialevo.selfplay.agents` — scripted agents (tests, demos, benchmarks).
"""

from __future__ import annotations

from spatialevo.selfplay.round import Round, RoundConfig, Turn

__all__ = ["Round", "RoundConfig", "Turn"]
