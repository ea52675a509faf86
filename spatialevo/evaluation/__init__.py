"""Evaluation on public benchmarks: VSI-Bench-format test sets answered by a local checkpoint or an
OpenAI-compatible endpoint, frames from the rows, frame folders or videos, a resumable per-sample
log (no torch here; the local model is the CLI's adapter)."""

from __future__ import annotations

from spatialevo.evaluation.endpoint import ChatEndpoint
from spatialevo.evaluation.samples import SampleLog
from spatialevo.evaluation.visuals import SceneFrames
from spatialevo.evaluation.vsibench_run import checkpoint_digest, evaluate_vsibench, table_digest

__all__ = ["ChatEndpoint", "SampleLog", "SceneFrames", "checkpoint_digest", "evaluate_vsibench", "table_digest"]
