"""The README's 5-minute tour, command by command.

Run for real (no Spark job, seconds): ``lakeforge --help``, ``lakeforge jobs`` and the two
sample-data generators. The others start Spark jobs (``make demo`` is the whole main job;
``query`` reads its output; ``run`` / ``python -m`` / ``spark-submit`` are job runs tested in
tests/jobs/ and tests/lakeforge/test_job.py), so here they are checked without running: the
command, the job, its config with the command's overrides (validated as the preflight does)
and the files they name must exist.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import subprocess
from datetime import date, timedelta
from pathlib import Path

import pytest

from lakeforge.commands.jobs import discover_jobs, load_job
from lakeforge.config import load_config
from lakeforge.job import parse_job_args
from lakeforge.lifecycle import validate_job_config
from lakeforge.sample_data import write_bank_marketing
from tests.jobsupport import BIN, REPO, job_env


def tour() -> list[list[str]]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    block = re.search(r"## A 5-minute tour\s+```bash\n(.*?)```", text, re.S)
    assert block, "README has no tour block"
    return [shlex.split(line.split("  #")[0]) for line in block.group(1).splitlines()
            if line.strip()]


def help_comment() -> str:
    """The comment on the tour's ``lakeforge --help`` line."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    line = re.search(r"^\.venv/bin/lakeforge --help +# (.*)$", text, re.M)
    assert line, "the tour has no commented lakeforge --help line"
    return line.group(1)


def _run(cmd: list[str], root: Path) -> subprocess.CompletedProcess[str]:
    exe = cmd[0].replace(".venv/bin/", "")
    full = [str(BIN / exe), *cmd[1:]]
    return subprocess.run(full, cwd=REPO, env=job_env(root), capture_output=True, text=True,
                          timeout=120, check=False)


def test_the_tour_has_the_commands_this_test_knows() -> None:
    heads = [" ".join(c[:2]) for c in tour()]
    assert heads[0] == "make demo"
    assert ".venv/bin/lakeforge --help" in heads and ".venv/bin/lakeforge jobs" in heads
    assert sum(h == ".venv/bin/python scripts/generate_sample_data.py" for h in heads) == 3


def test_cheap_tour_commands_run(tmp_path: Path) -> None:
    ran = 0
    for cmd in tour():
        if cmd[:2] == [".venv/bin/lakeforge", "--help"]:
            proc = _run(cmd, tmp_path)
            assert proc.returncode == 0, proc.stderr
            # the README's comment on this line lists every subcommand, and only those
            from lakeforge.cli import build_parser

            listed = {w.strip() for w in help_comment().split(",")}
            actions = [a for a in build_parser()._actions
                       if isinstance(a, argparse._SubParsersAction)]
            assert listed == set(actions[0].choices), listed ^ set(actions[0].choices)
            assert all(sub in proc.stdout for sub in listed)
        elif cmd[:2] == [".venv/bin/lakeforge", "jobs"]:
            proc = _run(cmd, tmp_path)
            assert proc.returncode == 0, proc.stderr
            assert proc.stdout.split() == ["csv_to_parquet", "customer_propensity",
                                           "quality_gate", "web_sessions"]
        elif cmd[:3] == [".venv/bin/python", "scripts/generate_sample_data.py", "--add-days"]:
            _late_days_change_nothing_else(cmd, tmp_path / "bank")
        elif cmd[:2] == [".venv/bin/python", "scripts/generate_sample_data.py"]:
            proc = _run(cmd, tmp_path)
            assert proc.returncode == 0, proc.stderr
            out = json.loads(proc.stdout.strip().splitlines()[-1])
            assert Path(out["raw"]).is_dir() and str(tmp_path) in out["raw"]
        else:
            continue
        ran += 1
    assert ran == 5
    assert any((tmp_path / "raw" / "web_events").rglob("*.json*"))
    assert any((tmp_path / "raw" / "sales").glob("*.csv"))


def _late_days_change_nothing_else(cmd: list[str], root: Path) -> None:
    """``--add-days N`` on a small bank dataset: N contact days after the last, no other file
    touched; on a lake without one it fails with one line."""
    proc = _run(cmd, root)
    assert proc.returncode == 2 and proc.stderr.startswith("error: --add-days: no bank dataset")
    write_bank_marketing(root, customers=30, days=3, seed=3)
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    last = max(date.fromisoformat(p.name[3:]) for p in (root / "raw" / "contacts").glob("dt=*"))
    proc = _run(cmd, root)
    assert proc.returncode == 0, proc.stderr
    after = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    assert {p: after[p] for p in before} == before
    days = [last + timedelta(days=d + 1) for d in range(int(cmd[3]))]
    assert set(after) - set(before) == {
        root / "raw" / "contacts" / f"dt={d.isoformat()}" / "part-00000.json" for d in days}
    assert all(len(after[p].splitlines()) == 200 for p in set(after) - set(before))


@pytest.mark.parametrize("index", range(len(tour())))
def test_every_other_tour_command_names_what_exists(index: int) -> None:
    from lakeforge.cli import build_parser

    cmd = tour()[index]
    if cmd[:2] == ["make", "demo"]:
        assert "demo:" in (REPO / "Makefile").read_text() and (REPO / "scripts/demo.py").is_file()
        return
    if cmd[0] == ".venv/bin/lakeforge":
        parser = build_parser()
        args, _rest = parser.parse_known_args(cmd[1:]) if cmd[1] != "--help" else (None, [])
        if args is None or cmd[1] != "run":
            return
        job, argv = cmd[2], cmd[3:]
    elif cmd[:2] == [".venv/bin/python", "-m"]:
        job, argv = cmd[2].removeprefix("jobs."), cmd[3:]
    elif cmd[0] == ".venv/bin/spark-submit":
        assert (REPO / cmd[1]).is_file()
        job, argv = Path(cmd[1]).stem, cmd[2:]
    else:
        return
    assert job in discover_jobs()
    argv = [a for a in argv if a != "--summary-format" and a != "text"]
    parsed = parse_job_args(argv, job)
    module = load_job(job)
    cfg = load_config(module.JOB.config_cls, parsed.config, parsed.overrides)
    validate_job_config(cfg, parsed.config_source)
