"""Dataset generation on this machine's cores: ``spatialevo generate --workers N``.

The run is the one of :mod:`spatialevo.generate` (the same units, chunks, parts, manifest and
images); only where a chunk's records are made changes. ``N`` worker processes (at most one per
CPU; forked where :func:`start_method` allows, so they start in milliseconds with this process's
imports; else spawned, which needs a script's top level under ``if __name__ == "__main__":``, as
every ``multiprocessing`` spawn does) each load the scenes of their chunks and make them with a
:class:`~spatialevo.genworker.Worker` and send back the record lines and PNG bytes; this process
is the only writer of the output folder: it writes a chunk's images, then its part (atomically),
as each chunk comes back. So the parts are the bytes a one-process run writes (tests compare
every file), and a killed run resumes like any other: the finished parts verify and are skipped.

A worker that dies (killed, out of memory) stops the run with an error naming its chunk; the parts
written so far are kept, and rerunning the command finishes the rest. The workers ignore Ctrl-C
(SIGINT reaches the whole process group); this process then stops them.
"""

from __future__ import annotations

import dataclasses
import logging
import multiprocessing as mp
import os
import signal
import threading
from collections.abc import Iterator
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spatialevo.cpus import available_cpus
from spatialevo.errors import SpatialEvoError
from spatialevo.genworker import claim, lanes
from spatialevo.runfolder import HELD_LOCKS

if TYPE_CHECKING:
    from spatialevo.genunits import Units

log = logging.getLogger(__name__)
#: chunks each worker has queued at once (one being made, one waiting: no idle gap between chunks)
IN_FLIGHT = 2
#: seconds a worker is given to exit after the run before it is terminated
JOIN_TIMEOUT_S = 10


def pool_size(workers: int, chunks: int) -> int:
    """Worker processes for ``chunks`` chunks: ``workers`` (0: one per available CPU,
    :func:`~spatialevo.cpus.available_cpus`), at most one per CPU (with a warning: each holds its
    own scenes in memory) and one per chunk; 1 means the chunks are made in this process."""
    if isinstance(workers, bool) or not isinstance(workers, int) or not 0 <= workers <= 1024:
        raise SpatialEvoError(f"--workers must be between 0 (one per CPU) and 1,024, got {workers!r}")
    cpus = available_cpus()
    if workers > cpus and chunks > cpus:
        log.warning("--workers %d: this process may use %d CPUs; running %d workers", workers, cpus, cpus)
    return max(1, min(workers or cpus, cpus, chunks))


def _fork_safe(t: threading.Thread) -> bool:
    """Threads a fork may leave behind: the main one, tqdm's monitor, the rasteriser's idle pool
    (which a forked child forgets: :mod:`spatialevo.scene.raster`)."""
    return t is threading.main_thread() or type(t).__name__ == "TMonitor" or t.name.startswith("spatialevo-raster")


def start_method() -> str:
    """``"fork"`` where the platform has it and this process runs no other Python thread than
    :func:`_fork_safe` ones: the workers then inherit the imports; else ``"spawn"`` (a fresh
    interpreter per worker: a fork of a process whose threads may hold locks could hang). Threads
    of native libraries (an OpenMP pool of torch, say) are not seen here; the workers call none of
    those libraries (numpy, numba kernels run by their own Python threads, PIL, zlib)."""
    safe = all(_fork_safe(t) for t in threading.enumerate())
    return "fork" if "fork" in mp.get_all_start_methods() and safe else "spawn"


def _serve(conn: Connection, cfg: Any, names: list[str], content: list[str], inherited: list[Connection]) -> None:
    """A worker process: make the chunks asked for on ``conn`` until ``None`` or the driver is gone.

    ``inherited``: the driver's ends of the pipes, copied into this process by fork; closed first,
    so that the driver's death closes ``conn`` (an orphaned worker stops after its chunk)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the driver's to handle
    for other in inherited:
        other.close()
    for fd in list(HELD_LOCKS):  # copies of the driver's folder lock (fork): a worker outliving it must not hold it
        HELD_LOCKS.discard(fd)
        try:
            os.close(fd)
        except OSError:
            pass
    from spatialevo.genworker import Worker

    try:
        try:
            worker = Worker(cfg, names, content)
        except Exception as exc:  # noqa: BLE001 (sent to the driver, which raises it)
            conn.send(("error", -1, _describe(exc)))
            return
        while (c := conn.recv()) is not None:
            try:
                msg = ("ok", *worker.chunk(c))
            except Exception as exc:  # noqa: BLE001 (sent to the driver, which raises it)
                conn.send(("error", c, _describe(exc)))
                return
            conn.send(msg)
    except (EOFError, OSError):  # the driver is gone
        return


def _describe(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, SpatialEvoError) else f"{type(exc).__name__}: {exc}"


class _Pool:
    """``n`` worker processes, each with a pipe; :meth:`close` stops them."""

    def __init__(self, units: Units, n: int):
        ctx = mp.get_context(start_method())
        forked = ctx.get_start_method() == "fork"
        cfg = dataclasses.replace(units.cfg, out=Path("."))
        names, content = list(units.source.names), list(units.source.fingerprint())
        self.conns: list[Connection] = []
        self.procs: list[Any] = []
        try:
            for _ in range(n):
                mine, theirs = ctx.Pipe()
                inherited = [*self.conns, mine] if forked else []
                proc = ctx.Process(target=_serve, args=(theirs, cfg, names, content, inherited), daemon=True,
                                   name="spatialevo-generate")
                proc.start()
                theirs.close()
                self.conns.append(mine)
                self.procs.append(proc)
        except BaseException:
            self.close()
            raise

    def close(self, abort: bool = False) -> None:
        """Stop the workers: after their queued chunks, or (``abort``: after an error or Ctrl-C,
        whose chunks nobody will write) at once."""
        for conn, proc in zip(self.conns, self.procs):
            if abort:
                proc.terminate()
            else:
                try:
                    conn.send(None)
                except OSError:  # the worker is gone
                    pass
        for proc in self.procs:
            proc.join(JOIN_TIMEOUT_S)
            if proc.is_alive():
                proc.kill()
                proc.join(JOIN_TIMEOUT_S)
        for conn in self.conns:
            conn.close()


def pool_chunks(units: Units, todo: list[int], out: Path, run: str, workers: int) -> Iterator[tuple[int, list[str] | None]]:
    """The :data:`~spatialevo.generate.Producer` of ``--workers N``: chunks made by ``workers``
    processes (:func:`pool_size`), yielded as they come back, their images written first."""
    if not todo:
        return
    from spatialevo.genimages import write_image

    all_lanes = lanes(todo, pool_size(workers, len(todo)))
    pool = _Pool(units, len(all_lanes))
    try:
        yield from _drive(pool, units, out, run, all_lanes, write_image)
    except BaseException:  # an error, Ctrl-C, or the consumer stopped early (GeneratorExit)
        pool.close(abort=True)
        raise
    pool.close()


def _lost(pool: _Pool, w: int, chunk: int) -> SpatialEvoError:
    """The error of worker ``w`` whose pipe broke: the error it sent before exiting, if any (an
    unreadable scene, say), else how it ended (killed by a signal, out of memory)."""
    conn = pool.conns[w]
    try:
        if conn.poll():
            msg = conn.recv()
            if msg[0] == "error":
                return _failed(msg)
    except (EOFError, OSError):
        pass
    pool.procs[w].join(JOIN_TIMEOUT_S)  # its pipe closed: it is exiting; reap it for its exit code
    code = pool.procs[w].exitcode
    how = f"was killed by signal {-code}" if code is not None and code < 0 else "is still running" if code is None else f"exited (code {code})"
    return SpatialEvoError(f"chunk {chunk}: its worker process {how}; the parts written so far are kept, rerun the same command to finish")


def _failed(msg: tuple) -> SpatialEvoError:
    where = f"chunk {msg[1]}" if msg[1] >= 0 else "a worker process"
    return SpatialEvoError(f"{where} failed: {msg[2]}")


def _drive(pool: _Pool, units: Units, out: Path, run: str, all_lanes: list[Any], write_image: Any) -> Iterator[tuple[int, list[str] | None]]:
    asked: dict[int, list[int]] = {w: [] for w in range(len(pool.conns))}  # chunks each worker has been sent, oldest first

    def feed(w: int) -> Iterator[tuple[int, None]]:
        while len(asked[w]) < IN_FLIGHT:
            c, by_others = claim(w, all_lanes, out, run)
            yield from ((d, None) for d in by_others)
            if c is None:
                return
            try:
                pool.conns[w].send(c)
            except OSError:  # the worker is gone (an error it sent first is the one to report)
                raise _lost(pool, w, asked[w][0] if asked[w] else c) from None
            asked[w].append(c)

    for w in range(len(pool.conns)):
        yield from feed(w)
    while any(asked.values()):
        busy = {pool.conns[w]: w for w, cs in asked.items() if cs}
        for conn in wait(list(busy)):
            w = busy[conn]  # type: ignore[index]
            try:
                msg = conn.recv()  # type: ignore[union-attr]
            except (EOFError, OSError):
                raise _lost(pool, w, asked[w][0]) from None
            if msg[0] == "error":
                raise _failed(msg)
            _, c, lines, images, stats = msg
            asked[w].remove(c)
            for rel, data in images:
                write_image(out, rel, data)
            units.add_stats(stats)
            yield c, lines
            yield from feed(w)
