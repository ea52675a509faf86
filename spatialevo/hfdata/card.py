"""The dataset card (``README.md``) of a dataset folder: the YAML header ``datasets`` reads
(``configs`` → the Parquet shards, ``dataset_info.features`` → the column types) and a page saying
what the rows are, how they were made and how to load, score and regenerate them."""

from __future__ import annotations

from typing import Any

import yaml

from spatialevo.hfdata.features import yaml_features

_USE = {
    "spatialevo": '''```python
from datasets import load_dataset
import spatialevo

ds = load_dataset("{path}", split="train")          # typed columns, PIL images
row = ds[0]
spatialevo.score_answer("<answer>" + row["answer"] + "</answer>", row)   # 1.0
```''',
    "trl": '''```python
from datasets import load_dataset
from trl import GRPOConfig, GRPOTrainer
import spatialevo

ds = load_dataset("{path}", split="train")   # prompt, images, solution, completion, answer, ...
trainer = GRPOTrainer(model="path/to/Qwen2.5-VL", reward_funcs=spatialevo.reward_fn, train_dataset=ds,
                      args=GRPOConfig(output_dir="out/grpo"))
trainer.train()
```
`SFTTrainer` reads the same rows as prompt–completion pairs.''',
    "sft": '''```python
from datasets import load_dataset
from trl import SFTConfig, SFTTrainer

ds = load_dataset("{path}", split="train")   # messages (user turn, answer turn), images
SFTTrainer(model="path/to/Qwen2.5-VL", train_dataset=ds, args=SFTConfig(output_dir="out/sft")).train()
```''',
    "vsibench": '''```python
from datasets import load_dataset

ds = load_dataset("{path}", split="test")    # id, dataset, scene_name, question_type, question, options, ground_truth, images
```
Score predictions with the public formulas: `spatialevo eval --benchmark vsibench --data {path} --predictions preds.jsonl`,
or run the lmms-eval task shipped with spatialevo.''',
}

_ABOUT = {
    "spatialevo": "Every field of the package's QA records, typed: the question (structured and in words), the solver prompt "
                  "as training gives it, the exact answer (as text), its kind and unit, the options of multiple-choice "
                  "questions and the geometric evidence the answer was decided from.",
    "trl": "The columns TRL's GRPO and SFT trainers read: `prompt` (a conversation), `images`, `solution` and `completion` "
           "(the reply earning full reward), plus the columns `spatialevo.reward_fn` scores with.",
    "sft": "Chat fine-tuning rows: `messages` (the solver prompt and the answer turn) and `images`.",
    "vsibench": "The records of the tasks VSI-Bench shares, in VSI-Bench's columns and wording, multiple-choice options "
                "lettered (`A. sofa`) with a balanced answer letter; the ground truth is the letter or the number.",
}


def split_of(fmt: str) -> str:
    """The split a folder's rows are: ``test`` for the benchmark format, else ``train``."""
    return "test" if fmt == "vsibench" else "train"


def card_text(fmt: str, meta: dict[str, Any], n: int, per_task: dict[str, int], columns: dict[str, Any], files: list[str]) -> str:
    """The card of a folder of ``n`` rows of ``fmt`` in the Parquet ``files`` (paths relative to
    the folder), made by the run ``meta`` (its manifest)."""
    from spatialevo import __version__

    header = {
        "configs": [{"config_name": "default", "data_files": [{"split": split_of(fmt), "path": list(files)}]}],
        "dataset_info": {"features": yaml_features(columns)},
        "task_categories": ["visual-question-answering"],
        "tags": ["spatial-reasoning", "3d", "spatialevo"],
        "pretty_name": f"spatialevo QA ({fmt})",
    }
    args = {k: meta[k] for k in ("seed", "per_task", "tasks", "max_repeat_share", "invalid_share", "round") if k in meta}
    counts = "\n".join(f"| {task} | {k} |" for task, k in per_task.items())
    return (
        "---\n" + yaml.safe_dump(header, sort_keys=False, allow_unicode=True) + "---\n\n"
        f"# spatialevo QA dataset ({fmt} format)\n\n"
        f"{n} verified spatial questions about {len(meta.get('scenes', []))} scene(s), made by spatialevo {__version__} "
        "(`spatialevo generate`): every answer was decided from the scene's geometry by the package's exact rules, "
        "for the frames shown with the question.\n\n"
        f"{_ABOUT[fmt]}\n\n## Use\n\n{_USE[fmt].format(path='path/to/this/folder')}\n\n"
        f"## Rows per task\n\n| task | rows |\n|---|---|\n{counts}\n\n"
        "## How it was made\n\n"
        "`manifest.json` holds every argument that changes records; a record is regenerated from its `index` "
        "(and the run's `seed`) with `spatialevo.generate.regenerate(folder, index, scenes=...)`. "
        "`data.jsonl` holds the records themselves (image paths relative to this folder).\n\n"
        "```yaml\n" + yaml.safe_dump(args, sort_keys=False) + "```\n"
    )
