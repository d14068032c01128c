"""Incremental golden records (issue 16, point 4): the main job (jobs/customer_propensity.py)
with ``incremental_dedup`` and ``--output_format delta|iceberg`` on a tiny bank-marketing lake
(60 customers, 1 contact day). The first run matches everyone and keeps its model; a second run
on a new customers file (one duplicate of a published customer, one new customer) matches only
those two against the published matches and commits the golden table by one MERGE that
rewrites only the files holding the touched entity (Delta: operationMetrics; Iceberg, whose
golden table here is one file: one copy-on-write snapshot, net one row added); a run with
bookmarks disabled (a full re-deduplication with the kept model) publishes the same golden
rows (Delta; both formats with LAKEFORGE_TESTS_FULL=1)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from lakeforge.formats import ICEBERG_CATALOG, formats_enabled
from tests.jobsupport import FULL_TESTS

pytestmark = [pytest.mark.slow, pytest.mark.jars]

GOLDEN = "customers_golden"
MATCHES = "customer_matches"
# ids above the generator's (K100000...): a full run names an entity by its smallest id, an
# incremental run keeps the published one; with larger new ids both agree.
DUPLICATE_ID, NEW_ID = "K900001", "K900002"


def _run(root: Path, db: str, fmt: str, *extra: str) -> dict[str, Any]:
    """One in-process run of the main job on ``root``; returns its run summary."""
    from jobs import customer_propensity

    mp = pytest.MonkeyPatch()
    mp.setenv("LAKEFORGE_LAKE_ROOT", str(root))
    try:
        code = customer_propensity.main(
            ["--env", "local", "--database", db, "--raw_database", f"{db}_raw",
             "--dedup.max_em_iterations", "3", "--output_format", fmt,
             "--incremental_dedup", "true",
             # what this test does not look at: the SageMaker features, the raw crawl
             "--features", "null", "--features_from", "null", "--run.crawl_raw", "false", *extra])
    finally:
        mp.undo()
    runs = sorted((root / "metadata" / "runs").glob("*/run_summary.json"),
                  key=lambda p: p.stat().st_mtime)
    summary = json.loads(runs[-1].read_text())
    assert code == 0, summary.get("status")
    return summary


def _golden_rows(spark, fmt: str, root: Path, db: str,  # type: ignore[no-untyped-def]
                 version: int | None = None) -> list[tuple[Any, ...]]:
    if fmt == "delta":
        from lakeforge.formats import delta

        frame = delta.read_version(spark, str(root / "curated" / db / GOLDEN), version)
    else:
        frame = spark.table(f"{ICEBERG_CATALOG}.{db}.{GOLDEN}")
    cols = sorted(frame.columns)
    return sorted((tuple(r[c] for c in cols) for r in frame.collect()), key=str)


def _matches(spark, fmt: str, root: Path, db: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    if fmt == "delta":
        frame = spark.read.format("delta").load(str(root / "curated" / db / MATCHES))
    else:
        frame = spark.table(f"{ICEBERG_CATALOG}.{db}.{MATCHES}")
    return {r["customer_id"]: r["golden_customer_id"] for r in frame.collect()}


def _add_customers_file(root: Path) -> str:
    """A new customers file: a copy of the first complete published record under a new id
    (a duplicate) and a customer unlike any other; returns the duplicated customer's id."""
    from lakeforge.sample_data import CUSTOMER_HEADER

    folder = root / "raw" / "customers"
    original = None
    for path in sorted(folder.glob("customers-*.csv")):
        for row in csv.DictReader(path.open(encoding="utf-8")):
            if all(row[c] for c in CUSTOMER_HEADER if c != "fax_number") and \
                    row["customer_id"].startswith("K1"):
                original = row
                break
        if original:
            break
    assert original is not None
    new = {c: "" for c in CUSTOMER_HEADER}
    new.update(customer_id=NEW_ID, first_name="Zebedee", last_name="Quillfeather",
               date_of_birth="1931-02-03", email="zq@nowhere.example", phone="07000000001",
               postcode="ZZ9 9ZZ", job="student", marital="single", education="unknown",
               default="no", housing="no", loan="no")
    with open(folder / "customers-100.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(CUSTOMER_HEADER)
        writer.writerow([DUPLICATE_ID if c == "customer_id" else original[c]
                         for c in CUSTOMER_HEADER])
        writer.writerow([new[c] for c in CUSTOMER_HEADER])
    return original["customer_id"]


@pytest.fixture
def bank_lake(tmp_path: Path) -> Path:
    from lakeforge.sample_data import write_bank_marketing

    write_bank_marketing(tmp_path, customers=60, days=1, seed=5)
    return tmp_path


@pytest.mark.parametrize("fmt", ["delta", "iceberg"])
def test_incremental_dedup_merges_the_touched_golden_records(
        spark, bank_lake: Path, fmt: str) -> None:
    """Slow: three runs of the main job in process on the test session (two for Iceberg
    under make test; Splink training in the first; 140 s Iceberg, 250 s Delta at load
    average 1-8, ~600 s each at 10-17). Delta files of at most 8 rows give the golden table
    several files, so that a MERGE touching one entity can be seen to rewrite fewer files
    than the table holds. Then (Delta; both formats with LAKEFORGE_TESTS_FULL=1)
    a full re-deduplication with the kept model publishes the same golden rows."""
    from lakeforge.formats import Target, delta, iceberg

    if fmt not in formats_enabled(spark):
        pytest.skip(f"the test session has no {fmt} jar set: run `make jars`")
    db = f"inc_{fmt}"
    root = bank_lake
    golden_target = Target(db, GOLDEN, str(root / "curated" / db / GOLDEN))
    # Delta files of <= 8 rows (Iceberg does not take maxRecordsPerFile: its golden table is
    # one file, as the staged version is)
    small_files = {"spark.sql.files.maxRecordsPerFile": "8"}
    before_conf = {k: spark.conf.get(k, None) for k in small_files}
    for key, value in small_files.items():
        spark.conf.set(key, value)
    try:
        first = _run(root, db, fmt)
        assert first["published"][GOLDEN]["operation"] == "CREATE"
        assert "incremental" not in first["matching"]
        model_file = root / "metadata" / "match_models" / db / f"{MATCHES}.json"
        assert model_file.is_file()
        golden_before = _golden_rows(spark, fmt, root, db)
        matches_before = _matches(spark, fmt, root, db)
        if fmt == "delta":
            version_before = delta.history(spark, golden_target.location, 1)[0]["version"]
            files_before = len(delta.read_version(spark, golden_target.location).inputFiles())
        else:
            snaps_before = iceberg.snapshots(spark, golden_target)
            files_before = int(snaps_before[-1]["summary"]["total-data-files"])
        assert files_before > 1 if fmt == "delta" else files_before == 1

        original = _add_customers_file(root)
        second = _run(root, db, fmt)
    finally:  # the session's settings as they were
        for key, old in before_conf.items():
            spark.conf.unset(key)
            if old is not None:
                spark.conf.set(key, old)

    # only the two new customers were matched, with the kept model, against the published
    assert second["matching"]["incremental"] == {"new_rows": 2, "changed_rows": 0,
                                                 "entities_touched": 2}
    published = second["published"]
    assert published[GOLDEN]["operation"] == published[MATCHES]["operation"] == "MERGE"
    assert published[MATCHES]["rows"] == 2 and published[GOLDEN]["rows"] == 2
    matches = _matches(spark, fmt, root, db)
    entity = matches_before[original]
    assert matches[DUPLICATE_ID] == entity and matches[NEW_ID] == NEW_ID
    assert {k: v for k, v in matches.items() if k in matches_before} == matches_before
    # the golden table: one new entity, the touched one updated in place, the rest unchanged
    golden_after = _golden_rows(spark, fmt, root, db)
    assert len(golden_after) == len(golden_before) + 1
    assert len(set(golden_after) - set(golden_before)) == 1  # the duplicate adds nothing new

    if fmt == "delta":
        commits = delta.history(spark, golden_target.location, 10)
        new_commits = [c for c in commits if c["version"] > version_before]
        assert [c["operation"] for c in new_commits] == ["MERGE"]
        metrics = new_commits[0]["metrics"]
        assert int(metrics["numTargetRowsUpdated"]) == 1
        assert int(metrics["numTargetRowsInserted"]) == 1
        assert 0 < int(metrics["numTargetFilesRemoved"]) < files_before
    else:  # one copy-on-write snapshot: the file holding the touched entity rewritten
        snaps = iceberg.snapshots(spark, golden_target)
        assert len(snaps) == len(snaps_before) + 1
        summary = snaps[-1]["summary"]
        assert snaps[-1]["operation"] == "overwrite"
        assert int(summary["deleted-data-files"]) == files_before == 1
        assert int(summary["added-records"]) - int(summary["deleted-records"]) == 1
        assert int(summary["total-records"]) == len(golden_after)

    # a full re-deduplication (bookmarks disabled) with the kept model: the same golden rows.
    # Delta only under make test (a fourth main-job run, ~90 s): the matching with the kept
    # model is the same code for both formats, and an Iceberg OVERWRITE commit is tested in
    # tests/lakeforge/test_formats.py; LAKEFORGE_TESTS_FULL=1 runs it for both.
    if fmt == "iceberg" and not FULL_TESTS:
        return
    full = _run(root, db, fmt, "--run.bookmark_option", "job-bookmark-disable")
    assert "incremental" not in full["matching"]
    assert full["published"][GOLDEN]["operation"] == "OVERWRITE"
    assert _golden_rows(spark, fmt, root, db) == golden_after
