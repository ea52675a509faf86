"""``spatialevo pose train`` and ``spatialevo pose eval``: the parsers and what each runs (library code in
:mod:`spatialevo.pose`; torch is imported only when a command runs)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from spatialevo.cli import add_label_options
from spatialevo.errors import SpatialEvoError

EPILOG_TRAIN = """examples:
  spatialevo pose train --synthetic 0,1,2,3 --out out/pose/adaptive.pt
  spatialevo pose train --synthetic 0,1,2,3 --mode shared --steps 500 --out out/pose/shared.pt
  spatialevo pose train --scenes path/to/scans --size 128x96 --out out/pose/scans.pt
  spatialevo pose train --synthetic 4 --add-scene --init out/pose/adaptive.pt --out out/pose/plus4.pt
"""

EPILOG_EVAL = """examples:
  spatialevo pose eval --ckpt out/pose/adaptive.pt --synthetic 0,1,2,3
  spatialevo pose eval --ckpt out/pose/scans.pt --scenes path/to/scans --split all --json metrics.json
"""


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(x) for x in text.lower().split("x"))
    except ValueError:
        raise SpatialEvoError(f"--size must look like 96x72, got {text!r}") from None
    if w < 16 or h < 16:
        raise SpatialEvoError(f"--size must be at least 16x16, got {text!r}")
    return w, h


def _data(args: Any, size: tuple[int, int]) -> list:
    from spatialevo.pose.data import pose_data_from_scene, synthetic_pose_data

    if bool(args.synthetic) == bool(args.scenes):
        raise SpatialEvoError("give exactly one of --synthetic SEEDS or --scenes PATH")
    if args.synthetic:
        try:
            seeds = [int(s) for s in args.synthetic.split(",") if s.strip()]
        except ValueError:
            raise SpatialEvoError(f"--synthetic takes comma-separated seeds, got {args.synthetic!r}") from None
        return synthetic_pose_data(seeds, n_frames=args.frames, size=size)
    from spatialevo.selfplay.sources import make_source

    source = make_source(args.scenes, labels=args.labels, label_map=args.label_map)
    out = []
    for i, name in enumerate(source.names):
        scene = source.get(i)
        if scene is not None:
            out.append(pose_data_from_scene(scene, size, name=name))
    for path, reason in source.skipped:
        print(f"skipped {path}: {reason}")
    if not out:
        raise SpatialEvoError(f"no loadable scene in {args.scenes}")
    return out


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--synthetic", default="", help="comma-separated seeds of synthetic rooms to render; give this or --scenes (default: none)")
    p.add_argument("--scenes", default="", help="'bundled', a scene, or a folder of scenes (any layout); give this or --synthetic (default: none)")
    add_label_options(p)
    p.add_argument("--frames", type=int, default=240, help="frames per synthetic room (default 240)")
    p.add_argument("--holdout-every", type=int, default=4, help="every k-th frame (from frame k // 2) is held out for testing, at least 2 (default 4)")


def add_parser(sub: Any) -> None:
    """Register ``pose`` and its subcommands on the top-level subparsers ``sub``."""
    pose = sub.add_parser("pose", help="multi-scene camera-pose regression (OFVL-MS style)",
                          description="Train and evaluate multi-scene camera-pose regressors in the style of OFVL-MS: one "
                                      "network, per-layer sharing between scenes (see docs/pose.md). Needs the 'train' extra "
                                      "(torch; pip install 'spatialevo[train]').")
    psub = pose.add_subparsers(dest="pose_command", required=True, metavar="{train,eval}")
    t = psub.add_parser("train", help="train a pose model", epilog=EPILOG_TRAIN, formatter_class=argparse.RawDescriptionHelpFormatter,
                        description="Train a pose model on the non-held-out frames of the scenes, save it to --out, then print\n"
                                    "the test metrics per scene (median cm / deg, % within 5 cm and 5 deg).")
    _common(t)
    t.add_argument("--out", required=True, help="checkpoint file to write (required)")
    t.add_argument("--mode", default="adaptive", choices=("adaptive", "shared", "separate"),
                   help="adaptive: layer-adaptive sharing; shared: one backbone, per-scene heads; separate: one model per scene "
                        "(default adaptive)")
    t.add_argument("--size", default="96x72", help="image size WxH the model takes (default 96x72; with --init, the checkpoint's)")
    t.add_argument("--steps", type=int, default=1500, help="optimiser steps, each one batch of every trained scene (default 1500)")
    t.add_argument("--batch", type=int, default=32, help="frames per scene per step (default 32)")
    t.add_argument("--lr", type=float, default=2e-3, help="Adam learning rate, cosine decay to 5%% over the run (default 0.002)")
    t.add_argument("--penalty", type=float, default=None, help="weight of the sparse score penalty, adaptive mode (default 4.0)")
    t.add_argument("--no-grad-norm", action="store_true", help="plain gradient sum on shared parameters (default: each scene's gradient rescaled to a common norm before the sum)")
    t.add_argument("--seed", type=int, default=0, help="seed of the initialisation and the batches (default 0)")
    t.add_argument("--init", default=None, help="checkpoint to train further, or with --add-scene to extend (default: a new --mode model)")
    t.add_argument("--add-scene", action="store_true", help="add the scenes the --init model does not know, training only their parameters")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.set_defaults(func=_train)
    e = psub.add_parser("eval", help="evaluate a pose checkpoint", epilog=EPILOG_EVAL, formatter_class=argparse.RawDescriptionHelpFormatter,
                        description="Evaluate a checkpoint of spatialevo pose train on the held-out frames (or all frames) of\n"
                                    "scenes it knows (the same --synthetic seeds or --scenes as in training): median\n"
                                    "translation error (cm), median rotation error (deg) and the share within 5 cm and\n"
                                    "5 deg, per scene and over all frames.")
    _common(e)
    e.add_argument("--ckpt", required=True, help="checkpoint written by spatialevo pose train (required)")
    e.add_argument("--split", default="test", choices=("test", "all"), help="test: the held-out frames only; all: every frame (default test)")
    e.add_argument("--json", default=None, help="also write the metrics to this JSON file")
    e.set_defaults(func=_eval)


def _print(metrics: dict) -> None:
    print(f"{'scene':24s} {'median cm':>10s} {'median deg':>11s} {'5cm/5deg':>9s} {'frames':>7s}")
    for name, m in metrics.items():
        print(f"{name:24s} {m.median_t_cm:10.1f} {m.median_r_deg:11.2f} {100 * m.within_5cm_5deg:8.1f}% {m.n:7d}")


def _train(args: Any) -> int:
    from spatialevo.pose import trainer as T

    if args.steps < 1 or args.batch < 1:
        raise SpatialEvoError("--steps and --batch must be at least 1")
    if args.add_scene and not args.init:
        raise SpatialEvoError("--add-scene needs --init CHECKPOINT")
    size = _size(args.size)
    model = T.load(args.init) if args.init else None
    if model is not None:
        size = tuple(model.config.size)
    splits = [d.split(args.holdout_every) for d in _data(args, size)]
    train_data, test_data = [a for a, _ in splits], [b for _, b in splits]
    kw = {} if args.penalty is None else {"penalty": args.penalty}
    cfg = T.TrainConfig(steps=args.steps, batch=args.batch, lr=args.lr, grad_norm=not args.no_grad_norm, seed=args.seed, **kw)
    if model is None:
        model = T.new_model(args.mode, train_data, seed=args.seed)
        T.train(model, train_data, cfg, progress=not args.quiet)
    elif args.add_scene:
        new = [d for d in train_data if d.name not in model.scene_names]
        if not new:
            raise SpatialEvoError(f"every scene is already in {args.init}; nothing to add")
        for d in new:
            model.add_scene(d.name, d.poses)
            T.train(model, [d], cfg, only_scene=d.name, progress=not args.quiet)
    else:
        T.train(model, train_data, cfg, progress=not args.quiet)
    T.save(model, args.out, extra={"train": T.config_dict(cfg)})
    print(f"saved {args.out} ({model.deployed_size():,} parameters deployed)")
    _print(T.evaluate(model, test_data))
    return 0


def _eval(args: Any) -> int:
    from spatialevo.pose import trainer as T

    model = T.load(args.ckpt)
    data = _data(args, tuple(model.config.size))
    if args.split == "test":
        data = [d.split(args.holdout_every)[1] for d in data]
    metrics = T.evaluate(model, data)
    _print(metrics)
    if args.json:
        Path(args.json).write_text(json.dumps({k: m.to_dict() for k, m in metrics.items()}, indent=1))
    return 0
