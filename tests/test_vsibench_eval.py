"""``spatialevo eval --benchmark vsibench`` with a model (issue #14, item 3): a real OpenAI-compatible
HTTP server on loopback answers a VSI-format test set the test writes; retries on server errors,
a resumable per-sample log (no sample scored twice), frames from folders or the rows themselves."""

from __future__ import annotations

import hashlib
import io
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from spatialevo import vsibench
from spatialevo.cli.main import main
from spatialevo.errors import SpatialEvoError
from spatialevo.evaluation import SampleLog
from spatialevo.evaluation.visuals import SceneFrames, uniform_indices

# id, question type, question, options, ground truth, the server's reply
ROWS = [
    ("0", "object_counting", "How many chair(s) are in this room?", None, "3", "3"),
    ("1", "object_abs_distance", "Measuring from the closest point of each object, what is the direct distance between the sofa and the tv (in meters)?",
     None, "2.5", "2.7 meters"),
    ("2", "object_rel_direction_easy", "If I am standing by the sofa and facing the tv, is the lamp to the left or the right of the tv?",
     ["A. left", "B. right"], "B", "B."),
    ("3", "object_rel_distance", "Measuring from the closest point of each object, which of these objects (bed, sink, tv) is the closest to the sofa?",
     ["A. bed", "B. sink", "C. tv"], "C", "A"),
    ("4", "room_size_estimation", "What is the size of this room (in square meters)? If multiple rooms are shown, estimate the size of the combined space.",
     None, "20.0", "about 20"),
    ("5", "object_size_estimation", "What is the length of the longest dimension (length, width, or height) of the sofa, measured in centimeters?",
     None, "200", "180"),
]
# the public formulas on those replies: 2.7 vs 2.5 → |0.2|/2.5 = 0.08 ≤ 1 − θ for θ ≤ 0.92 → 9 of 10; 180 vs 200 → 0.1 → θ ≤ 0.9 → 9 of 10
EXPECTED = {"object_counting": 100.0, "object_abs_distance": 90.0, "object_rel_direction": 100.0, "object_rel_distance": 0.0,
            "room_size_estimation": 0.0, "object_size_estimation": 90.0}


class Server:
    """An OpenAI-compatible ``/v1/chat/completions`` on 127.0.0.1 answering by the question text."""

    def __init__(self, replies: dict[str, str]):
        self.replies, self.asked, self.images, self.fail = replies, [], [], 0
        self.fail_after: int | None = None
        self.by_image = False  # replies keyed by (question, SHA-256 of the first image's data URL)
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a) -> None:  # quiet
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                content = body["messages"][0]["content"]
                text = next(p["text"] for p in content if p["type"] == "text")
                with lock:
                    broken = server.fail > 0 or (server.fail_after is not None and len(server.asked) >= server.fail_after)
                    server.fail -= server.fail > 0
                    if not broken:
                        server.asked.append(text)
                        server.images.append(sum(p["type"] == "image_url" for p in content))
                if broken:
                    self.send_response(503)
                    self.end_headers()
                    self.wfile.write(b"overloaded")
                    return
                question = text.split("\n")[1]
                first = next((p["image_url"]["url"] for p in content if p["type"] == "image_url"), "")
                key = (question, hashlib.sha256(first.encode()).hexdigest()) if server.by_image else question
                reply = json.dumps({"choices": [{"message": {"role": "assistant", "content": server.replies[key]}}],
                                    "model": body["model"]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

        lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture()
def testset(tmp_path: Path) -> Path:
    """A VSI-format test set (jsonl) and a frame folder per scene: arkitscenes/<scene>/<k>.png."""
    root = tmp_path / "vsi"
    rows = []
    for i, (rid, qtype, question, options, gt, _) in enumerate(ROWS):
        scene = f"scene{i % 2}"
        rows.append({"id": int(rid), "dataset": "arkitscenes", "scene_name": scene, "question_type": qtype, "question": question,
                     "options": options, "ground_truth": gt})
    for s in range(2):
        folder = root / "arkitscenes" / f"scene{s}"
        folder.mkdir(parents=True)
        for k in range(40):
            Image.fromarray(np.full((48, 64, 3), (k * 6, s * 100, 0), np.uint8)).save(folder / f"{k}.png")
    (root / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


@pytest.fixture()
def server():
    srv = Server({q: reply for _, _, q, _, _, reply in ROWS})
    yield srv
    srv.close()


def _eval(testset: Path, server: Server, log: Path, *extra: str) -> int:
    return main(["eval", "--benchmark", "vsibench", "--data", str(testset / "test.jsonl"), "--endpoint", server.url, "--model-name", "m",
                 "--frames", "8", "--log", str(log), "--json", str(log.with_suffix(".scores.json")), "--retry-wait", "0.01",
                 "--concurrency", "3", "--quiet", *extra])


def test_endpoint_answers_and_scores_as_the_public_harness(testset: Path, server: Server, tmp_path: Path) -> None:
    log = tmp_path / "log.jsonl"
    server.fail = 2  # two 503s first: retried
    assert _eval(testset, server, log) == 0
    rep = json.loads(log.with_suffix(".scores.json").read_text())
    assert {t: r["score"] for t, r in rep["types"].items()} == pytest.approx(EXPECTED)
    assert rep["overall"] == pytest.approx(sum(EXPECTED.values()) / len(EXPECTED))
    assert sorted(server.asked) == sorted(vsibench.prompt({"question_type": t, "question": q, "options": o}) for _, t, q, o, _, _ in ROWS)
    assert set(server.images) == {8}  # 8 of the 40 frames of each scene
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    assert lines[0]["spatialevo_eval_log"] == 1 and sorted(x["id"] for x in lines[1:]) == [r[0] for r in ROWS]
    entry = next(x for x in lines[1:] if x["id"] == "1")
    assert entry["prediction"] == "2.7 meters" and entry["answer"] == "2.7" and entry["score"] == pytest.approx(0.9)
    assert "These are frames of a video." in entry["prompt"] and "single word or phrase" in entry["prompt"]


def test_an_interrupted_run_resumes_with_no_sample_scored_twice(testset: Path, server: Server, tmp_path: Path, capsys) -> None:
    log = tmp_path / "log.jsonl"
    server.fail_after = 3  # the server breaks after three answers
    assert _eval(testset, server, log, "--retries", "1", "--concurrency", "1") == 1
    err = capsys.readouterr().err
    assert "no answer after 2 attempt(s)" in err and "HTTP 503" in err
    first = [json.loads(x) for x in log.read_text().splitlines()[1:]]
    assert len(first) == 3
    with log.open("a") as fh:  # a kill in the middle of a line
        fh.write('{"id": "5", "question_ty')
    server.fail_after = None
    assert _eval(testset, server, log) == 0
    assert "resuming" in capsys.readouterr().out
    ids = [json.loads(x)["id"] for x in log.read_text().splitlines()[1:]]
    assert sorted(ids) == [r[0] for r in ROWS] and len(set(ids)) == len(ids)  # every sample once
    assert len(server.asked) == len(ROWS) == len(set(server.asked))  # none asked twice: the half-written one was asked once, after
    rep = json.loads(log.with_suffix(".scores.json").read_text())
    assert {t: r["score"] for t, r in rep["types"].items()} == pytest.approx(EXPECTED)
    # another model into the same log is refused; two writers at once too
    assert main(["eval", "--benchmark", "vsibench", "--data", str(testset / "test.jsonl"), "--endpoint", server.url,
                 "--model-name", "other", "--frames", "8", "--log", str(log), "--quiet"]) == 2
    assert "belongs to another run" in capsys.readouterr().err
    run = json.loads(log.read_text().splitlines()[0])
    with SampleLog(log, {k: v for k, v in run.items() if k != "spatialevo_eval_log"}):
        assert _eval(testset, server, log) == 2
    assert "being written by another eval run" in capsys.readouterr().err


def test_errors_name_the_problem(testset: Path, server: Server, tmp_path: Path, capsys) -> None:
    base = ["eval", "--benchmark", "vsibench", "--data", str(testset / "test.jsonl"), "--quiet", "--log", str(tmp_path / "l.jsonl")]
    assert main(base) == 2 and "exactly one of --predictions" in capsys.readouterr().err
    assert main([*base, "--endpoint", server.url]) == 2 and "--model-name is required" in capsys.readouterr().err
    assert main([*base, "--endpoint", "localhost:8000", "--model-name", "m"]) == 2 and "http(s) URL" in capsys.readouterr().err
    assert main([*base, "--endpoint", "http://127.0.0.1:9/v1", "--model-name", "m", "--retries", "0", "--timeout", "2"]) == 1
    assert "no answer after 1 attempt(s)" in capsys.readouterr().err
    (testset / "arkitscenes" / "scene1").rename(testset / "elsewhere")
    assert main([*base, "--endpoint", server.url, "--model-name", "m", "--log", str(tmp_path / "l2.jsonl")]) == 2
    assert "no frames for scene 'scene1'" in capsys.readouterr().err


def test_frames_sampled_uniformly_from_a_folder(testset: Path) -> None:
    assert uniform_indices(40, 8) == np.linspace(0, 39, 8, dtype=int).tolist() == [0, 5, 11, 16, 22, 27, 33, 39]
    assert uniform_indices(3, 8) == [0, 1, 2]
    frames = SceneFrames(testset, 8)({"dataset": "arkitscenes", "scene_name": "scene0"})
    assert [im.getpixel((0, 0))[0] for im in frames] == [k * 6 for k in uniform_indices(40, 8)]


def test_frames_sampled_uniformly_from_a_video(tmp_path: Path) -> None:
    av = pytest.importorskip("av", reason="PyAV (the 'video' extra) is not installed")
    folder = tmp_path / "scannet"
    folder.mkdir()
    with av.open(str(folder / "scene0000_00.mp4"), "w") as c:
        s = c.add_stream("mpeg4", rate=10)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        for k in range(30):
            for packet in s.encode(av.VideoFrame.from_ndarray(np.full((48, 64, 3), (k * 8, 50, 0), np.uint8), format="rgb24")):
                c.mux(packet)
        for packet in s.encode():
            c.mux(packet)
    frames = SceneFrames(tmp_path, 5)({"dataset": "scannet", "scene_name": "scene0000_00"})
    red = [im.getpixel((10, 10))[0] for im in frames]
    assert len(frames) == 5 and all(abs(r - 8 * k) <= 6 for r, k in zip(red, uniform_indices(30, 5))), red  # lossy codec: ± a few levels
    (folder / "broken.mp4").write_bytes(b"not a video")
    with pytest.raises(SpatialEvoError, match="cannot decode the video"):
        SceneFrames(tmp_path, 5)({"dataset": "scannet", "scene_name": "broken"})


def test_an_exported_spatialevo_folder_is_answered_from_its_own_images(tmp_path: Path, server: Server) -> None:
    out = tmp_path / "qa"
    assert main(["generate", "--out", str(out), "--tasks", "object_size,absolute_distance,relative_direction_hard", "--per-task", "2",
                 "--clip-frames", "4", "--max-pixels", "3136", "--format", "vsibench", "--quiet"]) == 0
    from spatialevo.evaluation.endpoint import data_url

    rows = vsibench.read_table(out)
    first = [Image.open(io.BytesIO(next(iter(r["images"]))["bytes"])) for r in rows]
    server.by_image = True  # one question reads alike in two scenes: the images tell them apart
    server.replies = {(str(r["question"]), hashlib.sha256(data_url(im).encode()).hexdigest()): str(r["ground_truth"])
                      for r, im in zip(rows, first)}  # the ground truth as the reply
    log = tmp_path / "log.jsonl"
    assert main(["eval", "--benchmark", "vsibench", "--data", str(out), "--endpoint", server.url, "--model-name", "m",
                 "--log", str(log), "--json", str(tmp_path / "s.json"), "--retry-wait", "0.01", "--quiet"]) == 0
    rep = json.loads((tmp_path / "s.json").read_text())
    assert rep["overall"] == 100.0 and set(rep["types"]) == {"object_size_estimation", "object_abs_distance", "object_rel_direction"}
    assert set(server.images) == {4}  # the rows' own 4 clip frames


def test_a_local_checkpoint_answers_the_test_set(testset: Path, tmp_path: Path) -> None:
    pytest.importorskip("transformers")
    from spatialevo.train.tiny import make_tiny_qwen25vl

    make_tiny_qwen25vl(tmp_path / "tiny")
    log = tmp_path / "log.jsonl"
    assert main(["eval", "--benchmark", "vsibench", "--data", str(testset / "test.jsonl"), "--model", str(tmp_path / "tiny"),
                 "--frames", "2", "--max-pixels", "3136", "--max-new-tokens", "4", "--log", str(log), "--quiet"]) == 0
    lines = [json.loads(x) for x in log.read_text().splitlines()[1:]]
    assert sorted(x["id"] for x in lines) == [r[0] for r in ROWS] and all(isinstance(x["prediction"], str) for x in lines)


def test_option_order_gives_the_answer_away_no_more_than_chance() -> None:
    """A text-only rule (the one option out of the canonical order) finds the answer at about chance."""
    canon = ["front-left", "front-right", "back-left", "back-right"]
    rng = np.random.default_rng(0)
    hits = 0
    for i in range(400):
        answer = canon[int(rng.integers(4))]
        options, letter = vsibench.lettered(canon, answer, i, f"rec-{i}")
        names = [o.split(". ", 1)[1] for o in options]
        assert sorted(names) == sorted(canon) and names["ABCD".index(letter)] == answer
        assert vsibench.lettered(canon, answer, i, f"rec-{i}") == (options, letter)  # reproducible
        out_of_order = [k for k in range(4) if [n for n in names if n != names[k]] == [c for c in canon if c != names[k]]]
        hits += bool(out_of_order) and names[out_of_order[0]] == answer
    assert hits / 400 < 0.4, hits / 400  # chance 0.25; answer moved among fixed-order distractors: 0.625


def test_test_set_tables_are_read_as_given(tmp_path: Path, server: Server, capsys) -> None:
    # a CSV whose options are Python list literals (as pandas writes lists)
    (tmp_path / "t.csv").write_text("id,question_type,question,options,ground_truth\n"
                                     "1,object_rel_distance,Which?,\"['A. bed', 'B. tv']\",B\n2,object_counting,How many?,,3\n")
    rows = vsibench.read_table(tmp_path / "t.csv")
    assert rows[0]["options"] == ["A. bed", "B. tv"] and rows[1]["options"] is None
    assert vsibench.prompt(rows[0]).endswith("Options:\nA. bed\nB. tv\nAnswer with the option's letter from the given choices directly.")
    (tmp_path / "bad.csv").write_text("id,question_type,question,options,ground_truth\n1,object_rel_distance,Which?,__import__('os'),B\n")
    with pytest.raises(SpatialEvoError, match="is not a list"):
        vsibench.read_table(tmp_path / "bad.csv")
    (tmp_path / "dup.jsonl").write_text('{"id": 1, "question_type": "object_counting", "ground_truth": "2"}\n' * 2)
    with pytest.raises(SpatialEvoError, match="is in rows 1 and 2"):
        vsibench.read_table(tmp_path / "dup.jsonl")
    # a folder with several tables: the card's test split, or an error naming the files
    import pyarrow as pa
    import pyarrow.parquet as pq

    snap = tmp_path / "snap"
    snap.mkdir()
    for name, n in (("test.parquet", 3), ("test_debiased.parquet", 2)):
        pq.write_table(pa.table({"id": list(range(n)), "question_type": ["object_counting"] * n, "ground_truth": ["2"] * n}), snap / name)
    with pytest.raises(SpatialEvoError, match="several .parquet files"):
        vsibench.read_table(snap)
    (snap / "README.md").write_text("---\nconfigs:\n- config_name: debiased\n  data_files:\n  - split: test\n    path: test_debiased.parquet\n"
                                    "- config_name: full\n  data_files:\n  - split: test\n    path: test.parquet\n---\n")
    assert len(vsibench.read_table(snap)) == 3  # the 'full' config
    # an unknown question type is refused before any request
    (tmp_path / "odd.jsonl").write_text('{"id": 1, "question_type": "route_finding", "question": "?", "ground_truth": "A", '
                                        '"dataset": "arkitscenes", "scene_name": "scene0"}\n')
    assert main(["eval", "--benchmark", "vsibench", "--data", str(tmp_path / "odd.jsonl"), "--endpoint", server.url, "--model-name", "m",
                 "--log", str(tmp_path / "odd-log.jsonl"), "--quiet"]) == 2
    assert "unknown VSI-Bench question type" in capsys.readouterr().err and server.asked == []


def test_logs_survive_odd_replies_and_are_never_overwritten(testset: Path, server: Server, tmp_path: Path, capsys) -> None:
    server.replies = {q: "\ud800 3" for _, _, q, _, _, _ in ROWS}  # a lone surrogate (a JSON escape in the reply)
    log = tmp_path / "log.jsonl"
    assert _eval(testset, server, log) == 0
    assert _eval(testset, server, log) == 0  # and it resumes (every line parses back)
    assert len(log.read_text().splitlines()) == 1 + len(ROWS)
    preds = tmp_path / "preds.jsonl"
    preds.write_text("".join(json.dumps({"id": r[0], "prediction": r[4]}) + "\n" for r in ROWS))
    assert main(["eval", "--benchmark", "vsibench", "--data", str(testset / "test.jsonl"), "--predictions", str(preds),
                 "--log", str(log)]) == 2
    assert "is the log of a model run" in capsys.readouterr().err and len(log.read_text().splitlines()) == 1 + len(ROWS)
