"""A few malformed lines in a sample do not make a CSV or JSON file unreadable (the reader
quarantines them); mostly-malformed files are still skipped with a reason."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from lakeforge.catalog.glue_api import GlueApiCatalog
from lakeforge.crawler import crawl

pytestmark = pytest.mark.aws


def _lines(n: int) -> list[str]:
    return [json.dumps({"id": i, "name": f"n{i}", "amount": i * 1.5}) for i in range(n)]


def test_tolerates_a_few_malformed_lines(tmp_path: Path, glue: GlueApiCatalog) -> None:
    db = f"db_{uuid.uuid4().hex[:8]}"
    j = tmp_path / "events" / "dt=2024-01-01" / "part-0.json"
    j.parent.mkdir(parents=True)
    lines = _lines(40)
    lines.insert(5, '{"id": 99, "name": ')  # truncated record
    j.write_text("\n".join(lines) + "\n")
    c = tmp_path / "people" / "people.csv"
    c.parent.mkdir(parents=True)
    rows = ["id,name,city"] + [f"{i},p{i},c{i}" for i in range(30)]
    rows.insert(10, 'K9,"unterminated,quote')
    rows.insert(20, "1,2")
    c.write_text("\n".join(rows) + "\n")
    report = crawl([str(tmp_path / "events"), str(tmp_path / "people")], database=db,
                   catalog=glue)
    by_name = {t.name: t for t in report.tables}
    assert set(by_name) == {"events", "people"}, report.to_dict()
    assert [c for c, _ in by_name["people"].columns] == ["id", "name", "city"]
    assert dict(by_name["events"].columns)["amount"] == "double"
    assert report.skipped == []


def test_mostly_malformed_file_is_skipped_with_reason(tmp_path: Path,
                                                      glue: GlueApiCatalog) -> None:
    db = f"db_{uuid.uuid4().hex[:8]}"
    j = tmp_path / "bad" / "part-0.json"
    j.parent.mkdir(parents=True)
    j.write_text("\n".join(_lines(3) + ['{"broken": '] * 3) + "\n")
    report = crawl([str(tmp_path / "bad")], database=db, catalog=glue)
    assert report.tables == []
    reasons = [s.reason for s in report.skipped]
    assert any("3 of 6 sampled lines are malformed" in r for r in reasons), reasons
