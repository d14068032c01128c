"""Every key of every job config is checked in the preflight, before Spark starts, with one
line naming the key and the file. Spark is made to fail loudly if anything tries to start it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from jobs import csv_to_parquet, customer_propensity, web_sessions
from tests.jobsupport import REPO


@pytest.fixture(autouse=True)
def no_spark(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("Spark was started: the error should have come before")

    monkeypatch.setattr("lakeforge.session.build_session", refuse)


def _one_error_line(err: str) -> str:
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    return lines[0]


def _with(tmp_path: Path, job: str, edit) -> str:  # type: ignore[no-untyped-def]
    data = yaml.safe_load((REPO / "conf" / "jobs" / f"{job}.yaml").read_text())
    edit(data)
    path = tmp_path / f"{job}.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


def test_dedup_tradeoff_out_of_range_fails_before_spark(capsys, tmp_path: Path,
                                                         monkeypatch) -> None:
    monkeypatch.setenv("LAKEFORGE_LAKE_ROOT", str(tmp_path))
    code = customer_propensity.main(["--env", "local", "--dedup.precision_recall_tradeoff",
                                     "1.5"])
    assert code == 2
    line = _one_error_line(capsys.readouterr().err)
    assert "customer_propensity.yaml" in line and "dedup" in line
    assert "precision_recall_tradeoff" in line and "1.5" in line
    assert not (tmp_path / "quarantine").exists() and not (tmp_path / "metadata").exists()


@pytest.mark.parametrize(("job", "edit", "expected"), [
    (customer_propensity, lambda d: d["run"].update(max_bad_row_fraction=1.5),
     "'run.max_bad_row_fraction' is 1.5"),
    (customer_propensity, lambda d: d["sources"]["contacts"]["mappings"][0].__setitem__(1, "text"),
     "'sources.contacts.mappings[0]': type 'text' is not supported"),
    (customer_propensity, lambda d: d["sources"]["customers"]["mappings"].append(["a", "string"]),
     "'sources.customers.mappings[14]' has 2 entries"),
    (customer_propensity, lambda d: d["outputs"]["contacts"].update(ledger="orders"),
     "'outputs.contacts.ledger' is 'orders', not one of the sources"),
    (customer_propensity, lambda d: d["outputs"]["contacts"].update(mode="merge"),
     "'outputs.contacts.mode' is 'merge'"),
    (customer_propensity, lambda d: d["outputs"]["contacts"].update(quality_suite="nope"),
     "'outputs.contacts.quality_suite' is 'nope': no file"),
    (customer_propensity, lambda d: d["outputs"]["contacts"].update(quality_suite="nope.yaml"),
     "'outputs.contacts.quality_suite' is 'nope.yaml': no file"),
    (customer_propensity, lambda d: d["outputs"]["contacts"].update(quality_suite="nope.dqdl"),
     "'outputs.contacts.quality_suite' is 'nope.dqdl': no file"),
    (customer_propensity, lambda d: d["outputs"]["contacts"].update(quality_suite="q/nope"),
     "'outputs.contacts.quality_suite' is 'q/nope': no file"),
    (customer_propensity, lambda d: d["sources"]["contacts"].update(required=["ghost"]),
     "'sources.contacts.required' names ['ghost']"),
    (customer_propensity, lambda d: d["features"].update(label=None),
     "features.label"),
    (customer_propensity, lambda d: d.pop("outputs"), "missing required key 'outputs'"),
    (customer_propensity, lambda d: d["outputs"].pop("matches"), "'outputs' lacks ['matches']"),
    (customer_propensity, lambda d: d["run"].update(bookmark_option="sometimes"),
     "'run.bookmark_option' is 'sometimes'"),
    (csv_to_parquet, lambda d: d["outputs"]["sales"].update(partition_by=["region"]),
     "'outputs.sales.partition_by' names ['region']"),
    (csv_to_parquet, lambda d: d["outputs"]["sales"].update(
        format="delta", allow_breaking_schema_change=True),
     "'outputs.sales.allow_breaking_schema_change' is for format parquet"),
    (csv_to_parquet, lambda d: d["sources"]["sales"].update(delimiter=";;"),
     "'sources.sales.delimiter' is ';;'"),
    (csv_to_parquet, lambda d: d["sources"]["sales"].update(delimiter='"'),
     "'sources.sales.delimiter' is '\"'; use one character other than the quote"),
    (csv_to_parquet, lambda d: d["sources"]["sales"].update(delimiter=""),
     "'sources.sales.delimiter' is ''"),
    (web_sessions, lambda d: d["sources"]["events"].update(delimiter=","),
     "'sources.events.delimiter' is set on a json source; it is for format csv only"),
    (csv_to_parquet, lambda d: d["outputs"]["sales"].update(partiton_by=["country"]),
     "unknown key 'outputs.sales.partiton_by'"),
    (csv_to_parquet, lambda d: d["run"].update(job_bookmark_to="r1",
                                               bookmark_option="job-bookmark-enable"),
     "'run.job_bookmark_to' needs run.bookmark_option job-bookmark-pause"),
    (csv_to_parquet, lambda d: d["run"].update(job_bookmark_from="r1"),
     "'run.job_bookmark_from' needs run.bookmark_option job-bookmark-pause"),
    (csv_to_parquet, lambda d: d["sources"]["sales"].update(path=""),
     "'sources.sales.path' is empty"),
    (csv_to_parquet, lambda d: d["sources"]["sales"].update(path="../../etc"),
     "'sources.sales.path' is '../../etc'"),
    (csv_to_parquet, lambda d: d["sources"]["sales"].update(path="sales/./2024"),
     "'sources.sales.path' is 'sales/./2024'"),
    (csv_to_parquet, lambda d: d["sources"]["sales"]["mappings"].__setitem__(
        4, ["amount", "decimal(abc)", "amount", "double"]),
     "'sources.sales.mappings[4]': type 'decimal(abc)' is not decimal(p,s)"),
    (csv_to_parquet, lambda d: d["sources"]["sales"]["mappings"].__setitem__(
        4, ["amount", "double", "amount", "decimal(99,2)"]),
     "'sources.sales.mappings[4]': type 'decimal(99,2)': Spark's decimal(p,s) has precision"),
    (csv_to_parquet, lambda d: d["sources"]["sales"]["mappings"].__setitem__(
        4, ["amount", "double", "amount", "decimal(4,5)"]), "scale 0 <= s <= p"),
    (csv_to_parquet, lambda d: d["sources"]["sales"]["mappings"].__setitem__(
        2, ["order_date", "date", "order_date", "int"]),
     "'sources.sales.mappings[2]' casts date to int, which Spark cannot convert"),
    (csv_to_parquet, lambda d: d["sources"]["sales"]["mappings"].append(
        ["order_id", "string", "order_id_text", "string"]),
     "'sources.sales.mappings[6]' repeats the source column 'order_id' of "
     "sources.sales.mappings[0]"),
    (csv_to_parquet, lambda d: d["sources"]["sales"]["mappings"].__setitem__(
        1, ["customer_id", "string", "ORDER_ID", "string"]),
     "'sources.sales.mappings[1]' repeats the target column 'ORDER_ID'"),
    (csv_to_parquet, lambda d: d["sources"]["sales"]["mappings"].append(
        ["", "string", "blank", "string"]),
     "'sources.sales.mappings[6]' has an empty source column"),
    (csv_to_parquet, lambda d: d["sources"]["sales"]["mappings"].append(
        ["order.id", "string", "order_ref", "string"]),
     "'sources.sales.mappings[6]' source column 'order.id' has a '.'"),
    (csv_to_parquet, lambda d: d["run"].update(crawl_raw=True),
     "'run.crawl_raw' is true but raw_database is not set"),
    (csv_to_parquet, lambda d: d["run"].update(crawl_raw=False),
     "'run.crawl_raw' is false but raw_database is not set"),
    (web_sessions, lambda d: d.update(features=None),
     "'features_from' is set ('events') but 'features' is not"),
    (web_sessions, lambda d: d.update(session_gap_minutes=0), "'session_gap_minutes' is 0"),
    (web_sessions, lambda d: d.update(event_types=[]), "'event_types' is empty"),
    (web_sessions, lambda d: d["outputs"]["events"].update(table="web-events"), "web-events"),
])
def test_bad_config_key_is_one_line_naming_key_and_file(job, edit, expected: str, capsys,
                                                        tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("LAKEFORGE_LAKE_ROOT", str(tmp_path))
    name = job.__name__.rsplit(".", 1)[-1]
    config = _with(tmp_path, name, edit)
    assert job.main(["--env", "local", "--config", config]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert expected in line, line
    assert config in line, line


def test_the_shipped_configs_pass_the_checks(capsys, tmp_path: Path, monkeypatch) -> None:
    """Each shipped config gets past validation: the first thing to fail is the missing raw
    input of an empty lake, named by its key."""
    monkeypatch.setenv("LAKEFORGE_LAKE_ROOT", str(tmp_path))
    for job, key in ((customer_propensity, "sources.customers.path"),
                     (csv_to_parquet, "sources.sales.path"),
                     (web_sessions, "sources.events.path")):
        assert job.main(["--env", "local"]) == 2
        line = _one_error_line(capsys.readouterr().err)
        assert key in line and "does not exist" in line, line


def test_bad_phase_and_summary_format_are_one_line(capsys) -> None:
    assert csv_to_parquet.main(["--summary-format", "xml"]) == 2
    assert "--summary-format 'xml'" in _one_error_line(capsys.readouterr().err)
    assert csv_to_parquet.main(["--phase", "deploy"]) == 2
    assert "--phase 'deploy'" in _one_error_line(capsys.readouterr().err)


@pytest.mark.parametrize(("name", "text", "expected"), [
    ("bad.yaml", "checks: [{level: Severe}]\n", "does not parse"),
    ("bad.dqdl", "Rules = [ IsComplete ]\n", "does not parse"),
])
def test_a_quality_suite_that_does_not_parse_fails_before_spark(
        name: str, text: str, expected: str, capsys, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("LAKEFORGE_LAKE_ROOT", str(tmp_path))
    suite = tmp_path / name
    suite.write_text(text)
    config = _with(tmp_path, "csv_to_parquet",
                   lambda d: d["outputs"]["sales"].update(quality_suite=str(suite)))
    assert csv_to_parquet.main(["--env", "local", "--config", config]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert f"{config}: 'outputs.sales.quality_suite' is '{suite}', which {expected}" in line, line


def test_the_castability_table_is_sparks(spark) -> None:
    """can_cast answers as Spark's try_cast (ingestion's and ApplyMapping's cast) does for
    every pair of mapping types, on the installed Spark line: analysed on an empty frame, a
    cast Spark refuses raises, so the preflight's table cannot drift from Spark."""
    from pyspark.errors import AnalysisException

    from lakeforge.lifecycle.settings import MAPPING_TYPES, can_cast

    types = sorted(MAPPING_TYPES) + ["decimal(10,2)", "decimal(38,0)", "binary"]
    frame = spark.createDataFrame([], ", ".join(f"c{i} {t}" for i, t in enumerate(types)))
    wrong = []
    for i, source_type in enumerate(types):
        for target_type in types:
            try:
                frame.selectExpr(f"try_cast(c{i} AS {target_type})").schema  # noqa: B018
                spark_casts = True
            except AnalysisException:
                spark_casts = False
            if can_cast(source_type, target_type) != spark_casts:
                wrong.append((source_type, target_type, spark_casts))
    assert not wrong, f"can_cast differs from Spark on (source, target, Spark casts): {wrong}"
    assert not can_cast("date", "int") and can_cast("timestamp", "bigint")
