"""A resumable per-sample log: JSON lines, one per scored sample, after a header naming the run.

The first line is ``{"spatialevo_eval_log": 1, ...run}`` (the benchmark, the test set's digest,
the model or endpoint and the options that change answers). Reopening a log checks the header
(another run's log is refused, naming what differs), keeps every complete line, cuts a line a kill
left half-written, and reports the ids already scored, so a rerun answers only the rest and no
sample is scored twice. Each new line is flushed and synced as soon as its sample is scored. Only
one process may write a log at a time (``flock``; a second is refused).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from spatialevo.errors import SpatialEvoError

try:
    import fcntl
except ImportError:  # Windows: no lock
    fcntl = None  # type: ignore[assignment]

HEADER_KEY = "spatialevo_eval_log"


class SampleLog:
    """``done`` (id → entry) of the log at ``path`` for the run ``run``; :meth:`add` appends one."""

    def __init__(self, path: str | Path, run: dict[str, Any]):
        self.path = Path(path)
        self.run = {HEADER_KEY: 1, **run}
        self.done: dict[str, dict[str, Any]] = {}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(self.path, "a+b")  # noqa: SIM115  (kept open for appends; closed by close())
        except OSError as exc:
            raise SpatialEvoError(f"--log '{self.path}': {exc.strerror or exc}") from None
        if fcntl is not None:
            try:
                fcntl.flock(self._fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                self._fh.close()
                raise SpatialEvoError(f"--log '{self.path}' is being written by another eval run; wait for it or use another --log") from None
        self._read()

    def _read(self) -> None:
        self._fh.seek(0)
        data = self._fh.read()
        lines = data.split(b"\n")
        keep = len(data) if data.endswith(b"\n") or not data else len(data) - len(lines[-1])  # a half-written last line is cut
        complete = [x for x in lines[:-1] if x.strip()] if data else []
        if not complete:
            self._fh.truncate(0)
            self._write(self.run)
            return
        try:
            head = json.loads(complete[0])
        except ValueError:
            head = None
        if not isinstance(head, dict) or head.get(HEADER_KEY) != 1:
            self.close()
            raise SpatialEvoError(f"--log '{self.path}' is not a spatialevo eval log; give a new file")
        diff = [k for k in sorted(set(head) | set(self.run)) if head.get(k) != self.run.get(k)]
        if diff:
            self.close()
            what = "; ".join(f"{k}: {head.get(k)!r} there, {self.run.get(k)!r} here" for k in diff[:3])
            raise SpatialEvoError(f"--log '{self.path}' belongs to another run ({what}): use another --log to start over")
        for n, line in enumerate(complete[1:], 2):
            try:
                entry = json.loads(line)
                self.done[str(entry["id"])] = entry
            except (ValueError, KeyError, TypeError):
                self.close()
                raise SpatialEvoError(f"{self.path}:{n}: damaged log line; remove it (its sample is answered again)") from None
        if keep != len(data):
            self._fh.truncate(keep)

    def _write(self, obj: dict[str, Any]) -> None:
        self._fh.seek(0, os.SEEK_END)
        self._fh.write((json.dumps(obj, ensure_ascii=True, allow_nan=False) + "\n").encode("ascii"))  # any reply, even a lone surrogate
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def add(self, entry: dict[str, Any]) -> None:
        """Append a scored sample (``entry["id"]`` not scored before)."""
        key = str(entry["id"])
        if key in self.done:
            raise SpatialEvoError(f"internal error: sample {key!r} scored twice")
        try:
            self._write(entry)
        except OSError as exc:
            raise SpatialEvoError(f"--log '{self.path}': {exc.strerror or exc} (the samples logged so far are kept; rerun to resume)") from None
        self.done[key] = entry

    def close(self) -> None:
        if not self._fh.closed:
            self._fh.close()

    def __enter__(self) -> SampleLog:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
