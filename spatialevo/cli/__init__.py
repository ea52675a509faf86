"""Command-line interface (``spatialevo --help``): every argument parser of the package.

One module per subcommand — :mod:`~spatialevo.cli.scene`, :mod:`~spatialevo.cli.generate`,
:mod:`~spatialevo.cli.pose`, :mod:`~spatialevo.cli.evolve`, :mod:`~spatialevo.cli.eval`,
:mod:`~spatialevo.cli.demo` — each with ``add_parser(sub)`` and the function the subcommand runs;
:mod:`~spatialevo.cli.main` builds the top-level parser from them.
"""

from __future__ import annotations

import argparse


def add_label_options(p: argparse.ArgumentParser) -> None:
    """``--labels`` and ``--label-map``: the vocabulary scenes are loaded in (every command that loads scenes)."""
    from spatialevo.scene.labels import VOCABULARIES

    p.add_argument("--labels", default=None, choices=VOCABULARIES,
                   help="label vocabulary the scenes are loaded in: raw (as the scan writes them), nyu40, scannet200, or "
                        "vsibench (the categories VSI-Bench asks about); objects outside it are dropped from the scene's "
                        "objects (their surface is kept), so no question names them (default: as stored: raw for scans, "
                        "a converted scene's own)")
    p.add_argument("--label-map", default=None, metavar="TSV",
                   help="ScanNet's scannetv2-labels.combined.tsv (default: found in the scan's folder or up to 3 above)")
