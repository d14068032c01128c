"""Delta (delta-spark) and Iceberg (Iceberg Spark runtime) commits on the session-scoped Spark,
registered in the local metastore (spark_sql) and in Glue on moto (glue_api), read back by
Spark and by independent readers (delta-rs ``deltalake``, ``pyiceberg``): first commit,
incremental partition overwrite, rollback, refused and allowed schema change, MERGE,
compaction, Iceberg write-audit-publish. Tiny tables (3-4 rows)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from lakeforge.catalog.base import Catalog
from lakeforge.errors import ConfigError, SchemaMismatchError
from lakeforge.formats import (
    ICEBERG_CATALOG,
    AppendWindow,
    AppendWindowError,
    SchemaEvolutionError,
    Target,
    commit,
    formats_enabled,
)

pytestmark = pytest.mark.jars

SCHEMA = "id bigint, name string, dt string"
FIRST = [(1, "a", "2024-01-01"), (2, None, "2024-01-01"), (3, "c", "2024-01-02")]


@pytest.fixture
def fspark(spark):  # type: ignore[no-untyped-def]
    missing = {"delta", "iceberg"} - formats_enabled(spark)
    if missing:
        pytest.skip(f"the test session has no {sorted(missing)} jar set: run `make jars`")
    return spark


@pytest.fixture(params=["spark_sql", "glue_api"])
def backend(request: pytest.FixtureRequest, fspark) -> Catalog:  # type: ignore[no-untyped-def]
    if request.param == "spark_sql":
        from lakeforge.catalog.spark_sql import SparkSqlCatalog

        return SparkSqlCatalog(fspark)
    from lakeforge.catalog.glue_api import GlueApiCatalog

    endpoint = request.getfixturevalue("moto_endpoint")
    return GlueApiCatalog(region="us-east-1", endpoint_url=endpoint)


def _target(fmt: str, tmp_path: Path, **kw: Any) -> Target:
    db = f"f_{fmt}_{uuid.uuid4().hex[:8]}"
    loc = str(tmp_path / "curated" / db / "t") if fmt == "delta" else ""
    return Target(db, "t", loc, kw.pop("partition_by", ["dt"]), **kw)


def _rows(frame: Any, cols: tuple[str, ...] = ("id", "name", "dt")) -> list[tuple[Any, ...]]:
    return sorted((tuple(r[c] for c in cols) for r in frame.collect()), key=str)


def _arrow_rows(table: Any, cols: tuple[str, ...] = ("id", "name", "dt")) -> list[tuple]:
    return sorted((tuple(r[c] for c in cols) for r in table.to_pylist()), key=str)


def spark_rows(spark, fmt: str, target: Target, catalog: Catalog,  # type: ignore[no-untyped-def]
               cols: tuple[str, ...] = ("id", "name", "dt")) -> list[tuple]:
    """The rows as Spark finds them through the catalog the table was registered in."""
    if catalog.backend_name == "glue_api":
        raw = catalog.get_table_raw(target.database, target.table)  # type: ignore[attr-defined]
        assert raw["Parameters"]["table_type"] == fmt.upper()
        location = raw["StorageDescriptor"]["Location"]
        return _rows(spark.read.format(fmt).load(location), cols)
    if fmt == "delta":
        return _rows(spark.table(f"{target.database}.{target.table}"), cols)
    return _rows(spark.table(f"{ICEBERG_CATALOG}.{target.database}.{target.table}"), cols)


def independent_rows(spark, fmt: str, target: Target, catalog: Catalog,  # type: ignore[no-untyped-def]
                     cols: tuple[str, ...] = ("id", "name", "dt")) -> list[tuple]:
    """The rows as delta-rs / pyiceberg read them (no Spark)."""
    if fmt == "delta":
        from deltalake import DeltaTable

        return _arrow_rows(DeltaTable(target.location).to_pyarrow_table(), cols)
    from lakeforge.formats import iceberg

    if catalog.backend_name == "glue_api":
        from pyiceberg.catalog.glue import GlueCatalog

        glue = GlueCatalog("glue", **{"glue.endpoint": catalog.glue.meta.endpoint_url,  # type: ignore[attr-defined]
                                      "glue.region": "us-east-1"})
        table = glue.load_table(f"{target.database}.{target.table}")
        assert table.metadata_location == iceberg.metadata_location(spark, target)
        return _arrow_rows(table.scan().to_arrow(), cols)
    from pyiceberg.table import StaticTable

    static = StaticTable.from_metadata(iceberg.metadata_location(spark, target))
    return _arrow_rows(static.scan().to_arrow(), cols)


def _version_count(spark, fmt: str, target: Target) -> int:  # type: ignore[no-untyped-def]
    if fmt == "delta":
        from lakeforge.formats import delta

        return len(delta.history(spark, target.location))
    from lakeforge.formats import iceberg

    return len(iceberg.snapshots(spark, target))


@pytest.mark.aws
@pytest.mark.parametrize("fmt", ["delta", "iceberg"])
def test_first_commit_partition_overwrite_refused_change_and_rollback(
        fspark, backend: Catalog, fmt: str, tmp_path: Path) -> None:
    """Per format and backend (spark_sql; glue_api on moto): the commit registers the table,
    Spark and the independent reader see the same rows, a new partition value replaces only
    its partition, an added column is refused with nothing written, rollback restores."""
    target = _target(fmt, tmp_path, mode="overwrite")
    first = commit(fmt, fspark.createDataFrame(FIRST, SCHEMA), target, spark=fspark,
                   catalog=backend)
    assert (first.operation, first.rows) == ("CREATE", 3)
    assert spark_rows(fspark, fmt, target, backend) == _rows(fspark.createDataFrame(FIRST,
                                                                                     SCHEMA))
    assert independent_rows(fspark, fmt, target, backend) == spark_rows(fspark, fmt, target,
                                                                        backend)
    incremental = Target(**{**vars(target), "mode": "overwrite_partitions"})
    second = commit(fmt, fspark.createDataFrame([(4, "d", "2024-01-02")], SCHEMA),
                    incremental, spark=fspark, catalog=backend)
    assert second.operation == "OVERWRITE PARTITIONS" and second.rows == 1
    expected = [(1, "a", "2024-01-01"), (2, None, "2024-01-01"), (4, "d", "2024-01-02")]
    assert spark_rows(fspark, fmt, target, backend) == sorted(expected, key=str)
    assert independent_rows(fspark, fmt, target, backend) == sorted(expected, key=str)

    before = _version_count(fspark, fmt, target)
    wider = fspark.createDataFrame([(5, "e", "2024-01-03", 1.5)], SCHEMA + ", score double")
    with pytest.raises(SchemaEvolutionError, match=r"added columns \['score'\].*nothing was"):
        commit(fmt, wider, incremental, spark=fspark, catalog=backend)
    assert _version_count(fspark, fmt, target) == before
    with pytest.raises(SchemaMismatchError, match="partition keys"):
        commit(fmt, fspark.createDataFrame(FIRST, SCHEMA),
               Target(**{**vars(target), "partition_by": ["name"]}), spark=fspark,
               catalog=backend)

    if fmt == "delta":
        from lakeforge.formats import delta

        delta.rollback(fspark, backend, target, int(first.version))
        with pytest.raises(ConfigError, match="not an earlier version"):
            delta.rollback(fspark, backend, target, 99)
    else:
        from lakeforge.formats import iceberg

        iceberg.rollback(fspark, backend, target, int(first.version))
        with pytest.raises(ConfigError, match="not a snapshot"):
            iceberg.rollback(fspark, backend, target, 99)
    assert spark_rows(fspark, fmt, target, backend) == _rows(fspark.createDataFrame(FIRST,
                                                                                     SCHEMA))
    assert independent_rows(fspark, fmt, target, backend) == spark_rows(fspark, fmt, target,
                                                                        backend)


@pytest.mark.aws
@pytest.mark.parametrize("kind", ["parquet", "iceberg"])
def test_delta_on_glue_refuses_a_glue_table_of_another_format(
        fspark, moto_endpoint: str, kind: str, tmp_path: Path) -> None:
    """glue_api on moto: a Glue table that is Parquet (partitioned) or Iceberg is not replaced
    by a Delta publish: one error naming the table, nothing written, the entry unchanged."""
    from lakeforge.catalog.glue_api import GlueApiCatalog
    from lakeforge.formats import delta

    catalog = GlueApiCatalog(region="us-east-1", endpoint_url=moto_endpoint)
    target = _target("delta", tmp_path, mode="overwrite")
    catalog.create_database(target.database)
    params = ({"classification": "parquet"} if kind == "parquet"
              else {"table_type": "ICEBERG", "metadata_location": "/x/00001.metadata.json"})
    catalog.put_table_input(target.database, {
        "Name": target.table, "TableType": "EXTERNAL_TABLE", "Parameters": params,
        "StorageDescriptor": {"Columns": [{"Name": "id", "Type": "bigint"}],
                              "Location": str(tmp_path / "elsewhere")},
        "PartitionKeys": [{"Name": "dt", "Type": "string"}] if kind == "parquet" else []})
    before = catalog.get_table_raw(target.database, target.table)
    with pytest.raises(SchemaMismatchError, match=rf"{target.qualified_name}: Glue already "
                                                  rf"has this table as {kind}"):
        commit("delta", fspark.createDataFrame(FIRST, SCHEMA), target, spark=fspark,
               catalog=catalog)
    assert not delta.is_delta_table(fspark, target.location)
    after = catalog.get_table_raw(target.database, target.table)
    assert after["Parameters"] == before["Parameters"]
    assert after["StorageDescriptor"]["Location"] == str(tmp_path / "elsewhere")


@pytest.mark.parametrize("fmt", ["delta", "iceberg"])
def test_added_column_evolves_when_allowed_and_merge_updates_and_inserts(
        fspark, fmt: str, tmp_path: Path) -> None:
    """Allowed added column: old rows read null in it (Spark and the independent reader);
    then MERGE on id (null-safe) updates the matched row, inserts the new one; an empty
    merge changes no row."""
    from lakeforge.catalog.spark_sql import SparkSqlCatalog

    catalog = SparkSqlCatalog(fspark)
    target = _target(fmt, tmp_path, mode="overwrite", allow_added_columns=True)
    commit(fmt, fspark.createDataFrame(FIRST, SCHEMA), target, spark=fspark, catalog=catalog)
    schema2 = SCHEMA + ", score double"
    cols = ("id", "name", "dt", "score")
    evolve = Target(**{**vars(target), "mode": "append"})
    res = commit(fmt, fspark.createDataFrame([(5, "e", "2024-01-03", 1.5)], schema2), evolve,
                 spark=fspark, catalog=catalog)
    assert res.added_columns == ("score",)
    expected = sorted([(*r, None) for r in FIRST] + [(5, "e", "2024-01-03", 1.5)], key=str)
    assert spark_rows(fspark, fmt, target, catalog, cols) == expected
    assert independent_rows(fspark, fmt, target, catalog, cols) == expected

    merge = Target(**{**vars(target), "mode": "merge", "merge_keys": ["id"]})
    changes = fspark.createDataFrame([(2, "b", "2024-01-01", 2.0), (6, "f", "2024-01-03", None),
                                      (None, "n", "2024-01-03", None)], schema2)
    res = commit(fmt, changes, merge, spark=fspark, catalog=catalog)
    assert res.operation == "MERGE" and res.rows == 3
    expected = sorted([(1, "a", "2024-01-01", None), (2, "b", "2024-01-01", 2.0),
                       (3, "c", "2024-01-02", None), (5, "e", "2024-01-03", 1.5),
                       (6, "f", "2024-01-03", None), (None, "n", "2024-01-03", None)], key=str)
    assert spark_rows(fspark, fmt, target, catalog, cols) == expected
    assert independent_rows(fspark, fmt, target, catalog, cols) == expected
    # the null key matches itself the second time (null-safe): updated, not inserted again
    commit(fmt, fspark.createDataFrame([(None, "m", "2024-01-03", None)], schema2), merge,
           spark=fspark, catalog=catalog)
    got = spark_rows(fspark, fmt, target, catalog, cols)
    assert [r for r in got if r[0] is None] == [(None, "m", "2024-01-03", None)]
    assert len(got) == 6
    with pytest.raises(ConfigError, match="merge_keys"):
        commit(fmt, changes, Target(**{**vars(merge), "merge_keys": ()}), spark=fspark,
               catalog=catalog)


@pytest.mark.parametrize("fmt", ["delta", "iceberg"])
def test_merge_refuses_rows_repeating_a_merge_key_before_writing(fspark, fmt: str,
                                                                  tmp_path: Path) -> None:
    """A merge whose rows repeat a key (null keys one key, as <=> matches them) is one error
    naming the table, the keys and the repeated values, and writes nothing: on the creating
    commit, for a key the table lacks (it would insert both rows) and for one it has."""
    from lakeforge.catalog.spark_sql import SparkSqlCatalog
    from lakeforge.formats import DuplicateMergeKeyError

    catalog = SparkSqlCatalog(fspark)
    target = _target(fmt, tmp_path, mode="merge", merge_keys=["id"])
    both = [(None, "x", "2024-01-01"), (None, "y", "2024-01-01"), (7, "z", "2024-01-01")]
    with pytest.raises(DuplicateMergeKeyError) as first:
        commit(fmt, fspark.createDataFrame(both, SCHEMA), target, spark=fspark,
               catalog=catalog)
    message = str(first.value)
    assert "\n" not in message and target.qualified_name in message
    assert "['id']" in message and "id=None: 2 rows" in message and "nothing was" in message
    if fmt == "delta":
        from lakeforge.formats import delta

        assert not delta.is_delta_table(fspark, target.location)
    else:
        from lakeforge.formats import iceberg

        assert not iceberg.table_exists(fspark, target)
    commit(fmt, fspark.createDataFrame(FIRST, SCHEMA), target, spark=fspark, catalog=catalog)
    before = _version_count(fspark, fmt, target)
    for rows, shown in (([(9, "p", "2024-01-01"), (9, "q", "2024-01-02")], "id=9: 2 rows"),
                        ([(1, "p", "2024-01-01"), (1, "q", "2024-01-01"),
                          (2, "r", "2024-01-01")], "id=1: 2 rows")):
        with pytest.raises(DuplicateMergeKeyError, match=shown):
            commit(fmt, fspark.createDataFrame(rows, SCHEMA), target, spark=fspark,
                   catalog=catalog)
    assert _version_count(fspark, fmt, target) == before
    assert spark_rows(fspark, fmt, target, catalog) == _rows(fspark.createDataFrame(FIRST,
                                                                                     SCHEMA))
    two_keys = Target(**{**vars(target), "merge_keys": ["id", "name"]})
    commit(fmt, fspark.createDataFrame([(1, "a", "2024-01-01"), (1, "b", "2024-01-01")],
                                       SCHEMA), two_keys, spark=fspark, catalog=catalog)
    assert len(spark_rows(fspark, fmt, target, catalog)) == 4


@pytest.mark.parametrize("fmt", ["delta", "iceberg"])
def test_compaction_rewrites_partitions_over_the_file_target(fspark, fmt: str,
                                                             tmp_path: Path) -> None:
    """Two appends leave two files in a partition; with max_files_per_partition 1 the
    commit compacts exactly that partition to one file and keeps every row."""
    from lakeforge.catalog.spark_sql import SparkSqlCatalog

    catalog = SparkSqlCatalog(fspark)
    target = _target(fmt, tmp_path, mode="append", max_files_per_partition=1)
    one = fspark.createDataFrame([(1, "a", "2024-01-01"), (2, "b", "2024-01-02")], SCHEMA)
    assert commit(fmt, one.coalesce(1), target, spark=fspark,
                  catalog=catalog).compacted_partitions == ()
    res = commit(fmt, fspark.createDataFrame([(3, "c", "2024-01-01")], SCHEMA), target,
                 spark=fspark, catalog=catalog)
    assert res.compacted_partitions == ("dt=2024-01-01",)
    if fmt == "delta":
        from lakeforge.formats import delta

        assert delta.files_per_partition(fspark, target) == {("2024-01-01",): 1,
                                                             ("2024-01-02",): 1}
    else:
        from lakeforge.formats import iceberg

        files = fspark.sql(f"SELECT partition.dt AS dt, count(*) AS n FROM "
                           f"{iceberg.identifier(target)}.files GROUP BY 1").collect()
        assert sorted((r["dt"], r["n"]) for r in files) == [("2024-01-01", 1),
                                                            ("2024-01-02", 1)]
    assert spark_rows(fspark, fmt, target, catalog) == sorted(
        [(1, "a", "2024-01-01"), (2, "b", "2024-01-02"), (3, "c", "2024-01-01")], key=str)


@pytest.mark.parametrize("fmt", ["delta", "iceberg"])
def test_append_of_the_same_window_commits_once_and_a_later_window_appends(
        fspark, fmt: str, tmp_path: Path) -> None:
    """An append carrying its input window (a rerun after a kill before the bookmark commit
    publishes the same window again): the second commit of a window is skipped and reports
    the first; the next window appends; a window back in the sequence with another input (a
    rewound bookmark) is refused with nothing written; without a window every commit appends."""
    from lakeforge.catalog.spark_sql import SparkSqlCatalog

    catalog = SparkSqlCatalog(fspark)
    app = "lakeforge.orders_job.db.t"
    target = _target(fmt, tmp_path, mode="append", window=AppendWindow(app, 1, "in1"))
    first = commit(fmt, fspark.createDataFrame(FIRST, SCHEMA), target, spark=fspark,
                   catalog=catalog)
    again = commit(fmt, fspark.createDataFrame(FIRST, SCHEMA), target, spark=fspark,
                   catalog=catalog)
    assert (again.operation, again.version, again.rows) == (
        "APPEND (already committed)", first.version, 3)
    assert spark_rows(fspark, fmt, target, catalog) == _rows(fspark.createDataFrame(FIRST,
                                                                                     SCHEMA))
    assert _version_count(fspark, fmt, target) == 1

    later = Target(**{**vars(target), "window": AppendWindow(app, 2, "in2")})
    new_rows = fspark.createDataFrame([(4, "d", "2024-01-02")], SCHEMA)
    second = commit(fmt, new_rows, later, spark=fspark, catalog=catalog)
    assert (second.operation, second.rows) == ("APPEND", 1)
    assert commit(fmt, new_rows, later, spark=fspark,
                  catalog=catalog).version == second.version
    expected = sorted([*FIRST, (4, "d", "2024-01-02")], key=str)
    assert spark_rows(fspark, fmt, target, catalog) == expected

    rewound = Target(**{**vars(target), "window": AppendWindow(app, 2, "other")})
    with pytest.raises(AppendWindowError, match=r"window 2 \(input other\).*nothing was"):
        commit(fmt, new_rows, rewound, spark=fspark, catalog=catalog)
    plain = Target(**{**vars(target), "window": None})
    commit(fmt, new_rows, plain, spark=fspark, catalog=catalog)
    assert len(spark_rows(fspark, fmt, target, catalog)) == 5
    assert _version_count(fspark, fmt, target) == 3


def test_iceberg_second_run_with_tinyint_smallint_columns_is_no_type_change(
        fspark, tmp_path: Path) -> None:
    """Iceberg stores tinyint / smallint as int (nested too): the next run with the
    same staged types commits (no "type int -> tinyint"); a real type change is still refused."""
    from pyspark.sql import types as T

    from lakeforge.catalog.spark_sql import SparkSqlCatalog

    catalog = SparkSqlCatalog(fspark)
    target = _target("iceberg", tmp_path, mode="overwrite_partitions")
    schema = T.StructType([T.StructField("id", T.LongType()), T.StructField("b", T.ByteType()),
                           T.StructField("s", T.ShortType()),
                           T.StructField("tags", T.ArrayType(T.ShortType())),
                           T.StructField("dt", T.StringType())])
    rows = [(1, 5, 7, [1, None], "2024-01-01"), (2, None, None, None, "2024-01-01")]
    for _ in range(2):
        commit("iceberg", fspark.createDataFrame(rows, schema), target, spark=fspark,
               catalog=catalog)
    got = spark_rows(fspark, "iceberg", target, catalog, ("id", "b", "s", "dt"))
    assert got == [(1, 5, 7, "2024-01-01"), (2, None, None, "2024-01-01")]
    changed = fspark.createDataFrame([(1, "x", 7, None, "2024-01-01")],
                                     "id bigint, b string, s smallint, tags array<smallint>, "
                                     "dt string")
    with pytest.raises(SchemaEvolutionError, match="b: type int -> string"):
        commit("iceberg", changed, target, spark=fspark, catalog=catalog)


@pytest.mark.parametrize("hours", [1.4, 0.2])
def test_delta_vacuum_agrees_with_the_retention_property_for_fractional_hours(
        fspark, hours: float, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """VACUUM takes whole hours (Delta rounds them): a retention of 1.4 h or 0.2 h is the
    table property and the vacuum's retention rounded up alike, so Delta's safety check
    (vacuum retention >= the table's) passes once the table is older than the retention."""
    import datetime as dt

    from lakeforge.catalog.spark_sql import SparkSqlCatalog
    from lakeforge.formats import delta

    target = _target("delta", tmp_path, mode="overwrite", retention_hours=hours)
    commit("delta", fspark.createDataFrame(FIRST, SCHEMA), target, spark=fspark,
           catalog=SparkSqlCatalog(fspark))
    whole = delta.whole_hours(hours)
    real = dt.datetime

    class Later(dt.datetime):
        @classmethod
        def now(cls, tz: Any = None) -> Any:
            return real.now(tz) + dt.timedelta(hours=whole + 1)

    monkeypatch.setattr(dt, "datetime", Later)
    delta.vacuum(fspark, target.location, hours)
    monkeypatch.undo()
    props = delta._delta_table(fspark, target.location).detail().collect()[0]["properties"]
    assert props["delta.deletedFileRetentionDuration"] == f"interval {whole * 3600} seconds"
    assert spark_rows(fspark, "delta", target, SparkSqlCatalog(fspark)) == _rows(
        fspark.createDataFrame(FIRST, SCHEMA))


def test_iceberg_expiry_ages_a_snapshot_from_when_it_was_replaced(fspark,
                                                                   tmp_path: Path) -> None:
    """Retention 4 s: a snapshot committed longer ago than that but replaced just now stays
    (time travel reads it); it is expired at the first commit 4 s after it was replaced, and
    the snapshot that replaced it (replaced just now) stays."""
    import time

    from lakeforge.catalog.spark_sql import SparkSqlCatalog
    from lakeforge.formats import iceberg

    retention = 4.0
    catalog = SparkSqlCatalog(fspark)
    target = _target("iceberg", tmp_path, mode="overwrite", retention_hours=retention / 3600)

    def publish(rows: list[tuple[Any, ...]]) -> int:
        return int(commit("iceberg", fspark.createDataFrame(rows, SCHEMA), target,
                          spark=fspark, catalog=catalog).version)

    def wait_past_retention(snapshot_id: int) -> None:
        at = fspark.sql(f"SELECT unix_millis(committed_at) FROM {iceberg.identifier(target)}"
                        f".snapshots WHERE snapshot_id = {snapshot_id}").collect()[0][0]
        time.sleep(max(0.0, at / 1000 + retention + 0.5 - time.time()))

    def as_of(snapshot_id: int) -> list[tuple[Any, ...]]:
        return _rows(fspark.sql(f"SELECT * FROM {iceberg.identifier(target)} "
                                f"VERSION AS OF {snapshot_id}"))

    first = publish(FIRST)
    wait_past_retention(first)
    second = publish([(4, "d", "2024-01-02")])
    assert as_of(first) == _rows(fspark.createDataFrame(FIRST, SCHEMA))
    wait_past_retention(second)
    third = publish([(5, "e", "2024-01-03")])
    assert [s["snapshot_id"] for s in iceberg.snapshots(fspark, target)] == [second, third]
    assert as_of(second) == [(4, "d", "2024-01-02")]
    assert spark_rows(fspark, "iceberg", target, catalog) == [(5, "e", "2024-01-03")]


def test_iceberg_write_audit_publish_keeps_main_unchanged_until_fast_forward(
        fspark, tmp_path: Path) -> None:
    """WAP on a branch: main readers see nothing of the branch; a refused branch is dropped;
    an accepted one is fast-forwarded and becomes what main reads."""
    from lakeforge.catalog.spark_sql import SparkSqlCatalog
    from lakeforge.formats import iceberg

    catalog = SparkSqlCatalog(fspark)
    target = _target("iceberg", tmp_path, mode="overwrite_partitions")
    with pytest.raises(ConfigError, match="needs the table to exist"):
        iceberg.write_branch(fspark, fspark.createDataFrame(FIRST, SCHEMA), target, "b0")
    commit("iceberg", fspark.createDataFrame(FIRST, SCHEMA), target, spark=fspark,
           catalog=catalog)
    main_rows = spark_rows(fspark, "iceberg", target, catalog)
    bad = fspark.createDataFrame([(9, "x", "2024-01-02")], SCHEMA)
    iceberg.write_branch(fspark, bad, target, "audit_1")
    assert _rows(iceberg.read_branch(fspark, target, "audit_1")) == sorted(
        [(1, "a", "2024-01-01"), (2, None, "2024-01-01"), (9, "x", "2024-01-02")], key=str)
    assert spark_rows(fspark, "iceberg", target, catalog) == main_rows
    iceberg.drop_branch(fspark, target, "audit_1")
    good = fspark.createDataFrame([(4, "d", "2024-01-02")], SCHEMA)
    iceberg.write_branch(fspark, good, target, "audit_2")
    assert spark_rows(fspark, "iceberg", target, catalog) == main_rows
    iceberg.publish_branch(fspark, catalog, target, "audit_2")
    assert spark_rows(fspark, "iceberg", target, catalog) == sorted(
        [(1, "a", "2024-01-01"), (2, None, "2024-01-01"), (4, "d", "2024-01-02")], key=str)
    assert independent_rows(fspark, "iceberg", target, catalog) == spark_rows(
        fspark, "iceberg", target, catalog)


@pytest.mark.aws
def test_iceberg_on_glue_api_points_at_the_metadata_after_compaction_and_expiry(
        fspark, moto_endpoint: str, tmp_path: Path) -> None:
    """glue_api with the session's Hadoop Iceberg catalog: Lakeforge writes Glue's pointer.
    A commit that compacts (and expires) writes new metadata after the data commit; Glue's
    metadata_location must be the table's last one (it was registered before compaction)."""
    from lakeforge.catalog.glue_api import GlueApiCatalog
    from lakeforge.formats import iceberg

    glue = GlueApiCatalog(region="us-east-1", endpoint_url=moto_endpoint)
    target = _target("iceberg", tmp_path, mode="append", max_files_per_partition=1,
                     retention_hours=0.0)
    commit("iceberg", fspark.createDataFrame(FIRST, SCHEMA), target, spark=fspark, catalog=glue)
    second = commit("iceberg", fspark.createDataFrame([(4, "d", "2024-01-01")], SCHEMA), target,
                    spark=fspark, catalog=glue)
    assert second.compacted_partitions == ("dt=2024-01-01",)
    raw = glue.get_table_raw(target.database, target.table)
    assert raw["Parameters"]["metadata_location"] == iceberg.metadata_location(fspark, target)
    assert independent_rows(fspark, "iceberg", target, glue) == sorted(
        [*FIRST, (4, "d", "2024-01-01")], key=str)
