"""Integrity of the solver reward (SPEC §8: a solver output commits to one answer).

Properties, for every one of the sixteen tasks, on arbitrary text and on a grammar of adversarial
fragments (numbers, units, options, direction words, reason codes, negations, hedges, tags, dashes,
operators, repeated blocks):

(a) ``solver_reward`` stays in [0, 1];
(b) no output earns credit (score > 0) against two different categorical ground truths, against a
    valid verdict and an invalid one, or against two different reason codes;
(c) scoring factors through one committed answer read without the ground truth:
    ``score(text, gt=g) == score(canonical_text(read), gt=g)`` for every g of a set;
(d) no output earns more than the best single honest answer (the canonical text of what it was
    read as, in a block); an unparsable output earns at most the format credit.

Plus regression cases for the exploits measured under RL, and a linear-time check.
"""

from __future__ import annotations

import itertools
import time
from collections import Counter
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spatialevo.dge import REASON_CODES, TASKS, Reason, Verdict
from spatialevo.dge.geometry import DIRECTIONS_8
from spatialevo.dge.scoring import (
    COMPONENT_ORDER,
    UNPARSABLE,
    ReasonAnswer,
    answer_block,
    canonical_text,
    read_answer,
    score,
    score_reason,
)
from spatialevo.dge.tasks.relative_direction_hard import LEVEL_OPTIONS
from spatialevo.dge.tasks.visibility_compare import OPTIONS as VISIBILITY_OPTIONS
from spatialevo.selfplay.prompts import MAX_OUTPUT_CHARS
from spatialevo.selfplay.rewards import W_SOLVER_FORMAT, solver_reward

#: hypothesis budgets (fixed and derandomised: the same examples on every run)
FUZZ_EXAMPLES = 120  # per task, for the property test (16 tasks)
TEXT_EXAMPLES = 300  # arbitrary unicode text, all tasks at once
FUZZ = settings(max_examples=FUZZ_EXAMPLES, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

LABELS = ("sofa", "table", "coffee table", "trash bin", "chair", "tv")
_AXES = (("up", "down"), ("front", "back"), ("left", "right"))
#: every compound direction of the image tasks (one component per axis at most), canonical order
COMPOUNDS = tuple(
    "-".join(c for c in COMPONENT_ORDER if c in parts)
    for parts in ({p for p in pick if p} for pick in itertools.product(*[(a, b, None) for a, b in _AXES]))
    if parts
)


@dataclass(frozen=True)
class TaskSpec:
    """Realistic verdicts of one task: the ground truths a valid question can have, its options."""

    name: str
    kind: str
    unit: str | None
    gts: tuple  # ground truths (numbers, options or directions)
    options: tuple[str, ...] | None = None

    def valid(self, gt: object) -> Verdict:
        text = gt if isinstance(gt, str) else f"{gt:g}"
        return Verdict(True, None, f"{self.name}: {text}", gt, text, self.options, {}, self.name, self.kind, self.unit)

    def invalid(self, code: str) -> Verdict:
        return Verdict(False, Reason(code), "invalid", None, "", None, {}, self.name, self.kind, self.unit)


def _spec(name: str) -> TaskSpec:
    task = TASKS[name]
    kind, unit = task.answer_kind, task.unit
    numeric = {"object_counting": (1, 2, 3, 4, 7, 12), "object_size": (5.0, 40.0, 95.0, 180.0, 300.0),
               "absolute_distance": (0.3, 1.1, 2.5, 4.7), "distance_cam_obj": (0.7, 1.0, 2.5, 3.3),
               "room_size": (8.0, 24.0, 47.0)}
    options = {"relative_distance": LABELS[:4], "attribute_measurement": LABELS[:2],
               "depth_order_obj_obj": (*LABELS[:2], "same"), "elevation_cam_cam": ("higher", "lower"),
               "visibility_compare": VISIBILITY_OPTIONS, "relative_direction_hard": LEVEL_OPTIONS["hard"],
               "position_cam_cam": DIRECTIONS_8, "position_cam_obj": DIRECTIONS_8, "position_cam_reg": DIRECTIONS_8}
    if kind in ("number", "integer"):
        return TaskSpec(name, kind, unit, numeric[name])
    if kind == "choice":
        return TaskSpec(name, kind, unit, options[name], options[name])
    gts = COMPOUNDS + (("turn-left", "turn-right") if name == "motion_camera" else ())
    return TaskSpec(name, kind, unit, gts)


SPECS = {name: _spec(name) for name in TASKS}
CODE_FORMS = tuple(f for c in REASON_CODES for f in (c, c.replace("_", " "), c.replace("_", "-").title()))


def test_specs_cover_every_task() -> None:
    assert set(SPECS) == set(TASKS) and len(SPECS) == 16
    assert {s.kind for s in SPECS.values()} == {"number", "integer", "choice", "direction"}
    assert len(COMPOUNDS) == 26


# ------------------------------------------------------------------------------------ strategies
_COMMON = (
    # numbers, malformed numbers, units
    "2.5", "250", "95", "3", "0", "-1", "12,000", "2,5", ".5", "2..5", "1.2.3", "1e3", "9" * 30, "three", "twelve",
    "m", "cm", "mm", "m²", "m2", "m^2", "sq m", "square meters", "ft", "meters", "²", "³",
    # directions and choice words
    "front", "back", "left", "right", "up", "down", "behind", "ahead", "turn left", "turned right", "clockwise",
    "front-left", "back_right", "image 1", "image2", "first image", "same", "both", "neither", "none", "higher", "above",
    "A", "B", "(C)", "D.",
    # reason codes, filler
    *CODE_FORMS, "invalid", "invalid:", "the question is invalid because", "reason:",
    # negations and hedges
    "not", "no", "never", "nor", "isn't", "cannot", "except", "instead", "rather than", "maybe", "perhaps", "probably",
    "possibly", "or", "either", "might", "about", "approximately", "~",
    # tags, markup, dashes, operators, punctuation, prose
    "<answer>", "</answer>", "< Answer >", "</ ANSWER >", "<think>", "</think>", "**", "`", "$", "\\boxed{", "}", "\\times",
    "\u2014", "\u2013", "\u2010", "\u2212", "-", "*", "\u00d7", "\u00b7", "/", "^", "+", "=", ",", ".", ";", ":", "(", ")",
    "\n", "the answer is", "because", "so", "I think", "the sofa", "is", "and",
)
_SEPS = ("", " ", " ", " ", ", ")


def _fragments(spec: TaskSpec) -> tuple[str, ...]:
    own = tuple(str(g) if not isinstance(g, float) else f"{g:g}" for g in spec.gts[:10])
    return _COMMON + own + (spec.options or ()) + ((spec.unit,) if spec.unit else ())


_PREFIXES = ("", "", "The answer is ", "Answer: ", "**", "I think it is ", "So the answer is ", "about ", "<think>3 m, left</think>")
_REASON_PREFIXES = ("", "", "invalid: ", "Invalid - ", "The question is invalid because ", "reason: ", "The answer is ", "not ", "2.5 m, ")
_SUFFIXES = ("", "", ".", "**", ", because it is closer", " (from the image)", "; the sofa is 3 m wide", "\u2014measured",
             ". The other one is on the right.")


def _answers(spec: TaskSpec) -> tuple[str, ...]:
    """Honest-looking answer forms of the task (right or wrong for a given ground truth)."""
    if spec.kind in ("number", "integer"):
        unit = {"m": (" m", " meters"), "cm": (" cm", " centimeters"), "m2": (" m²", " square meters")}.get(spec.unit or "", ("",))
        return tuple(f"{g:g}{u}" for g in spec.gts for u in ("", *unit))
    if spec.options:
        return (*spec.options, *(o.upper().replace("-", " ") for o in spec.options), *"ABCD"[:len(spec.options)])
    return (*spec.gts, *(g.replace("-", " ") for g in spec.gts))


def grammar(spec: TaskSpec) -> st.SearchStrategy[str]:
    """Adversarial texts: fragments joined by separators, optionally inside one or several blocks,
    and honest-looking answers with prose around them and at most one adversarial fragment."""
    piece = st.lists(st.tuples(st.sampled_from(_fragments(spec)), st.sampled_from(_SEPS)), max_size=12).map(
        lambda xs: "".join(f + s for f, s in xs).strip())
    answer = st.tuples(st.sampled_from(_PREFIXES), st.sampled_from(_answers(spec)), st.sampled_from(_SUFFIXES)).map("".join)
    spiked = st.tuples(answer, st.sampled_from(_fragments(spec)), st.booleans()).map(
        lambda p: f"{p[1]} {p[0]}" if p[2] else f"{p[0]} {p[1]}")
    reason = st.tuples(st.sampled_from(_REASON_PREFIXES), st.sampled_from(CODE_FORMS), st.sampled_from(("", ".", "!"))).map("".join)
    block = st.one_of(piece, answer, reason)
    return st.one_of(
        answer.map(lambda x: f"<answer>{x}</answer>"),
        st.tuples(reason, st.sampled_from(("", " the sofa", "\n2.5 m"))).map(lambda p: f"<answer>{p[0]}</answer>{p[1]}"),
        spiked.map(lambda x: f"<answer>{x}</answer>"),
        reason.map(lambda x: f"<answer>{x}</answer>"),
        piece,
        piece.map(lambda x: f"<answer>{x}</answer>"),
        st.tuples(piece, block).map(lambda p: f"<think>{p[0]}</think><answer>{p[1]}</answer>"),
        st.lists(block, min_size=2, max_size=4).map(lambda xs: "".join(f"<answer>{x}</answer>" for x in xs)),
        st.tuples(block, st.integers(2, 30)).map(lambda p: f"<answer>{' '.join([p[0]] * p[1])}</answer>"),
    )


# ------------------------------------------------------------------------------------ properties
def outcome(answer: object) -> str:
    if isinstance(answer, ReasonAnswer):
        return "reason"
    return "unparsable" if answer == UNPARSABLE else "value"


def check_integrity(spec: TaskSpec, text: str) -> str:
    """Assert properties (a)–(d) for one text; returns its outcome class."""
    read = read_answer(text, spec.kind, unit=spec.unit, options=spec.options)  # no ground truth involved
    honest = f"<answer>{canonical_text(read)}</answer>"
    valid = {g: solver_reward(text, spec.valid(g)) for g in spec.gts}
    invalid = {c: solver_reward(text, spec.invalid(c)) for c in REASON_CODES}
    for reward, parts, _ in (*valid.values(), *invalid.values()):
        assert 0.0 <= reward <= 1.0 and 0.0 <= parts["score"] <= 1.0, (text, reward, parts)  # (a)
    paid_valid = [g for g, (_, parts, _) in valid.items() if parts["score"] > 0]
    paid_invalid = [c for c, (_, parts, _) in invalid.items() if parts["score"] > 0]
    if spec.kind in ("choice", "direction"):
        assert len(paid_valid) <= 1, (text, paid_valid)  # (b) two categorical ground truths
    assert not (paid_valid and paid_invalid), (text, paid_valid, paid_invalid)  # (b) valid and invalid
    assert len(paid_invalid) <= 1, (text, paid_invalid)  # (b) two reason codes
    canon = canonical_text(read)
    for g in spec.gts:  # (c) one committed answer
        kw = {"kind": spec.kind, "gt": g, "unit": spec.unit, "options": spec.options}
        assert score(text, **kw) == score(canon, **kw), (text, canon, g)
    for c in REASON_CODES:
        assert score_reason(text, c) == score_reason(canon, c), (text, canon, c)
    bound = W_SOLVER_FORMAT + 1e-12
    for v, (reward, _, _) in itertools.chain(((spec.valid(g), r) for g, r in valid.items()),
                                             ((spec.invalid(c), r) for c, r in invalid.items())):
        if read == UNPARSABLE:
            assert reward <= bound, (text, reward)  # (d) unparsable: format credit at most
        else:
            assert reward <= solver_reward(honest, v)[0] + 1e-12, (text, honest, reward)  # (d)
    return outcome(read)


OUTCOMES: dict[str, Counter[str]] = {}


@pytest.mark.parametrize("task", sorted(TASKS))
def test_reward_integrity_properties(task: str) -> None:
    spec = SPECS[task]
    seen: Counter[str] = Counter()

    @FUZZ
    @given(text=grammar(spec))
    def check(text: str) -> None:
        seen[check_integrity(spec, text)] += 1

    check()
    OUTCOMES[task] = seen
    # the grammar reaches every outcome class, so the properties are exercised on each
    assert all(seen[k] >= 10 for k in ("value", "reason", "unparsable")), (task, dict(seen))


@settings(max_examples=TEXT_EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(max_size=200), task=st.sampled_from(sorted(TASKS)))
def test_reward_integrity_on_arbitrary_text(text: str, task: str) -> None:
    check_integrity(SPECS[task], text)


_THINK_HEADS = ("", "<think>2.5 m or left, maybe</think>", " <think>\nnear tie?\n</think>\n", "<think>", "<think><answer>3</answer></think>",
                "<think>a</think><think>b</think>", "Let me think. <think>x</think>")
_THINK_TAILS = ("", "", " \n", "<think>x</think>", " I am sure.", "</think>")


@pytest.mark.parametrize("task", sorted(TASKS))
def test_reasoning_format_never_pays_more_than_direct(task: str) -> None:
    """answer_format="reasoning" on the adversarial grammar with think blocks around it: a
    well-formed output is paid exactly what its answer block is paid in the direct format, any
    other output 0, so the reasoning format never pays more than the direct one, and properties
    (a)-(d) carry over from the direct format."""
    spec = SPECS[task]
    seen: Counter[bool] = Counter()

    @settings(max_examples=40, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(parts=st.tuples(st.sampled_from(_THINK_HEADS), grammar(spec), st.sampled_from(_THINK_TAILS)))
    def check(parts: tuple[str, str, str]) -> None:
        text = "".join(parts)
        verdicts = [spec.valid(g) for g in spec.gts] + [spec.invalid(c) for c in REASON_CODES]
        formed = None
        for v in verdicts:
            reward, got, _ = solver_reward(text, v, "reasoning")
            direct, want, _ = solver_reward(text, v)
            formed = got["format"] == 1.0
            assert reward <= direct + 1e-12, (text, reward, direct)
            assert (reward, got) == ((direct, want) if formed else (0.0, {"format": 0.0, "score": 0.0})), text
        seen[formed] += 1

    check()
    assert seen[True] >= 3 and seen[False] >= 3, (task, dict(seen))


# ---------------------------------------------------------------------------- regression cases
OBJECT_SIZE = SPECS["object_size"]
DIRS = SPECS["position_cam_cam"]


def test_answer_plus_reason_code_is_never_paid_both_ways() -> None:
    text = "<answer>95 ambiguous_label</answer>"
    assert solver_reward(text, OBJECT_SIZE.valid(95.0))[1]["score"] == 0.0
    assert solver_reward(text, OBJECT_SIZE.invalid("ambiguous_label"))[1]["score"] == 0.0
    assert read_answer(text, "number", unit="cm") == UNPARSABLE
    # the measured sweep: every task's honest answer combined with every reason code
    templates = ("{a} {r}", "{r} {a}", "{a}, {r}", "{a} ({r})", "invalid: {r}. {a}", "{a}. {r}", "{r}\n{a}", "{a} or {r}")
    for spec in SPECS.values():
        g = spec.gts[len(spec.gts) // 2]
        v = spec.valid(g)
        for code, tpl in itertools.product(REASON_CODES, templates):
            out = "<answer>" + tpl.format(a=v.answer_text, r=code) + "</answer>"
            paid = solver_reward(out, v)[1]["score"] > 0, solver_reward(out, spec.invalid(code))[1]["score"] > 0
            assert paid == (False, False), (spec.name, out, paid)


@pytest.mark.parametrize("text", ["ambiguous_label", "ambiguous label", "Ambiguous-Label", "AMBIGUOUS_LABEL.",
                                  "invalid: ambiguous_label", "Invalid - ambiguous label", "The question is invalid because ambiguous label.",
                                  "The answer is ambiguous_label", "reason: ambiguous_label", "**ambiguous_label**"])
def test_reason_answers(text: str) -> None:
    for t in (text, f"<answer>{text}</answer>"):
        assert read_answer(t, "number", unit="cm") == ReasonAnswer("ambiguous_label")
        assert score_reason(t, "ambiguous_label") == 1.0 and score_reason(t, "label_absent") == 0.0
        assert score(t, kind="number", gt=95.0, unit="cm") == 0.0


@pytest.mark.parametrize("text", ["95 ambiguous_label", "ambiguous_label 95", "not ambiguous_label", "ambiguous_label or near_tie",
                                  "ambiguous_label, near tie", "maybe ambiguous_label", "ambiguous label absent",
                                  "the sofa is ambiguous_label", "ambiguous", "ambiguous labels", "front ambiguous_label"])
def test_not_reason_answers(text: str) -> None:
    assert score_reason(f"<answer>{text}</answer>", "ambiguous_label") == 0.0
    assert score(f"<answer>{text}</answer>", kind="number", gt=95.0, unit="cm") == 0.0


def test_reason_codes_with_negation_words_are_reasons() -> None:
    """``not_visible`` / ``no_motion`` / ``no_frames`` hold negation words but are reason codes."""
    for code in ("not_visible", "no_motion", "no_frames", "no_height_difference"):
        assert score_reason(f"<answer>{code}</answer>", code) == 1.0
        assert score_reason(f"<answer>invalid: {code.replace('_', ' ')}</answer>", code) == 1.0


@pytest.mark.parametrize("text,want", [
    ("front-right", 1.0), ("front\u2014right", 1.0), ("front\u2013right", 1.0), ("front\u2212right", 1.0), ("front\u2010right", 1.0),
    ("Front\u2015Right", 1.0), ("not front-right", 0.0), ("front-right, not back-left", 0.0), ("isn't front-right", 0.0),
    ("never front-right", 0.0), ("front-right rather than back-left", 0.0), ("front-right instead of left", 0.0),
    ("anything except front-right", 0.0), ("neither front nor right", 0.0), ("front-right or left", 0.0),
    ("maybe front-right", 0.0), ("perhaps front-right", 0.0), ("probably front-right", 0.0), ("possibly front-right", 0.0),
    ("either front-right or back", 0.0), ("it might be front-right", 0.0), ("no, front-right", 0.0),
    ("I cannot tell; front-right", 0.0),
])
def test_negated_hedged_and_dashed_directions(text: str, want: float) -> None:
    assert solver_reward(f"<answer>{text}</answer>", DIRS.valid("front-right"))[1]["score"] == want


@pytest.mark.parametrize("text", ["2*1", "2 * 1", "2×1", "2·1", "2/1", "2^1", "2+1", "2=1", "2²", "2 ²", "21⁄2", "2 \\times 1", "$2 \\cdot 1$",
                                  "2..5", "1.2.3", "2.5.5 m", "1,2345", "2 m x 1 m", "2.5 m = 250 cm", "21 or 2", "maybe 21"])
def test_arithmetic_and_malformed_numbers_are_unparsable(text: str) -> None:
    for gt in (2.0, 21.0, 22.0, 2.5, 25.0, 1.0):
        assert score(f"<answer>{text}</answer>", kind="number", gt=gt, unit="m") == 0.0, (text, gt)


@pytest.mark.parametrize("text,want", [("about 2.5 m", 2.5), ("approximately 2.5 m", 2.5), ("around 2.5 m", 2.5), ("~2.5 m", 2.5),
                                       ("2.5 m.", 2.5), ("2.5", 2.5), ("250 cm", 2.5), ("2.5 m, 250 cm", 2.5), ("1.2 m^2", 1.2),
                                       ("-2.5 m", -2.5), ("\u22122.5", -2.5), ("2.5 m\u2014measured from the edges", 2.5)])
def test_committed_numbers_still_read(text: str, want: float) -> None:
    unit = "m2" if "^2" in text else "m"
    assert read_answer(f"<answer>{text}</answer>", "number", unit=unit) == pytest.approx(want)


def test_neither_and_none_stay_options_of_visibility_compare() -> None:
    spec = SPECS["visibility_compare"]
    for text in ("neither", "None", "neither image 1 nor image 2", "Neither of them"):
        assert solver_reward(f"<answer>{text}</answer>", spec.valid("neither"))[1]["score"] == 1.0, text
    for text in ("not neither", "image1, not image2", "neither, or image1", "image1 nor image2"):
        assert read_answer(text, "choice", options=spec.options) == UNPARSABLE, text
    # where "neither" is no option it is a negation: "neither front nor left" is not front-left
    assert read_answer("neither front nor left", "choice", options=DIRECTIONS_8) == UNPARSABLE


def test_format_credit_needs_a_complete_non_empty_block() -> None:
    v = OBJECT_SIZE.valid(95.0)
    assert solver_reward("<answer></answer>", v)[:2] == (0.0, {"format": 0.0, "score": 0.0})
    assert solver_reward("<answer> \n </answer>", v)[1]["format"] == 0.0
    assert solver_reward("<answer><think></think></answer>", v)[1]["format"] == 0.0
    assert solver_reward("< answer >95</ answer >", v)[:2] == (pytest.approx(1.0), {"format": 1.0, "score": 1.0})
    assert solver_reward("<ANSWER>95</Answer>", v)[1] == {"format": 1.0, "score": 1.0}
    assert solver_reward("<answer>95", v)[1] == {"format": 0.0, "score": 1.0}  # read, but not in the format
    assert solver_reward("95</answer>", v)[1] == {"format": 0.0, "score": 1.0}
    assert solver_reward("<answer>95</answer>", OBJECT_SIZE.invalid("near_tie"))[1] == {"format": 1.0, "score": 0.0}


@pytest.mark.parametrize("text,block", [
    ("<answer>1</answer>", "1"), ("< answer >1</ answer >", "1"), ("<Answer>\n1\n</ANSWER >", "1"), ("<answer></answer>", ""),
    ("<answer>3</answer> no wait <answer>2.0</answer>", "2.0"), ("<answer>3</answer> then <answer>2", "3"),
    ("<answer>1</answer> junk </answer>", "1"), ("<answer>a<answer>b</answer>", "b"), ("<answer>1 <b>x</b></answer>", "1  x"),
    ("no block", None), ("<answer>1", None), ("1</answer>", None), ("</answer> x <answer>", None),
])
def test_answer_block_is_the_one_definition(text: str, block: str | None) -> None:
    assert answer_block(text) == (block if block is None else block.strip())
    v = OBJECT_SIZE.valid(1.0)
    assert solver_reward(text, v)[1]["format"] == float(bool(block))
    if block is not None:  # the scorer reads exactly that block
        assert score(text, kind="number", gt=1.0, unit="cm") == score(block, kind="number", gt=1.0, unit="cm")


# ------------------------------------------------------------------------------------ linear time
def _fill(unit: str, n: int = MAX_OUTPUT_CHARS) -> str:
    return (unit * (n // len(unit) + 1))[:n]


PATHOLOGICAL = {
    name: _fill(unit) for name, unit in {
        "numbers": "1 ", "dotted": "1.", "dots": ".", "commas": ",", "opens": "<answer>", "closes": "</answer>",
        "boxed": "\\boxed{", "letters": "a", "left_right": "left right ", "reason": "near tie ", "neither": "neither ",
        "digits": "9", "products": "1 *", "images": "image ", "brackets": "(", "em_dashes": "\u2014", "superscripts": "\u00b2",
        "prefix": "the answer is ", "turns": "turn ", "labels": "coffee table ", "directions": "front-left ", "spaces": " ",
        "angles": "<", "angle_spaces": "< ", "lengths": "2.5 m ", "unit_words": "1 square ", "tags": "<aaaa", "nor": "neither nor ",
        "digit_spaces": "1" + " " * 60, "words_ops": "1 abcdefghijkl * ", "hyphens": "a\u2013", "blocks": "<answer>2.5</answer>",
    }.items()
}
PATHOLOGICAL["angle_block"] = "<" + " " * (MAX_OUTPUT_CHARS - 2) + ">"
PATHOLOGICAL["open_spaces"] = "<answer>" + " " * (MAX_OUTPUT_CHARS - 8)
PATHOLOGICAL["dots_then_digit"] = "1" + "." * (MAX_OUTPUT_CHARS - 2) + "1"
# the reasoning format's tags (answer_format="reasoning"): repeated, nested, spaced, a huge think block
PATHOLOGICAL.update({name: _fill(unit) for name, unit in {
    "thinks": "<think>", "think_closes": "</think>", "think_spaces": "< think ", "think_blocks": "<think>a</think><answer>1</answer>",
    "think_nested": "<think><answer>", "think_angles": "<think", "think_close_spaces": "</ think  ",
}.items()})
PATHOLOGICAL["huge_think"] = "<think>" + _fill("2.5 m or 3 ", MAX_OUTPUT_CHARS - 37) + "</think><answer>2.5</answer>  "
PATHOLOGICAL["think_then_spaces"] = "<think>a</think><answer>" + " " * (MAX_OUTPUT_CHARS - 24)


@pytest.mark.parametrize("name", sorted(PATHOLOGICAL))
def test_pathological_8kb_output_scores_fast(name: str) -> None:
    text = PATHOLOGICAL[name]
    assert len(text) == MAX_OUTPUT_CHARS
    for spec in (SPECS["absolute_distance"], SPECS["object_counting"], SPECS["relative_distance"], SPECS["visibility_compare"],
                 SPECS["position_cam_cam"], SPECS["motion_camera"]):
        for v, fmt in itertools.product((spec.valid(spec.gts[0]), spec.invalid("near_tie")), ("direct", "reasoning")):
            best = float("inf")
            for _ in range(3):  # best of three tries: the machine may be busy
                t0 = time.perf_counter()
                solver_reward(text, v, fmt)
                best = min(best, time.perf_counter() - t0)
                if best < 0.050:
                    break
            assert best < 0.050, (name, spec.name, fmt, best)
