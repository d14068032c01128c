"""lakeforge.site.pages without a browser or Spark: the pages of a failed run, a table
without metrics, a run that matched nothing, and the incremental update (only the new run's
pages and the index are written; other runs' pages stay as they were)."""

from __future__ import annotations

import html
import json
from pathlib import Path

from lakeforge.paths import Lake
from lakeforge.site import build_site, collect, pages, update_site


def _lake(tmp_path: Path) -> Lake:
    return Lake.from_settings(str(tmp_path / "lake"), allow_env_override=False)


def _save(lake: Lake, summary: dict[str, object]) -> None:
    path = Path(collect.summary_uri(lake, str(summary["run_id"])))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary))


FAILED = {"job": "j", "run_id": "20240101T000000Z_fa11ed", "status": "failed: too many bad rows",
          "config": {"database": "db", "password": "hunter2"}, "quarantine": []}
PUBLISHED = {
    "job": "j", "run_id": "20240102T000000Z_0k0k0k", "status": "published",
    "config": {"database": "db"}, "ingest": {"src": {"rows_in": 3, "bad_rows": 0,
                                                      "file_issues": 0, "files": 1,
                                                      "partitions": [""]}},
    "rows": {"src": {"table": "db.t", "rows_in": 3, "published": 3, "quarantined": 0,
                     "merged_duplicates": 0, "removed_by_rule": {}, "balanced": True}},
    "published": {"t": {"rows": 3, "version": "v1", "mode": "overwrite", "format": "parquet",
                        "location": "/lake/curated/db/t", "files": 1,
                        "columns": [{"name": "id", "type": "bigint"}], "partition_keys": [],
                        "partition_stats": []}},
    "phase_seconds": {"write": 1.0, "audit": 0.5, "publish": 0.25}, "quarantine": []}


def test_the_page_of_a_failed_run_says_failed_and_shows_no_flow_and_no_secret(tmp_path
                                                                               ) -> None:
    html = pages.render_run_page(_lake(tmp_path), FAILED, [])
    assert 'data-kind="failed"' in html and "failed: too many bad rows" in html
    assert "No row ledger" in html and "Nothing was quarantined" in html
    assert "No quality gate ran" in html and "hunter2" not in html and "<svg" not in html


def test_the_page_of_a_table_without_metrics_or_versions_says_so(tmp_path) -> None:
    state = collect.table_states([FAILED | {"checks": {"t": {}}}])["db.t"]
    html = pages.render_table_page(_lake(tmp_path), state, [])
    assert "No metric in the repository" in html and "No version published yet" in html
    assert "no schema on record" in html


def test_a_run_that_matched_nothing_has_no_match_page(tmp_path) -> None:
    assert pages.render_match_page(_lake(tmp_path), PUBLISHED) is None


def test_an_empty_lake_builds_an_index_that_says_there_is_nothing_yet(tmp_path) -> None:
    lake = _lake(tmp_path)
    index = Path(build_site(lake))
    text = index.read_text()
    assert "No run has written a summary" in text and "No run has published" in text


def test_update_writes_the_new_run_and_leaves_other_run_pages_alone(tmp_path) -> None:
    lake = _lake(tmp_path)
    _save(lake, FAILED)
    build_site(lake)
    site = Path(pages.site_root(lake))
    failed_page = site / "runs" / f"{FAILED['run_id']}.html"
    failed_page.write_text("left as it was")  # a rewrite would replace this
    _save(lake, PUBLISHED)
    index = Path(update_site(lake, str(PUBLISHED["run_id"])))
    assert failed_page.read_text() == "left as it was"
    run_page = (site / "runs" / f"{PUBLISHED['run_id']}.html").read_text()
    assert 'data-kind="published"' in run_page and run_page.count("<svg") == 2
    table_page = (site / "tables" / "db.t.html").read_text()
    assert 'id="row-count">3<' in table_page
    text = index.read_text()
    assert text.count("<tr data-run=") == 2 and 'href="tables/db.t.html"' in text
    # a full build rewrites every page again
    build_site(lake)
    assert failed_page.read_text() != "left as it was"


def test_the_raw_run_page_escapes_a_script_in_the_job_name(tmp_path: Path) -> None:
    from lakeforge.lifecycle.report import write_summary

    evil = "<script>alert(1)</script>"
    uris = write_summary(_lake(tmp_path), {**FAILED, "job": evil, "status": f"failed: {evil}"})
    page = Path(uris["html"]).read_text()
    assert "<script>" not in page
    assert f"<title>{html.escape(evil)} {FAILED['run_id']}</title>" in page


def test_a_torn_summary_or_quarantine_line_does_not_stop_the_site(tmp_path: Path) -> None:
    lake = _lake(tmp_path)
    q = tmp_path / "quarantine/db/src/run_id=r"
    q.mkdir(parents=True)
    (q / "part-00000.json").write_text('{"reason": "bad amount", "record": "x"}\n{"reas')
    _save(lake, {**FAILED, "quarantine": [str(q)]})
    _save(lake, PUBLISHED)
    torn = Path(collect.summary_uri(lake, "20240103T000000Z_70e70e"))
    torn.parent.mkdir(parents=True)
    torn.write_text('{"job": "j", "run_id": ')
    index = Path(build_site(lake)).read_text()
    assert index.count('class="pill kind-') == 3 and "kind-unreadable" in index
    assert f"unreadable: {torn} is not valid JSON" in index
    run = Path(pages.site_root(lake), "runs", f"{FAILED['run_id']}.html").read_text()
    assert "bad amount" in run and f"1 unreadable line in {q / 'part-00000.json'}" in run
