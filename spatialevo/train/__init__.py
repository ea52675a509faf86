"""Self-evolution training (needs the ``train`` extra: torch, transformers, trl, accelerate, datasets).

``spatialevo evolve --config configs/<name>.yaml`` (or ``python -m spatialevo.train``) trains one
VLM as questioner and solver with TRL's ``GRPOTrainer``; see ``docs/training.md``. Modules:
:mod:`~spatialevo.train.config`, :mod:`~spatialevo.train.stream` (the row stream),
:mod:`~spatialevo.train.rewards` (DGE rewards for TRL), :mod:`~spatialevo.train.launcher`,
:mod:`~spatialevo.train.tiny` (a tiny offline Qwen2.5-VL), :mod:`~spatialevo.train.processor`.
"""
