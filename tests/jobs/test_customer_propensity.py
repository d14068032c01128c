"""The main job end to end on a tiny generated raw zone (in-process, reusing the test session):
every phase's output is checked against the generator's ground truth."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from lakeforge.localquery import query_table

pytestmark = pytest.mark.slow  # the whole pipeline incl. Splink training: ~1-2 minutes


@pytest.fixture(scope="module")
def finished_run(main_job_run: dict[str, object]) -> dict[str, object]:
    """The suite's one main-job run (tests/conftest.py ``main_job_run``: 120 customers, 3 days)."""
    return main_job_run


def test_job_succeeds_and_ledgers_balance(finished_run) -> None:
    assert finished_run["code"] == 0
    s = finished_run["summary"]
    counts = finished_run["counts"]
    assert s["status"] == "published"
    cust, cont = s["rows"]["customers"], s["rows"]["contacts"]
    assert cust["balanced"] and cont["balanced"]
    assert cust["rows_in"] == counts["customer_records"] + counts["malformed_customer_lines"]
    assert cust["quarantined"] == counts["malformed_customer_lines"]
    assert cust["merged_duplicates"] == counts["customer_records"] - cust["published"] > 0
    assert cont["rows_in"] == counts["contacts"] + counts["malformed_contact_lines"]
    assert cont["quarantined"] >= counts["malformed_contact_lines"]
    assert cont["published"] == s["published"]["contacts_enriched"]["rows"]
    assert s["dropped_null_fields"] == ["fax_number"]
    assert {"customers", "contacts", "indicators"} <= set(s["crawl"]["tables"])
    assert s["ingest"]["indicators"]["bad_rows"] == 0
    assert s["checks"]["contacts_enriched"]["passed"] is True


def test_golden_ids_match_the_ground_truth(finished_run) -> None:
    root: Path = finished_run["root"]
    truth = {r["customer_id"]: r["entity_id"] for r in
             csv.DictReader((root / "metadata/ground_truth/customers_entities.csv").open())}
    rows = query_table(finished_run["lake"], "mj", "customer_matches",
                       "SELECT customer_id, golden_customer_id FROM t")
    assert {r[0] for r in rows} == set(truth)
    golden = {cid: g for cid, g in rows}
    ids = sorted(truth)
    tp = fp = fn = 0
    for i, a in enumerate(ids):
        for b in ids[i + 1:]:
            same_pred = golden[a] == golden[b]
            same_true = truth[a] == truth[b]
            tp += same_pred and same_true
            fp += same_pred and not same_true
            fn += same_true and not same_pred
    precision, recall = tp / max(tp + fp, 1), tp / max(tp + fn, 1)
    assert precision >= 0.9 and recall >= 0.8, (precision, recall, tp, fp, fn)
    n_golden = query_table(finished_run["lake"], "mj", "customers_golden",
                           "SELECT count(*) FROM t")[0][0]
    assert n_golden == len(set(golden.values()))


def test_published_tables_read_like_athena(finished_run, spark) -> None:
    lake = finished_run["lake"]
    by_dt = query_table(lake, "mj", "contacts_enriched",
                        "SELECT dt, count(*) FROM t GROUP BY dt ORDER BY dt")
    assert [r[0] for r in by_dt] == ["2024-05-01", "2024-05-02", "2024-05-03"]
    published = finished_run["summary"]["published"]["contacts_enriched"]["rows"]
    assert sum(r[1] for r in by_dt) == published
    # Spark reads the same through the metastore, with partition pruning on dt.
    assert spark.table("mj.contacts_enriched").where("dt = '2024-05-02'").count() == by_dt[1][1]
    nulls = query_table(lake, "mj", "contacts_enriched",
                        "SELECT count(*) FROM t WHERE golden_customer_id IS NULL OR age IS NULL")
    assert nulls[0][0] == 0


def test_features_and_summary_files(finished_run) -> None:
    root: Path = finished_run["root"]
    s = finished_run["summary"]
    manifest = json.loads(Path(s["features"]["manifest"]).read_text())
    assert manifest["label"]["name"] == "label" and manifest["label"]["index"] == 0
    assert set(s["features"]["splits"]) == {"train", "validation", "test"}
    # The channels SageMaker trains on: the ones manifest.json names (a published version).
    assert manifest["files"] == s["features"]["files"]
    assert "/features/propensity/_versions/" in manifest["files"]["train_csv"]
    train_csv = sorted(Path(manifest["files"]["train_csv"]).glob("*.csv"))
    first = train_csv[0].read_text().splitlines()[0].split(",")
    assert first[0] in ("0.0", "1.0", "0", "1")  # label first, no header
    assert len(first) == 1 + s["features"]["n_features"]
    assert all(_is_number(v) for v in first)
    html = (root / "metadata" / "runs" / s["run_id"] / "run_summary.html").read_text()
    assert "customer_propensity" in html and s["run_id"] in html
    assert (root / "metadata" / "quality" / "metrics.json").is_file()


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return text == ""
    return True
