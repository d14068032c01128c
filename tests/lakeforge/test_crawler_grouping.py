# ruff: noqa: F811 - pytest fixtures imported from test_crawler are parameters here
"""Glue's majority grouping: schema clusters, the 70% partition threshold, at most 5 clusters,
CombineCompatibleSchemas and TableThreshold. Crawls run against the Glue API backend on a moto
server (no Spark); the pure grouping cases call ``plan_tables`` on in-memory folders."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest

from lakeforge.catalog.glue_api import GlueApiCatalog
from lakeforge.cli import main
from lakeforge.crawler import (
    FileSchema,
    Folder,
    TableThresholdExceeded,
    cluster_folders,
    crawl,
    plan_tables,
    resolve_root,
)
from lakeforge.crawler.grouping import table_verdict
from lakeforge.errors import ConfigError
from tests.lakeforge.crawler_data import sales, write_parquet


def unrelated(n: int = 2) -> pa.Table:
    return pa.table({"user": pa.array(["x"] * (n - 1) + [None], pa.string()),
                     "email": pa.array(["e"] * n, pa.string())})


def skipped_by_path(report: object) -> dict[str, str]:
    return {s.path: s.reason for s in report.skipped}  # type: ignore[attr-defined]


def dt_lake(root: Path, good: int, *, first: int = 1) -> None:
    for d in range(first, first + good):
        write_parquet(root / f"dt=2024-01-{d:02d}" / "part-0.parquet", sales())


# --------------------------------------------------------------------------- odd folders


@pytest.mark.aws
def test_odd_folders_among_dt_partitions_are_skipped_and_reported_on_moto(
    tmp_path: Path, glue: GlueApiCatalog, glue_db: str
) -> None:
    root = tmp_path / "sales"
    dt_lake(root, 8)
    odd = root / "dt=2024-01-09"
    write_parquet(odd / "part-0.parquet", unrelated())
    csv_odd = root / "dt=2024-01-10"
    csv_odd.mkdir()
    (csv_odd / "x.csv").write_text("a,b\n1,2\n3,\n")
    report = crawl(str(root), database=glue_db, catalog=glue)
    # Before: 10 tables dt_2024_01_01 ... dt_2024_01_10. Now 8 of 10 folders (80%) agree.
    assert [(t.name, t.partition_keys, t.partitions_added) for t in report.tables] == [
        ("sales", ["dt"], 8)]
    assert glue.list_tables(glue_db) == ["sales"]
    assert sorted(p.values for p in glue.get_partitions(glue_db, "sales")) == [
        (f"2024-01-{d:02d}",) for d in range(1, 9)]
    assert [c.name for c in glue.get_table(glue_db, "sales").columns] == [  # type: ignore[union-attr]
        "id", "amount", "customer", "qty"]
    skips = skipped_by_path(report)
    assert set(skips) == {str(odd), str(csv_odd)}
    assert skips[str(odd)].startswith(f"folder not registered: its schema is not similar to "
                                      f"table {root} (its partitions: 8 of 10 data folders")
    assert "shares 0% of the column names" in skips[str(odd)]
    assert "['email', 'user']" in skips[str(odd)]
    assert "its files are csv (uncompressed" in skips[str(csv_odd)]
    assert "is parquet" in skips[str(csv_odd)]


@pytest.mark.aws
def test_recrawls_add_new_partitions_to_the_majority_table_on_moto(
    tmp_path: Path, glue: GlueApiCatalog, glue_db: str
) -> None:
    root = tmp_path / "sales"
    dt_lake(root, 4)
    odd = root / "dt=2024-01-05"
    write_parquet(odd / "part-0.parquet", unrelated())
    first = crawl(str(root), database=glue_db, catalog=glue)
    assert [(t.name, t.partitions_added) for t in first.tables] == [("sales", 4)]
    dt_lake(root, 2, first=6)  # dt=2024-01-06, dt=2024-01-07
    odd2 = root / "dt=2024-01-08"
    write_parquet(odd2 / "part-0.parquet", unrelated())
    second = crawl(str(root), database=glue_db, catalog=glue,
                   recrawl_policy="CRAWL_NEW_FOLDERS_ONLY")
    t = second.table("sales")
    assert (t.partitions_added, t.partitions_already_present, t.schema_changes) == (2, 4, [])
    assert len(second.tables) == 1 and glue.list_tables(glue_db) == ["sales"]
    skips = skipped_by_path(second)
    assert set(skips) == {str(odd), str(odd2)}
    assert all("not similar to table " + f"{glue_db}.sales" in r for r in skips.values())
    assert sorted(p.values for p in glue.get_partitions(glue_db, "sales")) == [
        (f"2024-01-{d:02d}",) for d in (1, 2, 3, 4, 6, 7)]
    # A full recrawl anchors on the registered table and keeps the odd folders out too.
    third = crawl(str(root), database=glue_db, catalog=glue)
    t3 = third.table("sales")
    assert (len(third.tables), t3.partitions_added, t3.partitions_already_present) == (1, 0, 6)
    assert set(skipped_by_path(third)) == {str(odd), str(odd2)}
    assert "email" not in {c.name for c in glue.get_table(glue_db, "sales").columns}  # type: ignore[union-attr]


@pytest.mark.aws
def test_empty_null_and_columnless_folders_at_the_partition_level_on_moto(
    tmp_path: Path, glue: GlueApiCatalog, glue_db: str
) -> None:
    root = tmp_path / "events"
    dt_lake(root, 3)
    # Only a 0-byte file: no data folder, so it counts neither for nor against the majority.
    (root / "dt=2024-01-04").mkdir()
    (root / "dt=2024-01-04" / "part-0.parquet").write_bytes(b"")
    # No rows, same schema: a partition like the others.
    write_parquet(root / "dt=2024-01-05" / "part-0.parquet", sales().slice(0, 0))
    write_parquet(root / "dt=__HIVE_DEFAULT_PARTITION__" / "part-0.parquet", sales())
    columnless = root / "dt=2024-01-06"
    write_parquet(columnless / "part-0.parquet", pa.table({}))
    report = crawl(str(root), database=glue_db, catalog=glue)
    assert [(t.name, t.partitions_added) for t in report.tables] == [("events", 5)]
    values = {p.values for p in glue.get_partitions(glue_db, "events")}
    assert values == {("2024-01-01",), ("2024-01-02",), ("2024-01-03",), ("2024-01-05",),
                      (None,)}
    skips = skipped_by_path(report)
    assert skips[str(root / "dt=2024-01-04" / "part-0.parquet")] == "empty file (0 bytes)"
    assert "shares 0% of the column names" in skips[str(columnless)]
    assert "its columns []" in skips[str(columnless)]


def _folders(tmp_path: Path, spec: dict[tuple[str, ...], list[str]]) -> list[Folder]:
    return [Folder(rel, f"{tmp_path}/{'/'.join(rel)}", [],
                   FileSchema("parquet", None, tuple((c, "bigint") for c in cols)))
            for rel, cols in spec.items()]


GOOD = ["id", "amount", "customer", "qty"]


def test_partition_threshold_is_more_than_70_percent_of_folders(tmp_path: Path) -> None:
    root = resolve_root(str(tmp_path))
    seven_of_ten = {**{(f"dt={d}",): GOOD for d in range(7)},
                    **{(f"dt=x{d}",): [f"other{d}", "z"] for d in range(3)}}
    plans, _ = plan_tables(root, _folders(tmp_path, seven_of_ten))
    assert len(plans) == 10  # 70% is not above the threshold: one table per folder, as in Glue
    assert {p.base_name for p in plans} >= {"dt_0", "dt_x0"}
    five_of_seven = {**{(f"dt={d}",): GOOD for d in range(5)},
                     **{(f"dt=x{d}",): [f"other{d}", "z"] for d in range(2)}}
    plans, skipped = plan_tables(root, _folders(tmp_path, five_of_seven))
    assert [(p.base_name, len(p.partitions)) for p in plans] == [
        (tmp_path.name.lower().replace("-", "_"), 5)]
    assert sorted(s.path for s in skipped) == [f"{tmp_path}/dt=x0", f"{tmp_path}/dt=x1"]


def test_at_most_five_schema_clusters(tmp_path: Path) -> None:
    root = resolve_root(str(tmp_path))
    main = {(f"dt={d}",): GOOD for d in range(20)}
    four_odd = {(f"dt=x{d}",): [f"odd{d}_a", f"odd{d}_b"] for d in range(4)}
    folders = _folders(tmp_path, {**main, **four_odd})
    clusters = cluster_folders((), folders)
    assert [len(c.folders) for c in clusters] == [20, 1, 1, 1, 1]
    plans, skipped = plan_tables(root, folders)
    assert len(plans) == 1 and len(plans[0].partitions) == 20 and len(skipped) == 4
    five_odd = {(f"dt=x{d}",): [f"odd{d}_a", f"odd{d}_b"] for d in range(5)}
    folders = _folders(tmp_path, {**main, **five_odd})
    clusters = cluster_folders((), folders)
    assert [len(c.folders) for c in clusters] == [20, 1, 1, 1, 1, 1]
    assert table_verdict((), folders, clusters) == "more than 5 schema clusters"
    many = _folders(tmp_path, {(f"t{d}",): [f"only{d}"] for d in range(50)})
    assert len(cluster_folders((), many, limit=5)) == 6  # stops at the 6th cluster
    plans, skipped = plan_tables(root, folders)
    assert len(plans) == 25 and skipped == []  # 80% agree, but 6 clusters: one table each


def test_an_unrelated_sibling_table_is_not_a_partition_of_the_parent(tmp_path: Path) -> None:
    """The share is counted at every folder level: raw/a (8 dt folders) and an unrelated raw/b
    (1 dt folder) are two tables, not table raw with partition_0 = a."""
    root = resolve_root(str(tmp_path))
    folders = _folders(tmp_path, {**{("a", f"dt={d}"): GOOD for d in range(8)},
                                  ("b", "dt=1"): ["user", "email"]})
    plans, skipped = plan_tables(root, folders)
    assert sorted((p.base_name, p.partition_keys, len(p.partitions)) for p in plans) == [
        ("a", ["dt"], 8), ("b", ["dt"], 1)]
    assert skipped == []
    # Similar schemas under both: one table with two partition keys (Glue's documented example).
    similar = _folders(tmp_path, {**{("a", f"dt={d}"): GOOD for d in range(4)},
                                  ("b", "dt=1"): GOOD, ("b", "dt=2"): GOOD})
    plans, _ = plan_tables(root, similar)
    assert [(p.partition_keys, len(p.partitions)) for p in plans] == [(["partition_0", "dt"], 6)]
    # year=... folders are partition values: an odd month alone under year=2023 is one odd
    # folder of 13, not half of the year level.
    years = _folders(tmp_path, {**{("year=2024", f"month={m:02d}"): GOOD for m in range(1, 13)},
                                ("year=2023", "month=12"): ["user", "email"]})
    plans, skipped = plan_tables(root, years)
    assert [(p.partition_keys, len(p.partitions)) for p in plans] == [(["year", "month"], 12)]
    assert [s.path for s in skipped] == [f"{tmp_path}/year=2023/month=12"]


def test_table_level_keeps_odd_folders_out_and_empty_input(tmp_path: Path) -> None:
    root = resolve_root(str(tmp_path))
    folders = _folders(tmp_path, {("dt=1",): GOOD, ("dt=2",): ["user", "email"]})
    plans, skipped = plan_tables(root, folders, table_level=1)
    assert [len(p.partitions) for p in plans] == [1]
    assert [s.path for s in skipped] == [f"{tmp_path}/dt=2"]
    assert plan_tables(root, []) == ([], [])
    assert cluster_folders((), []) == []
    with pytest.raises(ValueError, match="table grouping policy 'Bogus' is not valid"):
        plan_tables(root, folders, grouping_policy="Bogus")  # type: ignore[arg-type]


# ------------------------------------------------------------------ CombineCompatibleSchemas


def _json(path: Path, rows: list[dict[str, object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


@pytest.mark.aws
def test_combine_compatible_schemas_makes_one_table_of_dissimilar_folders_on_moto(
    tmp_path: Path, glue: GlueApiCatalog, glue_db: str
) -> None:
    """Glue's documented example: year=2017 holds {A, B}, year=2018 holds {C, D}."""
    root = tmp_path / "table1"
    _json(root / "year=2017" / "data1.json", [{"A": 1, "B": 2}, {"A": None, "B": 3}])
    _json(root / "year=2018" / "data2.json", [{"C": 3, "D": 4}])
    default = crawl(str(root), database=glue_db, catalog=glue)
    assert sorted(t.name for t in default.tables) == ["year_2017", "year_2018"]
    combined = crawl(str(root), database=glue_db + "c", catalog=glue,
                     table_grouping_policy="CombineCompatibleSchemas")
    [t] = combined.tables
    assert (t.name, t.partition_keys, t.partitions_added) == ("table1", ["year"], 2)
    assert dict(t.columns) == {"A": "bigint", "B": "bigint", "C": "bigint", "D": "bigint"}
    # Compatibility still counts: a CSV folder is not combined; a new dissimilar JSON folder
    # whose columns the table already has is added by an incremental recrawl (similarity is
    # ignored); one with a new column is skipped (incremental crawls make no schema change).
    (root / "year=2019").mkdir()
    (root / "year=2019" / "x.csv").write_text("a,b\n1,2\n")
    _json(root / "year=2020" / "data3.json", [{"C": 5}])
    _json(root / "year=2022" / "data5.json", [{"E": "x"}])
    again = crawl(str(root), database=glue_db + "c", catalog=glue,
                  table_grouping_policy="CombineCompatibleSchemas",
                  recrawl_policy="CRAWL_NEW_FOLDERS_ONLY")
    t2 = again.table("table1")
    assert (t2.partitions_added, t2.schema_changes) == (1, [])
    assert "do not match table" in skipped_by_path(again)[str(root / "year=2019")]
    assert "(added column E string)" in skipped_by_path(again)[str(root / "year=2022")]
    # Without the policy the same new folder is too dissimilar to join the table.
    _json(root / "year=2021" / "data4.json", [{"F": 1.5}])
    strict = crawl(str(root), database=glue_db + "c", catalog=glue,
                   recrawl_policy="CRAWL_NEW_FOLDERS_ONLY")
    assert strict.table("table1").partitions_added == 0
    assert "not similar to table" in skipped_by_path(strict)[str(root / "year=2021")]


def test_combine_compatible_schemas_still_skips_type_conflicts(tmp_path: Path) -> None:
    root = resolve_root(str(tmp_path))
    folders = [Folder(("p=1",), f"{tmp_path}/p=1", [], FileSchema("parquet", None,
                                                                  (("a", "int"),))),
               Folder(("p=2",), f"{tmp_path}/p=2", [], FileSchema("parquet", None,
                                                                  (("a", "string"),))),
               Folder(("p=3",), f"{tmp_path}/p=3", [], FileSchema("parquet", None,
                                                                  (("a", "int"), ("b", "int"))))]
    plans, skipped = plan_tables(root, folders, grouping_policy="CombineCompatibleSchemas")
    assert [(dict(p.columns), len(p.partitions)) for p in plans] == [({"a": "int", "b": "int"},
                                                                       2)]
    assert [s.path for s in skipped] == [f"{tmp_path}/p=2"]
    assert "'a' is string here but int" in skipped[0].reason


# --------------------------------------------------------------------------- TableThreshold


def _three_tables(tmp_path: Path) -> Path:
    root = tmp_path / "lake"
    write_parquet(root / "orders" / "o.parquet", sales())
    write_parquet(root / "users" / "u.parquet", unrelated())
    write_parquet(root / "clicks" / "c.parquet",
                  pa.table({"url": pa.array(["/"]), "ms": pa.array([None], pa.int64())}))
    return root


@pytest.mark.aws
def test_table_threshold_exceeded_fails_before_writing_on_moto(
    tmp_path: Path, glue: GlueApiCatalog, glue_db: str
) -> None:
    root = _three_tables(tmp_path)
    with pytest.raises(TableThresholdExceeded) as info:
        crawl(str(root), database=glue_db, catalog=glue, table_threshold=2)
    message = str(info.value)
    assert message.startswith(f"crawl of ['{root}'] detected 3 tables, more than "
                              "table_threshold 2; nothing was written to the catalog")
    assert str(root / "users") in message and "\n" not in message
    assert sorted(info.value.locations) == [str(root / n) for n in ("clicks", "orders", "users")]
    assert info.value.report.error == message and info.value.report.tables == []
    assert glue.list_tables(glue_db) == []
    report = crawl(str(root), database=glue_db, catalog=glue, table_threshold=3)
    assert sorted(t.name for t in report.tables) == ["clicks", "orders", "users"]
    # An incremental recrawl detects the registered tables too (Glue: "tables detected"), and
    # adds no new table (Glue's incremental crawls), so orders2 is reported, not detected.
    write_parquet(root / "orders2" / "o.parquet", sales())
    with pytest.raises(TableThresholdExceeded, match="detected 3 tables"):
        crawl(str(root), database=glue_db, catalog=glue, table_threshold=2,
              recrawl_policy="CRAWL_NEW_FOLDERS_ONLY")
    again = crawl(str(root), database=glue_db, catalog=glue, table_threshold=3,
                  recrawl_policy="CRAWL_NEW_FOLDERS_ONLY")
    assert str(root / "orders2") in {s.path for s in again.skipped}
    assert len(glue.list_tables(glue_db)) == 3


def test_bad_grouping_options_are_config_errors(tmp_path: Path) -> None:
    for kwargs, match in (({"table_threshold": 0}, "table_threshold 0 is not valid"),
                          ({"table_threshold": True}, "table_threshold True is not valid"),
                          ({"table_grouping_policy": "combine"},
                           "table_grouping_policy 'combine' is not valid"),
                          ({"table_level": 0}, "table_level must be 1 or more")):
        with pytest.raises(ConfigError, match=match):
            crawl(str(tmp_path), database="glue_db", catalog=None, **kwargs)  # type: ignore[arg-type]


@pytest.mark.aws
def test_cli_table_threshold_and_grouping_policy_on_moto(
    tmp_path: Path, moto_endpoint: str, glue: GlueApiCatalog, glue_db: str,
    capsys: pytest.CaptureFixture[str]
) -> None:
    root = _three_tables(tmp_path)
    out = tmp_path / "report.json"
    base = ["crawl", str(root), "--database", glue_db, "--catalog", "glue",
            "--endpoint-url", moto_endpoint, "--region", "us-east-1"]
    assert main([*base, "--table-threshold", "2", "--report-json", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: crawl of ['{root}'] detected 3 tables, more than "
                          "table_threshold 2")
    report = json.loads(out.read_text())
    assert report["tables"] == [] and report["error"].startswith(f"crawl of ['{root}']")
    assert glue.list_tables(glue_db) == []
    with pytest.raises(SystemExit):
        main([*base, "--table-threshold", "0"])
    assert "is not a whole number greater than 0" in capsys.readouterr().err
    assert main([*base, "--grouping-policy", "combine-compatible-schemas"]) == 0
    # Compatible Parquet folders at one depth: one table over all three, whatever the columns.
    assert glue.list_tables(glue_db) == ["lake"]
    assert [p.values for p in glue.get_partitions(glue_db, "lake")] != []
