"""``python -m spatialevo.train --config configs/<name>.yaml`` (what ``accelerate launch -m`` runs)."""

from __future__ import annotations

import sys

from spatialevo.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["evolve", *sys.argv[1:]]))
