"""lmms-eval task functions for a spatialevo ``--format vsibench`` dataset (copied as ``utils.py``
next to the task YAML by ``spatialevo eval --benchmark vsibench --lmms-eval-task DIR``).

Self-contained (numpy and PIL only), because lmms-eval runs it in its own environment, where
spatialevo need not be installed. It poses and scores a row as the public VSI-Bench task does:
``doc_to_text`` with VSI-Bench's pre- and post-prompts, the answer read as the first
whitespace-separated token (trailing ``.`` removed), exact letter match for multiple choice, MRA
over the ten thresholds 0.50 … 0.95 for numbers; the table averages the three direction levels into
one entry and ``overall`` is the unweighted mean over the question types present.
``tests/test_lmms_eval_task.py`` checks these functions against :mod:`spatialevo.vsibench`.
"""

from __future__ import annotations

import io

import numpy as np

MCA_QUESTION_TYPES = ["object_rel_direction_easy", "object_rel_direction_medium", "object_rel_direction_hard", "object_rel_distance",
                      "route_planning", "obj_appearance_order"]
NA_QUESTION_TYPES = ["object_abs_distance", "object_counting", "object_size_estimation", "room_size_estimation"]
DIRECTION_TYPES = ["object_rel_direction_easy", "object_rel_direction_medium", "object_rel_direction_hard"]
PRE_PROMPT = "These are frames of a video."
MCA_POST_PROMPT = "Answer with the option's letter from the given choices directly."
NA_POST_PROMPT = "Please answer the question using a single word or phrase."
THRESHOLDS = np.linspace(0.5, 0.95, int((0.95 - 0.5) / 0.05 + 2))


def doc_to_visual(doc):  # noqa: ANN001, ANN201
    """The row's frames as RGB PIL images (decoded by ``datasets``, or PNG bytes)."""
    from PIL import Image

    out = []
    for im in doc.get("images") or []:
        if isinstance(im, dict):
            im = Image.open(io.BytesIO(im["bytes"]))
        out.append(im.convert("RGB"))
    return out


def doc_to_text(doc, lmms_eval_specific_kwargs=None):  # noqa: ANN001, ANN201
    kw = lmms_eval_specific_kwargs or {}
    pre = kw.get("pre_prompt", "") or PRE_PROMPT
    if doc["question_type"] in MCA_QUESTION_TYPES:
        post = kw.get("mca_post_prompt", "") or MCA_POST_PROMPT
        return "\n".join([pre, doc["question"], "Options:\n" + "\n".join(doc["options"] or []), post])
    if doc["question_type"] in NA_QUESTION_TYPES:
        post = kw.get("na_post_prompt", "") or NA_POST_PROMPT
        return pre + "\n" + doc["question"] + "\n" + post
    raise ValueError(f"unknown question type {doc['question_type']!r}")


def first_token(prediction):  # noqa: ANN001, ANN201
    return prediction.split(" ")[0].rstrip(".").strip()


def score(prediction, ground_truth, question_type):  # noqa: ANN001, ANN201
    token = first_token(prediction if isinstance(prediction, str) else "")
    if question_type in MCA_QUESTION_TYPES:
        return 1.0 if token.lower() == str(ground_truth).strip().lower() else 0.0
    try:
        value = float(token)
    except ValueError:
        return 0.0
    gt = float(ground_truth)
    if not np.isfinite(value):
        return 0.0
    return float((abs(value - gt) / gt <= 1 - THRESHOLDS).mean())


def process_results(doc, results):  # noqa: ANN001, ANN201
    entry = {"id": doc["id"], "question_type": doc["question_type"], "prediction": results[0],
             "score": score(results[0], doc["ground_truth"], doc["question_type"])}
    return {k: entry for k in ("overall", *METRICS)}


def table(results):  # noqa: ANN001, ANN201
    """Per question type the mean × 100, the direction levels averaged into ``object_rel_direction``."""
    by_type = {}
    for r in results:
        by_type.setdefault(r["question_type"], []).append(r["score"])
    out = {t: 100.0 * sum(v) / len(v) for t, v in by_type.items()}
    levels = [out.pop(t) for t in DIRECTION_TYPES if t in out]
    if levels:
        out["object_rel_direction"] = sum(levels) / len(levels)
    return out


def aggregate_overall(results):  # noqa: ANN001, ANN201
    t = table(results)
    return sum(t.values()) / len(t) if t else 0.0


def _metric(qtype):  # noqa: ANN001, ANN202
    def aggregate(results):  # noqa: ANN001, ANN202
        return table(results).get(qtype, float("nan"))

    aggregate.__name__ = f"aggregate_{qtype}"
    return aggregate


#: per-type metrics of the task YAML (the direction levels as one)
METRICS = {"object_counting_mra": "object_counting", "object_abs_distance_mra": "object_abs_distance",
           "object_size_estimation_mra": "object_size_estimation", "room_size_estimation_mra": "room_size_estimation",
           "object_rel_distance_accuracy": "object_rel_distance", "object_rel_direction_accuracy": "object_rel_direction"}
aggregate_object_counting_mra = _metric("object_counting")
aggregate_object_abs_distance_mra = _metric("object_abs_distance")
aggregate_object_size_estimation_mra = _metric("object_size_estimation")
aggregate_room_size_estimation_mra = _metric("room_size_estimation")
aggregate_object_rel_distance_accuracy = _metric("object_rel_distance")
aggregate_object_rel_direction_accuracy = _metric("object_rel_direction")
