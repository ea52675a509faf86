"""``spatialevo`` command line: ``spatialevo --help``.

Every subcommand's parser and the function it runs live in one module of this package
(:mod:`~spatialevo.cli.scene`, :mod:`~spatialevo.cli.generate`, :mod:`~spatialevo.cli.show`, :mod:`~spatialevo.cli.pose`,
:mod:`~spatialevo.cli.evolve`, :mod:`~spatialevo.cli.eval`, :mod:`~spatialevo.cli.demo`), each with an
``add_parser(sub)``; the library code they call lives outside ``spatialevo.cli`` and never imports it.
This module builds the top-level parser from them and turns errors into one-line messages. The
commands that need the 'train' extra import it only when they run, so every ``--help`` works without it.
"""

from __future__ import annotations

import argparse
import errno
import os
import sys

from spatialevo import __version__
from spatialevo.cli import demo, evolve, generate, pose, scene, show
from spatialevo.cli import eval as eval_cmd
from spatialevo.errors import ServiceError, SpatialEvoError


def build_parser() -> argparse.ArgumentParser:
    """The ``spatialevo`` parser: one subcommand per module of :mod:`spatialevo.cli`."""
    parser = argparse.ArgumentParser(
        prog="spatialevo",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="spatialevo: 3D scenes → a self-play training ground for spatial reasoning of vision-language\n"
                    "models, judged by the DGE, an exact geometric oracle. Run 'spatialevo COMMAND --help' for a\n"
                    "command's options and their defaults.",
        epilog=(
            "examples:\n"
            "  spatialevo demo --out out/demo\n"
            "  spatialevo generate --out out/qa --per-task 100\n"
            "  spatialevo scene generate --seed 0 --count 2 --out out/rooms --topdown\n"
            "  spatialevo scene inspect path/to/scene0000_00 --topdown scene.png\n"
            "  spatialevo scene render scenes/rect_small.npz --out out/render\n"
            "  spatialevo scene export scenes/rect_small.npz --out out/rect_small.glb\n"
            "  spatialevo show '{\"task\": \"room_size\"}' --scene rect_small --out out/room_size.png\n"
            "  spatialevo pose train --synthetic 0,1,2,3 --out out/pose/adaptive.pt"
        ),
    )
    parser.add_argument("--version", action="version", version=f"spatialevo {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{scene,generate,show,pose,evolve,eval,demo}")
    for module in (scene, generate, show, pose, evolve, eval_cmd, demo):
        module.add_parser(sub)
    return parser


#: commands that need the 'train' extra, and the modules it brings (with words their errors use)
TRAIN_COMMANDS = frozenset({"pose", "evolve", "eval"})
TRAIN_MODULES = {"torch": ("torch", "pytorch"), "transformers": ("transformers",), "trl": ("trl",),
                 "accelerate": ("accelerate",), "datasets": ("datasets",), "tensorboard": ("tensorboard",)}


def missing_module_message(exc: ImportError, command: str | None) -> str:
    """One line for an ``ImportError``: the missing module and, for the 'train' extra, how to get it."""
    name = (exc.name or "").split(".")[0]
    text = str(exc).lower()
    if name not in TRAIN_MODULES:
        name = next((m for m, words in TRAIN_MODULES.items() if any(w in text for w in words)), name)
    if name in TRAIN_MODULES or command in TRAIN_COMMANDS:
        what = f"'spatialevo {command}'" if command in TRAIN_COMMANDS else "this command"
        missing = name or next((line.strip() for line in str(exc).splitlines() if line.strip()), "?")
        return f"{what} needs the 'train' extra, which is not installed (missing module: {missing}): pip install 'spatialevo[train]'"
    first = next((line.strip() for line in str(exc).splitlines() if line.strip()), repr(exc))
    return f"a module spatialevo needs is missing ({name or first}): reinstall spatialevo (pip install spatialevo)"


def os_error_message(exc: OSError) -> str:
    """One line naming the path(s) and the OS reason (``'out/parts': Permission denied``)."""
    paths = [os.fsdecode(p) if isinstance(p, (str, bytes, os.PathLike)) else str(p) for p in (exc.filename, exc.filename2) if p is not None]
    reason = exc.strerror or str(exc) or type(exc).__name__
    hint = ""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        hint = " (free some space, then rerun the same command: finished work is kept)"
    elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        hint = " (check its permissions, or choose a folder you can write to)"
    where = " -> ".join(f"'{p}'" for p in paths)
    return f"{where}: {reason}{hint}" if where else f"{reason}{hint}"


def _fail(message: str, code: int) -> int:
    print("error: " + " ".join(line.strip() for line in message.splitlines() if line.strip()), file=sys.stderr)
    return code


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ServiceError as exc:
        return _fail(str(exc), 1)
    except (SpatialEvoError, KeyError, ValueError) as exc:
        return _fail(str(exc), 2)
    except OSError as exc:
        return _fail(os_error_message(exc), 1)
    except ImportError as exc:
        return _fail(missing_module_message(exc, getattr(args, "command", None)), 1)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
