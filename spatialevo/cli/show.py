"""``spatialevo show``: one picture that explains a DGE verdict, for a question or a dataset record
(library code in :mod:`spatialevo.show` and :mod:`spatialevo.showpictures`)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from spatialevo.cli import add_label_options
from spatialevo.errors import SpatialEvoError

DESCRIPTION = """\
Draw one PNG that explains the DGE's verdict on a question:
  - the question in words (its task's first template);
  - the frames shown with it (an image task's own frames; for a scene task up to --max-frames of
    the 16-frame clip, those that show the named objects best), each named object outlined;
  - a top-down view (metre ticks, legend, camera trajectory with frame ids and view directions) with
    the task's geometry: the measured segment between the boxes' closest points, the facing arrow,
    the reference camera with its 8 direction sectors, the camera pair, the room outline, ...;
  - the objects, the answer (or the reason code of an invalid question) and what each drawn line is.

QUESTION_OR_RECORD is one of:
  - a question as JSON, inline or in a .json file, with --scene naming its scene;
  - a dataset record: a JSON object with "question" and "scene" (a line of data.jsonl), a records
    .jsonl file or a spatialevo generate folder (record --index N), found again in --scenes.
With --dataset DIR, QUESTION_OR_RECORD may be left out: record --index N of DIR."""

EPILOG = """\
examples:
  spatialevo show '{"task": "absolute_distance", "objects": ["tv", "sofa"]}' --scene scenes/rect_small.npz --out dist.png
  spatialevo show question.json --scene rect_small --out q.png
  spatialevo show --dataset out/qa --index 12 --out record12.png
  spatialevo show out/synth/data.jsonl --index 0 --scenes synthetic:4 --out r0.png"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``show`` on the top-level subparsers ``sub``."""
    p = sub.add_parser("show", help="draw a picture that explains a verdict (a question or a dataset record)",
                       formatter_class=argparse.RawDescriptionHelpFormatter, description=DESCRIPTION, epilog=EPILOG)
    p.add_argument("target", nargs="?", default=None, metavar="QUESTION_OR_RECORD",
                   help="a question or record as JSON text, a .json / .jsonl file, or a generate folder (default: none, then --dataset is needed)")
    p.add_argument("--scene", default=None,
                   help="the question's scene: a scene file or folder, or the name of a bundled scene such as rect_small "
                        "(default: none; needed for a question)")
    p.add_argument("--dataset", type=Path, default=None, help="a spatialevo generate folder to take the record from (default: none)")
    p.add_argument("--index", type=int, default=0, help="which record of a .jsonl file or dataset folder, 0-based (default: 0)")
    p.add_argument("--scenes", default="bundled",
                   help="the scenes a record's dataset was generated from: bundled, synthetic:N or a folder (default: bundled)")
    p.add_argument("--frames", default=None,
                   help="comma-separated frame ids shown instead of the evidence frames (default: the evidence frames)")
    p.add_argument("--max-frames", type=int, default=4, help="frame tiles drawn at most, 1 to 4 (default: 4)")
    p.add_argument("--size", type=int, default=560, help="top-down view's longer side in pixels, 200 to 1200 (default: 560)")
    p.add_argument("--out", type=Path, default=Path("show.png"), help="the PNG to write (default: show.png)")
    p.add_argument("--json", action="store_true", help="print what was drawn as JSON (default: off, one line of text)")
    add_label_options(p)
    p.set_defaults(func=cmd_show)


def _json_text(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise SpatialEvoError(f"{what} is not JSON ({exc}); give a question such as "
                              "'{\"task\": \"room_size\"}', a record, a .json/.jsonl file or a generate folder") from None


def read_target(target: str | None, dataset: Path | None, index: int) -> tuple[dict[str, Any], Path | None]:
    """``(the question or record as a dict, the records file or folder it came from)``."""
    from spatialevo.showpictures import record_at

    if dataset is not None:
        if target is not None:
            raise SpatialEvoError("give either QUESTION_OR_RECORD or --dataset, not both")
        return record_at(dataset, index), dataset
    if target is None:
        raise SpatialEvoError("nothing to show: give a question or record (QUESTION_OR_RECORD) or --dataset DIR")
    path = Path(target)
    if not target.lstrip().startswith(("{", "[")) and path.exists():
        if path.is_dir() or path.suffix.lower() == ".jsonl":
            return record_at(path, index), path
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise SpatialEvoError(f"'{path}' cannot be read: {exc}") from None
        obj = _json_text(text, f"'{path}'")
    else:
        obj = _json_text(target, "QUESTION_OR_RECORD")
    if not isinstance(obj, dict):
        raise SpatialEvoError(f"QUESTION_OR_RECORD must be a JSON object, got {type(obj).__name__}")
    return obj, None


def load_question_scene(spec: str | None, labels: str | None, label_map: str | None) -> Any:
    """The scene of ``--scene``: a path, else a bundled scene's name."""
    from spatialevo import load_scene
    from spatialevo.bundled import bundled_scene_paths

    if spec is None:
        raise SpatialEvoError("a question needs --scene (a scene file or folder, or a bundled scene's name)")
    path = Path(spec)
    if not path.exists():
        named = {p.stem: p for p in bundled_scene_paths()}
        if spec not in named:
            raise SpatialEvoError(f"--scene '{spec}' is neither a path nor a bundled scene ({', '.join(sorted(named))})")
        path = named[spec]
    return load_scene(path, labels=labels, label_map=label_map)


def cmd_show(args: argparse.Namespace) -> int:
    from spatialevo.show import explain, explain_record
    from spatialevo.showpictures import dataset_labels

    obj, source = read_target(args.target, args.dataset, args.index)
    frames = [f.strip() for f in args.frames.split(",") if f.strip()] if args.frames else None
    opts = {"max_frames": args.max_frames, "topdown_size": args.size}
    if "question" in obj and "scene" in obj:
        labels, label_map = args.labels, args.label_map
        if source is not None and labels is None and label_map is None:
            labels, label_map = dataset_labels(source)
        if frames is not None:
            obj = {**obj, "frames": frames}
        pic = explain_record(obj, args.scenes, labels=labels, label_map=label_map, **opts)
    else:
        scene = load_question_scene(args.scene, args.labels, args.label_map)
        pic = explain(scene, obj, frames=frames, **opts)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    pic.image.save(args.out, format="PNG")
    for p in pic.problems:
        print(f"warning: {p}", file=sys.stderr)
    v = pic.verdict
    summary = {"out": str(args.out), "size": list(pic.image.size), "task": v.task, "valid": v.valid,
               "answer": v.answer_text if v.valid else (v.reason.value if v.reason else None), "frames": pic.frames,
               "outlined": pic.outlined, "problems": pic.problems}
    if args.json:
        print(json.dumps(summary, ensure_ascii=False))
    else:
        print(f"{args.out}: {pic.image.width}x{pic.image.height}, {v.task} -> {summary['answer']}, frames {', '.join(pic.frames) or 'none'}")
    return 0
