"""``lakeforge glue run``: argument handling (no Spark: the script is not run)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lakeforge.cli import build_parser, main


def test_script_arguments_pass_through_and_env_is_ours() -> None:
    args, rest = build_parser().parse_known_args(
        ["glue", "run", "job.py", "--JOB_NAME", "nightly", "--env", "local", "--day", "1",
         "--glue-version", "6.0"])
    assert args.script == "job.py"
    assert args.env == "local" and args.glue_version == "6.0"
    assert rest == ["--JOB_NAME", "nightly", "--day", "1"]
    assert args.accepts_extra


def test_a_prefix_of_our_options_is_not_taken_from_the_script() -> None:
    args, rest = build_parser().parse_known_args(["glue", "run", "job.py", "--en", "x"])
    assert args.env == "local"
    assert rest == ["--en", "x"]


def test_missing_script_is_a_one_line_error(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["glue", "run", str(tmp_path / "nope.py"), "--JOB_NAME", "j"])
    assert code == 2
    assert "Glue script" in capsys.readouterr().err
