"""`generate`'s images, written by a background thread: a part never exists without its images,
a failed image write is the same error as before (naming the image), an interrupted run leaves no
thread and no partial image, and a scene evicted from the cache while its frames are pending is
written right (the policy's pixels)."""

from __future__ import annotations

import errno
import json
import threading
import time
from pathlib import Path

import pytest

import spatialevo.generate as gen
import spatialevo.genimages as images
from spatialevo.generate import GenerateConfig, digest, generate, merge
from spatialevo.genimages import png_bytes
from spatialevo.runfolder import manifest_id, part_path, read_manifest, read_part
from spatialevo.selfplay import Round, RoundConfig

TASKS = ("object_size", "position_cam_cam")  # a scene task (the clip) and an image task (two frames)
PER_TASK, CHUNK = 3, 4


def run(out: Path) -> Path:
    generate(GenerateConfig(out=out, tasks=TASKS, per_task=PER_TASK, chunk=CHUNK, images=True), progress=False)
    return merge(out)


def records(path: Path) -> list[dict]:
    return [json.loads(x) for x in Path(path).read_text().splitlines()]


def pngs(out: Path) -> dict[str, str]:
    return {p.relative_to(out).as_posix(): digest(p) for p in sorted((out / "images").rglob("*.png"))}


def writer_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("spatialevo-images")]


@pytest.fixture(scope="module")
def ref(tmp_path_factory) -> Path:
    return run(tmp_path_factory.mktemp("ref") / "qa")


def test_a_failed_image_write_leaves_no_part_for_its_chunk(tmp_path, monkeypatch, ref) -> None:
    rows = records(ref)
    scenes = list(dict.fromkeys(r["scene"] for r in rows))
    first = next(r for r in rows if r["scene"] == scenes[1] and r["images"])  # the second scene's first image
    target, failed = first["images"][0], first["index"] // CHUNK
    local, real_write_bytes, real_write_image = threading.local(), Path.write_bytes, images.write_image

    def write_bytes(self: Path, data: bytes) -> int:
        if getattr(local, "full", False) and self.parent.name == ".tmp":
            raise OSError(errno.ENOSPC, "No space left on device", str(self))
        return real_write_bytes(self, data)

    def write_image(out: Path, rel: str, data: bytes) -> None:  # the disk is full for this one image
        local.full = rel == target
        try:
            real_write_image(out, rel, data)
        finally:
            local.full = False

    monkeypatch.setattr(Path, "write_bytes", write_bytes)
    monkeypatch.setattr(images, "write_image", write_image)
    out = tmp_path / "qa"
    with pytest.raises(OSError) as exc:
        run(out)
    assert exc.value.errno == errno.ENOSPC and exc.value.filename == str(out / target)  # the image, not its temporary file
    assert not part_path(out, failed).exists() and not (out / target).exists()
    assert all(part_path(out, c).exists() for c in range(failed)), "the parts finished before the failure are kept"
    run_id = manifest_id(read_manifest(out))
    for part in (out / "parts").glob("part-*.jsonl"):
        c = int(part.stem.split("-")[1])
        for line in read_part(part, c, run_id).splitlines():
            assert all((out / rel).is_file() for rel in json.loads(line)["images"]), f"{part.name} exists without its images"
    assert not list((out / ".tmp").glob("*")), "a temporary image was left behind"
    assert not writer_threads()
    monkeypatch.undo()
    assert digest(run(out)) == digest(ref) and pngs(out) == pngs(ref.parent)  # the rerun finishes the rest


def test_an_interrupted_run_leaves_no_thread_and_no_partial_image(tmp_path, monkeypatch, ref) -> None:
    real = images.write_frame

    def slow(*args: object) -> None:
        time.sleep(0.01)  # the images lag behind the records
        real(*args)

    def interrupt(path: Path, data: object, out: Path) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(images, "write_frame", slow)
    monkeypatch.setattr(gen, "atomic_write", interrupt)  # Ctrl-C as the first part is written
    out = tmp_path / "qa"
    with pytest.raises(KeyboardInterrupt):
        run(out)
    assert not writer_threads(), "the image thread outlived the run"
    assert not list((out / "parts").glob("part-*")) and not list((out / ".tmp").glob("*"))
    done, whole = pngs(out), pngs(ref.parent)
    assert done and all(whole[rel] == sha for rel, sha in done.items()), "an image on disk is not whole"


def test_a_scene_evicted_while_its_frames_are_pending_is_written_right(tmp_path, monkeypatch) -> None:
    real = images.write_frame
    started = threading.Event()

    def slow(*args: object) -> None:
        started.set()
        time.sleep(0.02)
        real(*args)

    monkeypatch.setattr(images, "write_frame", slow)
    rnd = Round("bundled", RoundConfig(cache=1))
    a, b = rnd.source.names[:2]
    frames = [f.id for f in rnd.cache.require(a).scene.frames]
    writer = images.ImageWriter(rnd, tmp_path)
    try:
        writer.submit(a, frames)
        started.wait(10)
        rnd.cache.require(b)  # the cache holds one scene: a is dropped while its frames are pending
        assert len(rnd.cache) == 1
        writer.wait(writer.mark())
    finally:
        writer.close()
    fresh = Round("bundled", RoundConfig(cache=1))
    for fid, img in zip(frames, fresh.images(a, frames)):
        assert (tmp_path / images.image_relpath(a, fid)).read_bytes() == png_bytes(img)  # the pixels the policy sees


def test_the_writer_lags_at_most_one_scene(tmp_path, monkeypatch) -> None:
    real, pending = images.write_frame, []

    def slow(entry, fid, out, cfg) -> None:
        time.sleep(0.005)
        real(entry, fid, out, cfg)

    def submit(self, name, frames) -> None:
        real_submit(self, name, frames)
        pending.append({rel.split("/")[1] for _, rel, job in self._jobs if not job.done()})

    real_submit = images.ImageWriter.submit
    monkeypatch.setattr(images, "write_frame", slow)
    monkeypatch.setattr(images.ImageWriter, "submit", submit)
    cfg = GenerateConfig(out=tmp_path / "qa", tasks=("position_cam_cam",), per_task=1, chunk=8, images=True)
    generate(cfg, progress=False)  # one record per scene: every chunk spans all the scenes
    assert pending and max(len(s) for s in pending) <= 2
    assert {r["scene"] for r in records(merge(tmp_path / "qa"))} == set(Round("bundled").source.names)
    assert all((tmp_path / "qa" / rel).is_file() for r in records(tmp_path / "qa" / "data.jsonl") for rel in r["images"])
