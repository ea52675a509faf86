"""benchmarks/picture_bench.py runs (``--quick``) and reports every figure of issue #18's table."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import picture_bench  # noqa: E402


def test_quick_run_reports_every_figure(tmp_path) -> None:
    rows = picture_bench.main(["--quick", "--json", str(tmp_path / "rows.json")])
    assert json.loads((tmp_path / "rows.json").read_text()) == rows
    figures = " | ".join(r["figure"] for r in rows)
    for what in ("scene render", "top-down picture", "verdict picture, absolute_distance", "env.render()", "export PLY", "export GLB",
                 "place_labels, 300 labels"):
        assert what in figures, what
    render = rows[0]
    assert render["with_pictures_s"] > 0 and render["without_s"] > 0
    assert all(r.get("cpu_s", 1) > 0 for r in rows if "placed" not in r)  # --quick places labels once, untimed
    assert all(0 < r["bytes"] for r in rows if "bytes" in r)
    assert all(0 < r["placed"] <= int(r["figure"].split()[1]) for r in rows if "placed" in r)
