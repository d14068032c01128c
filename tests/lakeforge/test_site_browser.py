"""The lake site in a real browser: headless Chromium (Debian's package, driven by
Playwright) opens the site the lifecycle wrote after one small run of the main job, and the
tests read the rendered DOM: the run's status, the row-flow numbers against the run summary,
every table linked, the match page's numbers, no console error and no request leaving the
site's folder (the site must open offline). A second, failed run then updates the site
incrementally: the first run's page is not rewritten.

Screenshots of each page type go to the test's temp folder; with
``LAKEFORGE_UPDATE_SCREENSHOTS=1`` also to docs/images/ (shown in docs/reports.md).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# The shared run of the whole job (tests/conftest.py main_job_run), then Chromium.
pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("LAKEFORGE_CHROMIUM", "/usr/bin/chromium")


@pytest.fixture(scope="module")
def site_run(main_job_run: dict[str, Any]) -> dict[str, Any]:
    """The suite's one main-job run (tests/conftest.py ``main_job_run``: customers, contacts
    over 3 days, matching, gate, publish into database ``mj``); the lifecycle wrote the site
    as it finished."""
    assert main_job_run["code"] == 0 and main_job_run["summary"], "the job run failed"
    return main_job_run


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's chromium, headless (``make test`` installs it: scripts/ensure_chromium.sh)."""
    if not Path(CHROMIUM).exists():
        message = (f"no Chromium at {CHROMIUM}: run `bash scripts/ensure_chromium.sh` "
                   "(or set LAKEFORGE_CHROMIUM)")
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


class Visit:
    """A page opened from the site folder, with every console error, page error and request
    outside the site's folder recorded."""

    def __init__(self, browser: Any, site: Path) -> None:
        self.page = browser.new_page(viewport={"width": 1200, "height": 900})
        self.errors: list[str] = []
        self.outside: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error"
                     else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("requestfailed", lambda r: self.errors.append(f"failed: {r.url}"))
        prefix = site.parent.parent.resolve().as_uri()  # the lake (raw JSON links live there)
        self.page.on("request", lambda r: None if r.url.startswith(prefix)
                     else self.outside.append(r.url))

    def open(self, path: Path) -> Any:
        assert path.is_file(), f"the site has no page {path}"
        self.page.goto(path.resolve().as_uri())
        return self.page

    def close(self) -> None:
        self.page.close()
        assert self.errors == [], self.errors
        assert self.outside == [], f"requests outside the site: {self.outside}"


def _screenshot(page: Any, name: str, tmp_path: Path) -> Path:
    out = tmp_path / f"site-{name}.png"
    page.screenshot(path=str(out), full_page=True)
    assert out.stat().st_size > 10_000
    if os.environ.get("LAKEFORGE_UPDATE_SCREENSHOTS") == "1":
        shutil.copyfile(out, REPO / "docs" / "images" / out.name)
    return out


def _href_targets(page: Any, selector: str) -> list[Path]:
    base = Path(page.url.removeprefix("file://")).parent
    return [(base / h).resolve() for h in page.eval_on_selector_all(
        selector, "els => els.map(e => e.getAttribute('href'))")]


def test_index_lists_the_run_and_links_every_table(site_run, browser, tmp_path) -> None:
    s = site_run["summary"]
    visit = Visit(browser, site_run["site"])
    page = visit.open(site_run["site"] / "index.html")
    row = page.locator(f"tr[data-run='{s['run_id']}']")
    assert row.locator(".pill").inner_text() == "published"
    expected = {f"mj.{t}" for t in s["published"]}
    linked = {t.stem for t in _href_targets(page, "tr[data-table] td:first-child a")}
    assert linked == expected
    for target in _href_targets(page, "a"):
        assert target.exists(), f"index links to a missing page {target}"
    rows_cell = page.locator("tr[data-table='mj.customers_golden'] td.n").nth(1)
    assert rows_cell.inner_text().replace(",", "") == str(
        s["published"]["customers_golden"]["rows"])
    visit.close()


def test_run_page_shows_the_status_and_the_summarys_row_flow(site_run, browser,
                                                             tmp_path) -> None:
    s = site_run["summary"]
    visit = Visit(browser, site_run["site"])
    page = visit.open(site_run["site"] / "runs" / f"{s['run_id']}.html")
    assert page.get_attribute("#status", "data-kind") == "published"
    assert page.text_content("#status-text") == s["status"]
    assert page.inner_text("#status strong") == "published"
    flows = page.locator("tr.flow")
    assert flows.count() == len(s["rows"]) > 0
    for source, ledger in s["rows"].items():
        row = page.locator(f"tr.flow[data-source='{source}']")
        removed = sum(ledger["removed_by_rule"].values())
        for field, value in (("rows_in", ledger["rows_in"]), ("published", ledger["published"]),
                             ("quarantined", ledger["quarantined"]),
                             ("merged_duplicates", ledger["merged_duplicates"]),
                             ("removed", removed)):
            assert row.locator(f"td[data-field='{field}']").inner_text() == str(value), field
    # the charts are inline SVG, drawn into the page
    assert page.locator("#row-flow svg").count() == 1
    assert page.locator("#timings svg").count() == 1
    linked = {t.stem for t in _href_targets(page, "a.table-link")}
    assert linked == {f"mj.{t}" for t in (*s["published"], *s["checks"])}
    assert all(t.exists() for t in _href_targets(page, "a.table-link"))
    checks = page.locator("tr.check")
    assert checks.count() == sum(len(g["constraints"]) for g in s["checks"].values())
    assert page.locator("#raw-json").get_attribute("href").endswith("run_summary.json")
    assert all(t.exists() for t in _href_targets(page, "#raw-json"))
    assert not page.locator("#config details").get_attribute("open")
    _screenshot(page, "run", tmp_path)
    visit.close()


def test_table_page_shows_versions_partitions_and_metric_trends(site_run, browser,
                                                                tmp_path) -> None:
    s = site_run["summary"]
    pub = s["published"]["contacts_enriched"]
    visit = Visit(browser, site_run["site"])
    page = visit.open(site_run["site"] / "tables" / "mj.contacts_enriched.html")
    assert page.inner_text("#table-name") == "mj.contacts_enriched"
    assert page.inner_text("#row-count") == str(pub["rows"])
    assert page.locator("#partitions tr").count() == len(pub["partitions"]) + 1
    assert page.locator("#versions svg").count() == 1
    schema = page.locator("#schema td:first-child").all_inner_texts()
    assert schema == [c["name"] for c in pub["columns"]] + ["dt"]
    # a trend chart per metric of the gate, read from the metrics repository
    assert page.locator("#metrics svg").count() == 1
    titles = page.text_content("#metrics svg") or ""
    for name in ("Size", "Completeness (contact_id)", "Entropy (job)"):
        assert name in titles
    _screenshot(page, "table", tmp_path)
    visit.close()


def test_match_page_shows_splinks_weights_and_accuracy_against_truth(site_run, browser,
                                                                      tmp_path) -> None:
    s = site_run["summary"]
    m = s["matching"]
    visit = Visit(browser, site_run["site"])
    page = visit.open(site_run["site"] / "matches" / f"{s['run_id']}.html")
    assert page.inner_text("#match-rows") == str(m["rows"])
    assert page.inner_text("#match-clusters") == str(m["clusters"])
    # Splink's match-weight chart names every comparison of the model
    weights = page.text_content("#weights svg") or ""
    for comparison in m["model"]["splink_settings"]["comparisons"]:
        assert comparison["output_column_name"] in weights
    precision = float(page.locator("#pairwise td").nth(0).inner_text())
    assert precision == pytest.approx(m["evaluation"]["pairwise_precision"], abs=1e-4)
    assert page.locator("#scores svg").count() == page.locator("#clusters svg").count() == 1
    _screenshot(page, "match", tmp_path)
    visit.close()


def test_a_failed_run_updates_the_site_without_rewriting_other_run_pages(site_run, browser
                                                                        ) -> None:
    from lakeforge.site import update_site

    s, site = site_run["summary"], site_run["site"]
    first = site / "runs" / f"{s['run_id']}.html"
    before = first.stat().st_mtime_ns
    failed_id = "29990101T000000Z_fa11ed"
    folder = site_run["root"] / "metadata" / "runs" / failed_id
    folder.mkdir(parents=True)
    (folder / "run_summary.json").write_text(json.dumps({
        "job": "customer_propensity", "run_id": failed_id,
        "status": "failed: 9 of 10 input rows are bad", "config": {"database": "mj"},
        "quarantine": [], "seconds": 1.5}))
    index = update_site(site_run["lake"], failed_id)
    assert first.stat().st_mtime_ns == before
    visit = Visit(browser, site)
    page = visit.open(Path(index))
    assert page.locator("tr[data-run]").count() == 2
    assert page.locator(f"tr[data-run='{failed_id}'] .pill").inner_text() == "failed"
    page = visit.open(site / "runs" / f"{failed_id}.html")
    assert page.get_attribute("#status", "data-kind") == "failed"
    assert "No row ledger" in page.inner_text("#row-flow")
    assert "Nothing was quarantined" in page.inner_text("#quarantine")
    visit.close()
