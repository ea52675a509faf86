"""Dataset generation on Ray: ``spatialevo generate --backend ray`` (optional extra ``ray``).

The run is the one of :mod:`spatialevo.generate`: the same units, chunks, per-unit seeding, part
files, manifest and images. Only *where* a chunk's records are made changes: each missing chunk of
the shard is sent to one of ``workers`` Ray actors (one CPU each) on the cluster that
``ray.init(address=...)`` finds — ``address=None``: the cluster named by ``RAY_ADDRESS`` or one
already running on this machine, else a local instance started for the run with ``num_cpus`` CPUs.
The driver (the process running the command) is the only writer of the output folder: a worker
returns a chunk's record lines, its images as PNG bytes and its counts, and the driver writes the
images, then the part (atomically), as each chunk comes back. So the output folder needs to exist
on the driver only, the parts are the same bytes as ``--backend local`` writes (a test compares
them), and a killed run resumes like a local one: finished parts verify and are skipped.

Scenes reach the workers in one of two ways (``scenes``):

- ``"shared"`` (default): each worker opens the run's ``--scenes`` itself (an absolute path, or
  ``bundled`` / ``synthetic:N``), so every node must see the same files at the same path (NFS, a
  cluster file system, or a copy on each node); a worker that sees other scenes (names or file
  sizes differ) stops the run with an error that says so.
- ``"object-store"``: the driver loads each scene and puts it into Ray's object store, with the
  bytes of the image files its frames name; a worker writes those into a temporary folder of its
  own. Nothing but the driver needs the scene files; the driver loads scenes one after another
  (a few at a time in memory).

Chunks are handed out as by the local process pool (:mod:`spatialevo.genworker`: one contiguous
run of chunks per worker, so a worker builds each scene's question pools once; a worker that is
done takes over the tail of the longest run left).
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
import tempfile
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spatialevo.errors import SpatialEvoError
from spatialevo.genworker import ChunkResult, Worker, claim, lanes, scenes_of
from spatialevo.selfplay.sources import SceneSource

if TYPE_CHECKING:
    from spatialevo.genunits import Units
    from spatialevo.scene.model import Scene

log = logging.getLogger(__name__)
SCENE_MODES = ("shared", "object-store")
#: chunks each worker has queued at once (one running, one waiting: no idle gap between chunks)
IN_FLIGHT = 2
#: times a chunk is retried on a new worker after its worker died (then the run stops; rerun resumes)
RETRIES = 2
#: ``"object-store"``: the scenes whose frame files a worker keeps on disk (the last ones it was given;
#: more than the round's cache of 2 plus the scenes of one chunk)
KEEP_FILES = 6
#: seconds the driver waits for its workers to delete their temporary folders at the end
CLOSE_TIMEOUT_S = 30


@dataclass(frozen=True)
class RayOptions:
    """Where and how ``generate`` runs on Ray (none of these changes a record).

    Attributes:
        address: the cluster (``"auto"``, ``"ray://host:10001"``, ``"host:6379"``); ``None``: the
            ``RAY_ADDRESS`` cluster or a running local one, else a local instance started here.
        workers: Ray actors making chunks (one CPU each); 0: one per CPU of the cluster.
        scenes: ``"shared"`` (workers read the scene path) or ``"object-store"`` (sent by the driver).
        num_cpus: CPUs of a local instance started here (``None``: all of this machine's).
    """

    address: str | None = None
    workers: int = 0
    scenes: str = "shared"
    num_cpus: int | None = None

    def __post_init__(self) -> None:
        if self.scenes not in SCENE_MODES:
            raise SpatialEvoError(f"--ray-scenes must be one of {', '.join(SCENE_MODES)}, got {self.scenes!r}")
        if isinstance(self.workers, bool) or not isinstance(self.workers, int) or not 0 <= self.workers <= 100_000:
            raise SpatialEvoError(f"--ray-workers must be between 0 (one per CPU) and 100,000, got {self.workers!r}")
        if self.num_cpus is not None and not 1 <= self.num_cpus <= 100_000:
            raise SpatialEvoError(f"num_cpus must be between 1 and 100,000, got {self.num_cpus}")

    def check(self) -> None:
        """Raise a one-line error when Ray is not installed (before anything is written)."""
        import_ray()


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise SpatialEvoError("--backend ray needs Ray: pip install 'spatialevo[ray]' (or pip install ray)") from None
    return ray


def _connect(ray: Any, opts: RayOptions) -> bool:
    """Connect to (or start) Ray; returns whether this call started it (and so must shut it down)."""
    if ray.is_initialized():
        return False
    kwargs: dict[str, Any] = {"address": opts.address, "log_to_driver": False, "include_dashboard": False}
    if opts.address is None and opts.num_cpus is not None:
        kwargs["num_cpus"] = opts.num_cpus
    try:
        ray.init(**kwargs)
    except ConnectionError as exc:
        raise SpatialEvoError(f"cannot reach the Ray cluster at {opts.address!r}: {exc}") from None
    return True


class ShippedSource(SceneSource):
    """The worker's side of ``"object-store"``: the run's scene names, each scene given with the
    chunk that needs it (see :func:`pack_scene`), its image files written under ``folder``."""

    def __init__(self, names: Sequence[str], folder: Path):
        super().__init__(names=names, cache=2)
        self.folder: Path = folder
        self.given: dict[int, Any] = {}
        self._recent: dict[int, None] = {}  # scenes given lately, oldest first (their files on disk)

    def give(self, indices: Sequence[int], packed: Sequence[Any]) -> None:
        """The scenes of the next chunk. Files of scenes not given in the last :data:`KEEP_FILES`
        distinct scenes are deleted: the round's cache (2 scenes, each used only in a chunk that
        gives it) cannot hold them any more, so a worker's disk stays bounded over a long run."""
        self.given = dict(zip(indices, packed))
        for i in indices:
            self._recent.pop(i, None)
            self._recent[i] = None
        while len(self._recent) > KEEP_FILES:
            old = next(iter(self._recent))
            del self._recent[old]
            shutil.rmtree(self.folder / f"{old:06d}", ignore_errors=True)

    def _load(self, i: int) -> Scene:
        packed = self.given.get(i)
        if packed is None:
            raise SpatialEvoError(f"scene {self.names[i]} was not sent with this chunk")
        if isinstance(packed, str):  # the driver could not load it (its own skipped list says why)
            raise SpatialEvoError(packed)
        return unpack_scene(packed, self.folder / f"{i:06d}")


def pack_scene(scene: Scene) -> tuple[Scene, dict[str, bytes]]:
    """``scene`` for the object store: its per-process caches dropped, and the bytes of every
    image file its frames name (by path)."""
    files: dict[str, bytes] = {}
    for f in scene.frames:
        for path in (f.rgb_path, f.depth_path, f.instance_path):
            if path is not None and str(path) not in files and Path(path).is_file():
                files[str(path)] = Path(path).read_bytes()
    return dataclasses.replace(scene, _visibility_cache={}), files


def unpack_scene(packed: tuple[Scene, dict[str, bytes]], folder: Path) -> Scene:
    """A scene from :func:`pack_scene` whose frames name copies of its files under ``folder``."""
    scene, files = packed
    folder.mkdir(parents=True, exist_ok=True)
    local: dict[str, Path] = {}
    for k, (path, data) in enumerate(files.items()):
        local[path] = folder / f"{k:06d}{Path(path).suffix}"
        local[path].write_bytes(data)

    def moved(p: Path | None) -> Path | None:
        return None if p is None else local.get(str(p), p)

    frames = [dataclasses.replace(f, rgb_path=moved(f.rgb_path), depth_path=moved(f.depth_path), instance_path=moved(f.instance_path))
              for f in scene.frames]
    return dataclasses.replace(scene, frames=frames, _visibility_cache={})


class RayWorker(Worker):
    """One Ray actor: a :class:`~spatialevo.genworker.Worker` whose scenes, in the ``"object-store"``
    mode, come with each chunk (a :class:`ShippedSource` under its temporary folder)."""

    def __init__(self, cfg: Any, names: Sequence[str], content: Sequence[str], mode: str):
        self.shipped = ShippedSource(names, Path(tempfile.mkdtemp(prefix="spatialevo-ray-"))) if mode == "object-store" else None
        super().__init__(cfg, names, content, source=self.shipped)

    def chunk(self, c: int, indices: Sequence[int] = (), *packed: Any) -> ChunkResult:  # type: ignore[override]
        """Chunk ``c`` (the scenes ``indices`` of it sent as ``packed`` in the object-store mode)."""
        if self.shipped is not None:
            self.shipped.give(indices, packed)
        res = super().chunk(c)
        if self.shipped is not None:
            res[3]["skipped"] = []  # the driver loaded (or failed to load) these scenes: its own list says why
        return res

    def close(self) -> None:
        """Delete the object-store mode's temporary folder."""
        if self.shipped is not None:
            shutil.rmtree(self.shipped.folder, ignore_errors=True)


class _Shipper:
    """The driver's side of ``"object-store"``: each scene loaded once and put into the store
    (the few most recent kept as references; Ray keeps an object while a queued task needs it)."""

    def __init__(self, ray: Any, units: Units, keep: int):
        self.ray, self.units, self.keep, self.refs = ray, units, max(2, keep), {}

    def args(self, scenes: Sequence[int]) -> list[Any]:
        out = []
        for s in scenes:
            if s not in self.refs:
                scene = self.units.source.get(s)
                value = pack_scene(scene) if scene is not None else "the driver could not load this scene"
                self.refs[s] = self.ray.put(value)
                while len(self.refs) > self.keep:
                    self.refs.pop(next(iter(self.refs)))
            out.append(self.refs[s])
        return out


def ray_chunks(units: Units, todo: list[int], out: Path, run: str, opts: RayOptions) -> Iterator[tuple[int, list[str] | None]]:
    """The :data:`~spatialevo.generate.Producer` of ``--backend ray``: chunks made by Ray actors,
    yielded as they finish (their images written first); see the module docstring."""
    if not todo:
        return
    from spatialevo.genimages import write_image

    ray = import_ray()
    started = _connect(ray, opts)
    actors: list[Any] = []
    try:
        cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
        if opts.workers > cpus:  # an actor needs a CPU: the ones beyond would never start, their chunks never come back
            log.warning("--ray-workers %d: the cluster has %d CPUs; running %d workers", opts.workers, cpus, cpus)
        n = max(1, min(opts.workers or cpus, cpus, len(todo)))
        mode = opts.scenes if isinstance(units.cfg.scenes, (str, Path)) else "object-store"  # scenes in memory travel
        cfg = dataclasses.replace(units.cfg, out=Path("."), scenes=_portable(units.cfg.scenes) if mode == "shared" else "")
        names, content = list(units.source.names), list(units.source.fingerprint())
        actor_cls = ray.remote(num_cpus=1)(RayWorker)

        def new_actor() -> Any:
            return actor_cls.remote(cfg, names, content, mode)

        actors = [new_actor() for _ in range(n)]
        shipper = _Shipper(ray, units, keep=2 * n + 2) if mode == "object-store" else None
        yield from _drive(ray, units, out, run, lanes(todo, n), actors, new_actor, shipper, write_image)
    finally:
        _close(ray, actors)
        if started:
            ray.shutdown()


def _close(ray: Any, actors: list[Any]) -> None:
    """Let the workers delete their temporary folders (waiting at most :data:`CLOSE_TIMEOUT_S`),
    then stop them."""
    refs = []
    for a in actors:
        try:
            refs.append(a.close.remote())
        except Exception:  # noqa: BLE001 (an actor already gone)
            pass
    if refs:
        ray.wait(refs, num_returns=len(refs), timeout=CLOSE_TIMEOUT_S)
    for a in actors:
        try:
            ray.kill(a, no_restart=True)
        except Exception:  # noqa: BLE001 (an actor already gone)
            pass


def _portable(scenes: Any) -> str:
    """The ``--scenes`` value as workers elsewhere open it: names as they are, paths absolute."""
    text = str(scenes)
    return text if text == "bundled" or text.startswith("synthetic") else str(Path(text).resolve())


def _drive(ray: Any, units: Units, out: Path, run: str, all_lanes: list[deque[int]], actors: list[Any], new_actor: Any,
           shipper: _Shipper | None, write_image: Any) -> Iterator[tuple[int, list[str] | None]]:
    inflight: dict[Any, tuple[int, int]] = {}  # ref → (worker, chunk)
    retries: dict[int, int] = {}

    def submit(w: int, c: int) -> None:
        scenes = scenes_of(units, c)
        extra = shipper.args(scenes) if shipper is not None else []
        inflight[actors[w].chunk.remote(c, scenes, *extra)] = (w, c)

    def feed(w: int) -> Iterator[tuple[int, None]]:
        while sum(1 for x, _ in inflight.values() if x == w) < IN_FLIGHT:
            c, by_others = claim(w, all_lanes, out, run)
            yield from ((d, None) for d in by_others)
            if c is None:
                return
            submit(w, c)

    for w in range(len(actors)):
        yield from feed(w)
    while inflight:
        ready, _ = ray.wait(list(inflight), num_returns=1)
        w, c = inflight.pop(ready[0])
        try:
            _, lines, images, stats = ray.get(ready[0])
        except ray.exceptions.RayActorError as exc:
            retries[c] = retries.get(c, 0) + 1
            if retries[c] > RETRIES:
                raise SpatialEvoError(f"chunk {c}: its Ray worker died {retries[c]} times ({exc}); the parts written so far are kept, "
                                      "rerun the same command to resume") from None
            log.warning("chunk %d: its Ray worker died; retrying it on a new worker", c)
            try:
                ray.kill(actors[w], no_restart=True)  # in case it is only unreachable, not dead
            except Exception:  # noqa: BLE001 (already gone)
                pass
            actors[w] = new_actor()
            for ref, (x, cc) in list(inflight.items()):  # the dead worker's queued chunk goes with it
                if x == w:
                    inflight.pop(ref)
                    all_lanes[w].appendleft(cc)
            all_lanes[w].appendleft(c)
        except ray.exceptions.RayTaskError as exc:
            cause = getattr(exc, "cause", None) or exc
            raise SpatialEvoError(f"chunk {c} failed on a Ray worker: {cause}") from None
        else:
            for rel, data in images:
                write_image(out, rel, data)
            units.add_stats(stats)
            yield c, lines
        yield from feed(w)
