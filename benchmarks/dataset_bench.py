"""Dataset folders and VSI-Bench evaluation, measured in one run (issue #14).

1. ``write_folder`` per format on a generated run (rows/s, MB on disk), median of ``--repeats``;
2. ``datasets.load_dataset(folder)`` the first time (a fresh cache) and reading every row;
3. ``spatialevo eval --benchmark vsibench --endpoint`` against a loopback server that answers after
   ``--latency-ms``: samples/s at concurrency 1 and 8, and their ratio.

    .venv/bin/python benchmarks/dataset_bench.py [--per-task 6] [--repeats 3] [--latency-ms 20]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from spatialevo.cli.main import main
from spatialevo.hfdata import write_folder


def _timed(fn, repeats: int) -> tuple[float, object]:  # noqa: ANN001
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def _server(latency_s: float) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a) -> None:
            pass

        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers["Content-Length"]))
            time.sleep(latency_s)
            body = json.dumps({"choices": [{"message": {"role": "assistant", "content": "A"}}]}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


def run(per_task: int, repeats: int, latency_ms: float) -> list[dict]:
    import datasets

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "qa"
        t0 = time.perf_counter()
        main(["generate", "--out", str(out), "--per-task", str(per_task), "--quiet"])
        gen = time.perf_counter() - t0
        n = sum(1 for _ in (out / "data.jsonl").open())
        rows.append({"what": "generate (bundled, all tasks, images)", "records": n, "seconds": round(gen, 2)})
        for fmt in ("spatialevo", "trl", "vsibench"):
            sec, res = _timed(lambda fmt=fmt: write_folder(out, fmt), repeats)
            mb = sum(p.stat().st_size for p in (out / "data").glob("*.parquet")) / 2**20
            rows.append({"what": f"write_folder {fmt}", "rows": res["rows"], "seconds": round(sec, 3),
                         "rows_per_s": round(res["rows"] / sec), "mb": round(mb, 2)})
            cache = Path(tmp) / f"cache-{fmt}"
            t0 = time.perf_counter()
            ds = datasets.load_dataset(str(out), split="test" if fmt == "vsibench" else "train", cache_dir=str(cache))
            first = time.perf_counter() - t0
            t0 = time.perf_counter()
            for row in ds:
                _ = row["images"]
            read = time.perf_counter() - t0
            rows.append({"what": f"load_dataset {fmt} (fresh cache)", "rows": ds.num_rows, "seconds": round(first, 3),
                         "read_all_rows_s": round(read, 3), "rows_per_s": round(ds.num_rows / read)})
            shutil.rmtree(cache, ignore_errors=True)
        httpd = _server(latency_ms / 1000)
        url = f"http://127.0.0.1:{httpd.server_address[1]}/v1"
        rates = {}
        for conc in (1, 8):
            log = Path(tmp) / f"log-{conc}.jsonl"
            t0 = time.perf_counter()
            main(["eval", "--benchmark", "vsibench", "--data", str(out), "--endpoint", url, "--model-name", "m", "--log", str(log),
                  "--concurrency", str(conc), "--quiet"])
            sec = time.perf_counter() - t0
            k = sum(1 for _ in log.open()) - 1
            rates[conc] = k / sec
            rows.append({"what": f"eval vsibench endpoint, concurrency {conc}, {latency_ms:g} ms server latency", "samples": k,
                         "seconds": round(sec, 2), "samples_per_s": round(k / sec, 1)})
        rows.append({"what": "endpoint concurrency 8 / 1", "ratio": round(rates[8] / rates[1], 2)})
        httpd.shutdown()
    return rows


def main_() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--per-task", type=int, default=6, help="records per task and scene")
    ap.add_argument("--repeats", type=int, default=3, help="timed repeats (median)")
    ap.add_argument("--latency-ms", type=float, default=20.0, help="the loopback server's delay per request")
    args = ap.parse_args()
    for row in run(args.per_task, args.repeats, args.latency_ms):
        print(json.dumps(row))
    return 0


if __name__ == "__main__":
    sys.exit(main_())
