"""The CLI's parsers (lakeforge/cli.py and lakeforge/commands/): no Spark, no AWS."""

from __future__ import annotations

import argparse

import pytest

from lakeforge.cli import build_parser


def _env_defaults(parser: argparse.ArgumentParser, path: str = "lakeforge") -> dict[str, str]:
    """``--env``'s default of every (sub)command, by command path."""
    found: dict[str, str] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                found.update(_env_defaults(child, f"{path} {name}"))
        elif action.dest == "env":
            found[path] = action.default
    return found


def test_every_command_takes_its_default_env_from_lakeforge_env(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """One exported LAKEFORGE_ENV points every command at one env, as it does the jobs; the
    deploy targets keep their own env (emr / glue) since they deploy to that runtime."""
    monkeypatch.delenv("LAKEFORGE_ENV", raising=False)
    unset = _env_defaults(build_parser())
    monkeypatch.setenv("LAKEFORGE_ENV", "local_s3")
    given = _env_defaults(build_parser())
    deploy = {cmd for cmd in given if cmd.startswith("lakeforge deploy ")}
    assert deploy and {given[c] for c in deploy} <= {"emr", "glue"}
    others = {cmd for cmd in given if cmd not in deploy}
    assert {"lakeforge run", "lakeforge query", "lakeforge crawl", "lakeforge match",
            "lakeforge docs build", "lakeforge bookmarks", "lakeforge quality run",
            "lakeforge glue run", "lakeforge table history", "lakeforge table rollback"} <= others
    assert {c: given[c] for c in others} == dict.fromkeys(others, "local_s3")
    assert {c: unset[c] for c in others} == {
        c: "local_jars" if c.startswith("lakeforge table ") else "local" for c in others}
