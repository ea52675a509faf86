"""Every ``--help`` of the command line: plain text, a description, and every default stated."""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator

import pytest

from spatialevo.cli.main import build_parser, main
from spatialevo.dge import TASK_NAMES

#: reStructuredText / Sphinx markup that must not reach a terminal
MARKUP = re.compile(r"`|:(mod|class|func|meth|attr|data):|\*\*")


def _parsers(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """``(command words, parser)`` of ``parser`` and every subcommand below it, depth first."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _parsers(sub, (*path, name))


PARSERS = dict(_parsers(build_parser()))
IDS = [" ".join(words) or "spatialevo" for words in PARSERS]


def _options(parser: argparse.ArgumentParser) -> Iterator[argparse.Action]:
    for action in parser._actions:
        if action.option_strings and action.help != argparse.SUPPRESS and not isinstance(
                action, (argparse._HelpAction, argparse._VersionAction)):
            yield action


def _help_text(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    """The option's help as printed (``%(default)s`` and ``%%`` expanded)."""
    return parser._get_formatter()._expand_help(action) if action.help else ""


def test_the_walk_reaches_every_command() -> None:
    tops = {words[0] for words in PARSERS if words}
    assert tops == {"scene", "generate", "show", "pose", "evolve", "eval", "demo"}
    assert {("pose", "train"), ("pose", "eval"), ("scene", "render"), ("scene", "export"), ("scene", "view")} <= set(PARSERS)


@pytest.mark.parametrize("words", list(PARSERS), ids=IDS)
def test_help_is_plain_text_with_a_description(words: tuple[str, ...]) -> None:
    parser = PARSERS[words]
    text = parser.format_help()
    assert not MARKUP.search(text), f"markup in '{' '.join(words)} --help': {MARKUP.search(text).group(0)!r}"
    assert (parser.description or "").strip(), f"'{' '.join(words)} --help' has no description"


@pytest.mark.parametrize("words", list(PARSERS), ids=IDS)
def test_every_default_is_stated(words: tuple[str, ...]) -> None:
    """An option with a default other than None / False says "default" and, for a value one would
    type, the value itself (the whole task list may be called "all N")."""
    parser = PARSERS[words]
    for action in _options(parser):
        default = action.default
        if default is None or default is False:
            continue
        text = _help_text(parser, action)
        where = f"{' '.join(words)} {action.option_strings[0]}"
        assert "default" in text, f"{where}: the help does not state its default {default!r}"
        if isinstance(action, (argparse._StoreConstAction, argparse._StoreFalseAction)) or default == "":
            continue
        if default == ",".join(TASK_NAMES):
            assert f"all {len(TASK_NAMES)}" in text, where
        else:
            shown = {str(default), f"{default:g}"} if isinstance(default, float) else {str(default)}
            assert any(s in text for s in shown), f"{where}: the help does not show the default {default!r}: {text!r}"


def test_demo_help_describes_the_self_play_loop_and_the_dataset(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["demo", "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out.lower()
    for words in ("self-play", "dataset", "spatialevo-v0", "curriculum", "data.jsonl", "top-down", "out/demo"):
        assert words in text, words
