"""jobs/web_sessions.py end to end on generated clickstream (in-process, on the test session):
bad lines quarantined with a reason, the replayed event removed once, events published by
dt/hour, sessions found exactly as the generator made them, SageMaker splits written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jobs import web_sessions
from lakeforge.sample_data import write_web_events

pytestmark = pytest.mark.slow  # a whole pipeline run incl. the feature pipeline (~1-3 minutes)


@pytest.fixture(scope="module")
def finished_run(spark, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    root = tmp_path_factory.mktemp("web_sessions")
    counts = write_web_events(root, customers=40, days=2, seed=3)
    mp = pytest.MonkeyPatch()
    mp.setenv("LAKEFORGE_LAKE_ROOT", str(root))
    try:
        code = web_sessions.main(["--env", "local", "--database", "ws"])
    finally:
        mp.undo()
    runs = sorted((root / "metadata" / "runs").glob("*/run_summary.json"))
    summary = json.loads(runs[-1].read_text()) if runs else {}
    return {"root": root, "counts": counts, "code": code, "summary": summary}


def test_events_are_published_and_every_line_is_accounted_for(finished_run, spark) -> None:
    assert finished_run["code"] == 0
    s, counts = finished_run["summary"], finished_run["counts"]
    assert s["status"] == "published"
    ledger = s["rows"]["events"]
    bad_lines = counts["bad_lines"] + counts["unknown_event_type"]
    assert ledger["rows_in"] == counts["events"] + bad_lines + counts["replayed"]
    assert ledger["published"] == counts["events"] == spark.table("ws.web_events").count()
    assert ledger["quarantined"] == bad_lines
    assert ledger["removed_by_rule"] == {"replayed event_id in a partition": 1}
    assert ledger["balanced"]
    partitions = s["published"]["web_events"]["partitions"]
    assert len(partitions) == counts["files"] and all("/" in p for p in partitions)


def test_bad_lines_have_their_reason(finished_run) -> None:
    root: Path = finished_run["root"]
    reasons = sorted(json.loads(line)["reason"] for p in
                     (root / "quarantine" / "ws" / "events").rglob("*.json")
                     for line in p.read_text().splitlines())
    assert reasons == sorted([
        "column duration_ms: 'slow' is not an int",
        "malformed JSON line (not one complete JSON object)",
        "required column event_id is null",
        "unknown event_type (known: page_view, search, add_to_cart, purchase)"])


def test_sessions_match_the_generated_visits(finished_run, spark) -> None:
    from jobs.web_sessions import WebSessionsConfig, sessions_per_customer
    from lakeforge.config import load_config
    from tests.jobsupport import REPO

    cfg = load_config(WebSessionsConfig, REPO / "conf" / "jobs" / "web_sessions.yaml")
    per_customer = sessions_per_customer(spark.table("ws.web_events"), cfg)
    rows = per_customer.collect()
    assert len(rows) == finished_run["counts"]["customers"]
    assert sum(r.n_sessions for r in rows) == finished_run["counts"]["visits"]
    assert {r.label for r in rows} <= {0.0, 1.0}
    assert all(r.device in ("mobile", "desktop", "tablet") for r in rows)


def test_sagemaker_splits_and_manifest(finished_run) -> None:
    f = finished_run["summary"]["features"]
    manifest = json.loads(Path(f["manifest"]).read_text())
    assert manifest["label"]["name"] == "label"
    assert sum(f["splits"].values()) == finished_run["counts"]["customers"]
    assert manifest["files"] == f["files"]  # the channels SageMaker takes from the manifest
    train_csv = sorted(Path(manifest["files"]["train_csv"]).glob("*.csv"))
    first = train_csv[0].read_text().splitlines()[0].split(",")
    assert first[0] in ("0.0", "1.0") and len(first) == 1 + f["n_features"]
