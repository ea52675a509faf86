"""Task specs (``tasks/*.yaml``, :mod:`spatialevo.dge.spec`) and the knowledge the task classes state:
one source for each fact (the YAML: description, thresholds, templates; the class: scope, answer
kind, parameters, fixed answer options, which thresholds must be > 0)."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest
import yaml
from dge_scenes import analytic_scene

from spatialevo import DGE
from spatialevo.dge import TASK_NAMES, TASKS, NoValidQuestionError, make_rng
from spatialevo.dge import spec as spec_module
from spatialevo.dge.spec import SPEC_KEYS, load_spec, tasks_dir
from spatialevo.errors import SceneFormatError

POSITIVE = [(t, f.name) for t, c in TASKS.items() for f in dataclasses.fields(c.config_cls) if f.metadata.get("positive")]


def test_spec_files_hold_only_what_the_classes_do_not_state() -> None:
    for task in TASK_NAMES:
        data = load_spec(task)
        assert set(data) <= set(SPEC_KEYS), f"{task}.yaml: {sorted(set(data) - set(SPEC_KEYS))}"
        assert {"task", "description", "thresholds", "templates"} <= set(data), task


@pytest.mark.parametrize("key", ["scope", "answer", "params", "threshold"])
def test_a_key_the_class_states_or_a_typo_is_refused(tmp_path: Path, key: str) -> None:
    for task in TASK_NAMES:
        (tmp_path / f"{task}.yaml").write_text((tasks_dir() / f"{task}.yaml").read_text())
    path = tmp_path / "object_size.yaml"
    data = yaml.safe_load(path.read_text())
    data[key] = {"kind": "number"}
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(SceneFormatError, match="unknown key") as info:
        load_spec("object_size", tmp_path)
    assert info.value.path == path and info.value.field == key
    with pytest.raises(SceneFormatError, match="unknown key"):
        DGE(analytic_scene(), tasks_folder=tmp_path)


def test_spec_module_names_no_task_and_no_threshold() -> None:
    """Which thresholds must be > 0 is declared on the config dataclasses, not listed in spec.py."""
    names = set(TASK_NAMES) | {f.name for c in TASKS.values() for f in dataclasses.fields(c.config_cls)}
    tree = ast.parse(Path(spec_module.__file__).read_text(encoding="utf-8"))
    strings = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    assert not strings & names, sorted(strings & names)


def test_positive_thresholds_are_declared_on_the_config_fields() -> None:
    """The thresholds that were listed by name in spec.py keep their ``positive`` marker on every task that has them."""
    before = {"min_distance_m", "min_size_cm", "min_count", "min_translation_m", "min_separation_m"}
    having = {(t, f.name) for t, c in TASKS.items() for f in dataclasses.fields(c.config_cls) if f.name in before}
    assert having and having <= set(POSITIVE)


@pytest.mark.parametrize(("task", "name"), POSITIVE)
def test_a_positive_threshold_refuses_zero(task: str, name: str) -> None:
    with pytest.raises(SceneFormatError, match="must be > 0") as info:
        DGE(analytic_scene(), config={task: {name: 0}})
    assert info.value.field == f"thresholds.{name}"
    DGE(analytic_scene(), config={task: {name: 2}})


def test_other_thresholds_accept_zero() -> None:
    DGE(analytic_scene(), config={"position_cam_cam": {"boundary_margin_deg": 0}, "absolute_distance": {"min_distance_m": 0.5}})


@pytest.mark.parametrize("task", TASK_NAMES)
def test_fixed_answer_options_are_the_options_of_every_valid_question(task: str) -> None:
    """A task's ``answer_options`` (what generated data is balanced over) are the options each of its
    valid verdicts offers, and contain the answer."""
    opts = TASKS[task].answer_options
    if opts is None:
        return
    dge = DGE(analytic_scene())
    seen = 0
    for i in range(60):
        try:
            v = dge.evaluate(dge.sample(task, make_rng(7, i)))
        except NoValidQuestionError:
            continue
        if v.valid:
            seen += 1
            assert tuple(v.options) == opts and v.answer_text in opts
    assert seen, f"no valid {task} question drawn"
