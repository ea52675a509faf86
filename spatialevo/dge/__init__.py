"""DGE — the Deterministic Geometric Environment.

Reads structured spatial questions about a :class:`~spatialevo.scene.Scene`, decides from geometry
alone whether each is valid (and if not, why), and gives its exact answer. No model, no network.

    >>> from spatialevo import DGE, Question, load_scene
    >>> verdict = DGE(scene).evaluate(Question("object_size", ["sofa"]))   # doctest: +SKIP
    >>> verdict.valid, verdict.reason, verdict.answer, verdict.answer_text  # doctest: +SKIP

This package imports neither torch nor transformers.
"""

from __future__ import annotations

from spatialevo.dge.engine import DGE, make_rng, make_tasks
from spatialevo.dge.language import ParseFailure, TemplateError, parse, render
from spatialevo.dge.question import Question, QuestionFormatError
from spatialevo.dge.tasks import FRAME_TASKS, SCENE_TASKS, TASK_NAMES, TASKS, NoValidQuestionError, Task
from spatialevo.dge.verdict import EVIDENCE_FIELDS, REASON_CODES, Reason, Verdict

__all__ = [
    "DGE",
    "FRAME_TASKS",
    "EVIDENCE_FIELDS",
    "REASON_CODES",
    "SCENE_TASKS",
    "TASKS",
    "TASK_NAMES",
    "NoValidQuestionError",
    "ParseFailure",
    "Question",
    "QuestionFormatError",
    "Reason",
    "Task",
    "TemplateError",
    "Verdict",
    "make_rng",
    "make_tasks",
    "parse",
    "render",
]
