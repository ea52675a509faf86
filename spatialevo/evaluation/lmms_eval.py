"""The lmms-eval task of a spatialevo ``--format vsibench`` dataset folder: a task YAML in
lmms-eval's layout (``dataset_path`` the folder, ``doc_to_visual`` / ``doc_to_text`` /
``process_results`` / aggregations from ``utils.py``, VSI-Bench's prompts and greedy decoding)
and ``utils.py`` (:mod:`spatialevo.evaluation.lmms_eval_utils`, copied).

    spatialevo eval --benchmark vsibench --data out/qa-vsi --lmms-eval-task tasks/spatialevo
    lmms-eval --model qwen2_5_vl --model_args pretrained=/models/Qwen2.5-VL-3B-Instruct \\
        --tasks spatialevo_vsibench --include_path tasks/spatialevo --batch_size 1
"""

from __future__ import annotations

import json
from pathlib import Path

from spatialevo.errors import SpatialEvoError
from spatialevo.evaluation import lmms_eval_utils
from spatialevo.hfdata.folder import DATA

TASK = "spatialevo_vsibench"


def task_yaml(data_dir: Path, task: str = TASK, split: str = "test") -> str:
    """The task YAML for the dataset folder ``data_dir`` (written as an absolute path)."""
    metrics = "".join(f"  - metric: {m}\n    aggregation: !function utils.aggregate_{m}\n    higher_is_better: true\n"
                      for m in lmms_eval_utils.METRICS)
    return (
        f"# lmms-eval task for the spatialevo dataset {data_dir} (written by spatialevo eval --lmms-eval-task)\n"
        f"task: {task}\n"
        f"dataset_path: {json.dumps(str(data_dir))}\n"
        f"test_split: {split}\n"
        "output_type: generate_until\n"
        "doc_to_visual: !function utils.doc_to_visual\n"
        "doc_to_text: !function utils.doc_to_text\n"
        "doc_to_target: ground_truth\n"
        "generation_kwargs:\n  max_new_tokens: 16\n  temperature: 0\n  top_p: 1.0\n  num_beams: 1\n  do_sample: false\n"
        "process_results: !function utils.process_results\n"
        "metric_list:\n"
        "  - metric: overall\n    aggregation: !function utils.aggregate_overall\n    higher_is_better: true\n"
        f"{metrics}"
        "lmms_eval_specific_kwargs:\n  default:\n"
        f"    pre_prompt: {json.dumps(lmms_eval_utils.PRE_PROMPT)}\n"
        f"    mca_post_prompt: {json.dumps(lmms_eval_utils.MCA_POST_PROMPT)}\n"
        f"    na_post_prompt: {json.dumps(lmms_eval_utils.NA_POST_PROMPT)}\n"
        "metadata:\n  version: 0.0\n"
    )


def write_task(data_dir: str | Path, out_dir: str | Path, task: str = TASK) -> list[Path]:
    """Write ``<out_dir>/<task>.yaml`` and ``<out_dir>/utils.py`` for the vsibench-format folder
    ``data_dir``; returns their paths.

    Raises:
        SpatialEvoError: ``data_dir`` is not a dataset folder in the vsibench format.
    """
    data = Path(data_dir).expanduser().resolve()
    card = data / "README.md"
    if not card.is_file() or not list((data / DATA).glob("*.parquet")):
        raise SpatialEvoError(f"{data} is not a spatialevo dataset folder (no README.md and {DATA}/*.parquet): "
                              "write one with spatialevo generate --format vsibench")
    if "pretty_name: spatialevo QA (vsibench)" not in card.read_text(encoding="utf-8"):
        raise SpatialEvoError(f"{data} holds another format: rewrite it with spatialevo generate --out {data} --merge-only --format vsibench")
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
        yaml_path, utils_path = out / f"{task}.yaml", out / "utils.py"
        yaml_path.write_text(task_yaml(data, task), encoding="utf-8")
        utils_path.write_text(Path(lmms_eval_utils.__file__).read_text(encoding="utf-8"), encoding="utf-8")
    except OSError as exc:
        raise SpatialEvoError(f"--lmms-eval-task '{out}': {exc.strerror or exc}") from None
    return [yaml_path, utils_path]


__all__ = ["TASK", "task_yaml", "write_task"]
