"""lakeforge.publish: Athena-safe schema, file sizing, atomic versioned publish, retention.

DuckDB reading the catalog's partition locations with hive partitioning stands in for Athena.
"""

from __future__ import annotations

import glob
import uuid
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from pyspark.ml.linalg import Vectors, VectorUDT
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakeforge.catalog.athena_ddl import date_projection
from lakeforge.catalog.athena_schema import AthenaSchemaError, to_athena_schema
from lakeforge.catalog.spark_sql import SparkSqlCatalog
from lakeforge.errors import ConfigError, SchemaMismatchError
from lakeforge.formats import AppendWindow, AppendWindowError, SchemaEvolutionError
from lakeforge.publish import (
    SUPERSEDED_MARKER,
    VERSIONS_DIR,
    PublishError,
    expire_versions,
    publish_partitioned,
    version_of,
)
from tests.jobsupport import with_fast_jvm

SCHEMA = (
    "ID bigint, Amount decimal(10,2), score double, name string, ok boolean, "
    "ts timestamp, tags array<string>, attrs map<string,int>, "
    "Info struct<Code:string, level:int>, dt date, country string"
)
ROWS = [
    (1, Decimal("10.50"), 0.5, "a", True, datetime(2024, 1, 1, 10, 0), ["x"], {"k": 1},
     ("A", 1), date(2024, 1, 1), "GB"),
    (2, Decimal("20.00"), None, None, False, datetime(2024, 1, 1, 23, 59, 59), [], {},
     ("B", None), date(2024, 1, 1), "FR"),
    (3, None, 1.5, "c", None, None, None, None, None, date(2024, 1, 2), "GB"),
    (4, Decimal("-1.25"), -2.0, "d'quote", True, datetime(2024, 1, 2, 0, 0, 1), ["y", None],
     {"z": None}, ("D", 4), date(2024, 1, 2), "a/b=c"),
]
DUCK_TYPES = {"date": "DATE", "string": "VARCHAR", "bigint": "BIGINT", "int": "INTEGER",
              "boolean": "BOOLEAN"}


@pytest.fixture
def catalog(spark):
    return SparkSqlCatalog(spark)


@pytest.fixture
def db(spark):
    name = f"pub_{uuid.uuid4().hex[:10]}"
    yield name
    spark.sql(f"DROP DATABASE IF EXISTS {name} CASCADE")


@pytest.fixture
def sales(spark):
    return spark.createDataFrame(ROWS, SCHEMA)


def _files(catalog, db, table, where=None):
    parts = catalog.get_partitions(db, table)
    out = []
    for p in parts:
        out += sorted(glob.glob(f"{p.location}/*.parquet"))
    return out


def duck(catalog, db, table, sql="SELECT * FROM t"):
    """Read the table as Athena would: only the catalog's partition locations, hive-style."""
    spec = catalog.get_table(db, table)
    files = _files(catalog, db, table)
    con = duckdb.connect()
    if not files:
        return con, []
    types = {k.name: DUCK_TYPES[k.type] for k in spec.partition_keys}
    file_list = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
    type_map = ", ".join(f"'{k}': '{v}'" for k, v in types.items())
    con.execute(
        f"CREATE VIEW t AS SELECT * FROM read_parquet([{file_list}], hive_partitioning=true, "
        f"hive_types={{{type_map}}})"
    )
    return con, con.sql(sql).fetchall()


def _ids(catalog, db, table):
    return sorted(r[0] for r in duck(catalog, db, table, "SELECT id FROM t")[1])


# --------------------------------------------------------------------------- schema


def test_to_athena_schema_converts_names_vectors_and_ntz(spark):
    schema = T.StructType([
        T.StructField("Id", T.IntegerType()), T.StructField("Vec", VectorUDT()),
        T.StructField("T", T.TimestampNTZType()),
        T.StructField("S", T.StructType([T.StructField("InnerName", T.StringType()),
                                         T.StructField("b", T.IntegerType())])),
    ])
    df = spark.createDataFrame(
        [(1, Vectors.dense([1.0, 2.0]), datetime(2024, 1, 1, 12), ("x", 1))], schema
    )
    out = to_athena_schema(df, partition_by=["id"])
    assert [f.name for f in out.schema] == ["id", "vec", "t", "s"]
    assert [f.dataType.simpleString() for f in out.schema] == [
        "int", "array<double>", "timestamp", "struct<innername:string,b:int>"
    ]
    row = out.first()
    assert row["vec"] == [1.0, 2.0] and row["t"] == datetime(2024, 1, 1, 12)


def test_to_athena_schema_lists_every_offending_column(spark):
    df = spark.range(1).select(
        F.lit(None).alias("nothing"),
        F.lit(1).alias("A"), F.lit(2).alias("a"),
        F.lit(3).alias("bad name"),
        F.expr("INTERVAL '1' DAY").alias("gap"),
        F.create_map(F.struct(F.lit(1).alias("k")), F.lit(1)).alias("m"),
        F.lit(1.5).alias("part"),
    )
    with pytest.raises(AthenaSchemaError) as err:
        to_athena_schema(df, partition_by=["part", "missing"])
    problems = "\n".join(err.value.problems)
    for fragment in ("nothing: type void", "a: same name as A", "bad name: column names",
                     "gap: interval", "m: map key type struct", "part: partition column of type "
                     "double", "missing: partition column not in the data"):
        assert fragment in problems
    vec = spark.createDataFrame(
        [(Vectors.dense([1.0]), 1)],
        T.StructType([T.StructField("v", VectorUDT()), T.StructField("p", T.IntegerType())]),
    )
    with pytest.raises(AthenaSchemaError, match="v: ml vector"):
        to_athena_schema(vec, partition_by=["p"], convert_vectors=False)


# --------------------------------------------------------------------------- publish + DuckDB


def test_published_table_reads_in_duckdb_with_same_rows_types_and_pruning(
    spark, sales, catalog, db, lake
):
    result = publish_partitioned(sales, database=db, table="sales", partition_by=["dt", "country"],
                                 catalog=catalog, lake=lake)
    spec = catalog.get_table(db, "sales")
    assert [c.name for c in spec.columns] == [
        "id", "amount", "score", "name", "ok", "ts", "tags", "attrs", "info"
    ]
    assert [(k.name, k.type) for k in spec.partition_keys] == [("dt", "date"),
                                                                ("country", "string")]
    assert spec.location == lake.table_uri("curated", "sales", db)
    assert all(version_of(p.location, spec.location) == result.version
               for p in catalog.get_partitions(db, "sales"))
    assert result.rows == 4 and len(result.partition_stats) == 4

    con, rows = duck(catalog, db, "sales",
                     "SELECT id, amount, score, name, ok, ts, tags, attrs, info, dt, country "
                     "FROM t ORDER BY id")
    expected = [
        (r[0], r[1], r[2], r[3], r[4], r[5] and r[5].replace(tzinfo=timezone.utc), r[6],
         None if r[7] is None else r[7], None if r[8] is None else {"code": r[8][0],
                                                                      "level": r[8][1]},
         r[9], r[10])
        for r in ROWS
    ]
    assert rows == expected
    types = dict(con.sql("DESCRIBE t").fetchall() and
                 [(r[0], r[1]) for r in con.sql("DESCRIBE t").fetchall()])
    assert types == {
        "id": "BIGINT", "amount": "DECIMAL(10,2)", "score": "DOUBLE", "name": "VARCHAR",
        "ok": "BOOLEAN", "ts": "TIMESTAMP WITH TIME ZONE", "tags": "VARCHAR[]",
        "attrs": "MAP(VARCHAR, INTEGER)", "info": "STRUCT(code VARCHAR, \"level\" INTEGER)",
        "dt": "DATE", "country": "VARCHAR",
    }
    # Spark reads the same table through the catalog.
    assert sorted(r["id"] for r in spark.table(f"{db}.sales").collect()) == [1, 2, 3, 4]

    # Partition pruning: corrupt the last partition's file (DuckDB binds the schema from the
    # first file); queries filtered to other partitions never open it, an unfiltered one does.
    files = _files(catalog, db, "sales")
    first_dt, first_country = (p for p in Path(files[0]).parts[-3:-1])
    victim = files[-1]
    assert first_country not in victim
    Path(victim).write_bytes(b"not parquet")
    country = first_country.split("=", 1)[1]
    dt = first_dt.split("=", 1)[1]
    got = con.sql(f"SELECT id FROM t WHERE country = '{country}' AND dt = DATE '{dt}'").fetchall()
    assert got and all(
        r[10] == country and r[9] == date.fromisoformat(dt)
        for r in ROWS if r[0] in {g[0] for g in got}
    )
    with pytest.raises(duckdb.Error):
        con.sql("SELECT count(*) FROM t").fetchall()


def test_ddl_written_next_to_the_data(spark, sales, catalog, db, lake):
    result = publish_partitioned(sales, database=db, table="sales", partition_by=["dt", "country"],
                                 catalog=catalog, lake=lake)
    ddl = Path(result.ddl_uri).read_text()
    assert Path(result.ddl_uri).parent == Path(lake.table_uri("curated", "sales", db))
    assert f"CREATE EXTERNAL TABLE IF NOT EXISTS `{db}`.`sales`" in ddl
    assert "PARTITIONED BY (`dt` date, `country` string)" in ddl
    assert "STORED AS INPUTFORMAT 'org.apache.hadoop.hive.ql.io.parquet" in ddl
    assert "'parquet.compression'='SNAPPY'" in ddl
    for p in catalog.get_partitions(db, "sales"):
        assert f"LOCATION '{p.location}'" in ddl
    assert ddl.count("PARTITION (`dt`=") == 4


# --------------------------------------------------------------------------- modes and versions


def _batch(spark, ids, dt, country="GB"):
    return spark.createDataFrame([(i, float(i), dt, country) for i in ids],
                                 "id bigint, v double, dt string, country string")


def test_modes_versions_and_retention(spark, catalog, db, lake):
    kw = {"database": db, "table": "t", "partition_by": ["dt"], "catalog": catalog, "lake": lake}
    first = publish_partitioned(
        _batch(spark, [1, 2], "d1").unionByName(_batch(spark, [3], "d2")), mode="overwrite", **kw
    )
    assert _ids(catalog, db, "t") == [1, 2, 3]
    d2_location = {p.values: p.location for p in catalog.get_partitions(db, "t")}[("d2",)]

    # overwrite_partitions: d1 replaced, d2 untouched (same folder of the first version).
    second = publish_partitioned(_batch(spark, [10], "d1"), mode="overwrite_partitions", **kw)
    locations = {p.values: p.location for p in catalog.get_partitions(db, "t")}
    assert locations[("d2",)] == d2_location
    assert version_of(locations[("d1",)], first.plan.table_uri) == second.version
    assert _ids(catalog, db, "t") == [3, 10]
    assert second.superseded_versions == ()  # the first version still holds d2

    # append: d1 gets more rows, d3 is new; current d1 rows are carried into the new version.
    third = publish_partitioned(
        _batch(spark, [11], "d1").unionByName(_batch(spark, [12], "d3")), mode="append", **kw
    )
    assert _ids(catalog, db, "t") == [3, 10, 11, 12]
    assert second.version in third.superseded_versions  # nothing points at it any more
    versions = Path(first.plan.table_uri, VERSIONS_DIR)
    assert (versions / second.version / SUPERSEDED_MARKER).is_file()

    # overwrite: partitions absent from the input are dropped; retention 0 removes old versions.
    fourth = publish_partitioned(_batch(spark, [20], "d9"), mode="overwrite",
                                 retention=timedelta(0), **kw)
    assert [p.values for p in catalog.get_partitions(db, "t")] == [("d9",)]
    assert _ids(catalog, db, "t") == [20]
    assert set(fourth.removed_versions) == {first.version, second.version, third.version}
    assert sorted(p.name for p in versions.iterdir()) == [fourth.version]


def test_append_of_the_same_window_replaces_its_earlier_append(spark, catalog, db, lake):
    """An append given its input window (a run's bookmark window) twice, as the rerun after a
    kill before the bookmark commit publishes it: the rows are in the table once, also after
    retention 0 expired the first attempt; the next window appends (an append without a window
    always adds: test_modes_versions_and_retention)."""
    kw = {"database": db, "table": "t", "partition_by": ["dt"], "catalog": catalog, "lake": lake}
    publish_partitioned(_batch(spark, [1], "d1"), mode="overwrite", **kw)
    window = _batch(spark, [2], "d1").unionByName(_batch(spark, [3], "d2"))
    first = publish_partitioned(window, mode="append", append_window="w1", **kw)
    again = publish_partitioned(window, mode="append", append_window="w1",
                                retention=timedelta(0), **kw)
    assert _ids(catalog, db, "t") == [1, 2, 3]
    assert first.version in again.removed_versions  # the window's first attempt is gone
    third = publish_partitioned(window, mode="append", append_window="w1",
                                retention=timedelta(0), **kw)  # its start rows were kept
    assert _ids(catalog, db, "t") == [1, 2, 3] and third.rows == 3

    publish_partitioned(_batch(spark, [4], "d1"), mode="append", append_window="w2", **kw)
    assert _ids(catalog, db, "t") == [1, 2, 3, 4]
    # lifecycle windows (AppendWindow) come in sequence: an earlier place with other files is
    # a bookmark that went back, refused before anything is written
    later = AppendWindow("app", 5, "in5").to_text()
    publish_partitioned(_batch(spark, [6], "d2"), mode="append", append_window=later, **kw)
    with pytest.raises(AppendWindowError, match=r"append window 4 \(input in4\)"):
        publish_partitioned(_batch(spark, [7], "d2"), mode="append",
                            append_window=AppendWindow("app", 4, "in4").to_text(), **kw)
    assert _ids(catalog, db, "t") == [1, 2, 3, 4, 6]


def test_staged_append_knows_its_carried_rows_from_the_touched_partitions_only(
        spark, catalog, db, lake):
    """A partitioned append rewrites the current rows of the partitions it touches (d1) beside
    its own, not those it leaves (d2): ``read_carried`` reads exactly them, typed as the
    version, so the version minus them is the run's own rows; the locations survive the
    to_dict / from_dict trip another process makes; a re-stage keeps them without carrying
    the rows again; an append to a new partition only, or another mode, carries nothing."""
    from chispa import assert_df_equality

    from lakeforge.publish import StagedVersion, read_carried, read_staged, stage_partitioned

    kw = {"database": db, "table": "t", "partition_by": ["dt"], "catalog": catalog, "lake": lake}
    publish_partitioned(_batch(spark, [1, 2], "d1").unionByName(_batch(spark, [3], "d2")),
                        mode="overwrite", **kw)
    new = _batch(spark, [4], "d1").unionByName(_batch(spark, [5], "d3"))
    staged = stage_partitioned(new, mode="append", **kw)
    assert (staged.rows, staged.carried_rows) == (4, 2)
    assert [v for v, _loc in staged.carried_from] == [("d1",)]
    carried = read_carried(spark, staged)
    assert carried is not None
    assert sorted(tuple(r) for r in carried.collect()) == [
        (1, 1.0, "GB", "d1"), (2, 2.0, "GB", "d1")]
    data = read_staged(spark, staged)
    assert [(f.name, f.dataType) for f in carried.schema] == [
        (f.name, f.dataType) for f in data.schema]
    own = data.exceptAll(carried)
    assert_df_equality(own, new.select(*data.columns), ignore_row_order=True)

    again = StagedVersion.from_dict(staged.to_dict())
    assert again.carried_from == staged.carried_from and again.carried_rows == 2
    older = {k: v for k, v in staged.to_dict().items() if k != "carried_from"}
    with pytest.raises(PublishError, match=r"carries 2 current rows but not where they came "
                       r"from \(staged by an older Lakeforge\): run its write phase again"):
        read_carried(spark, StagedVersion.from_dict(older))
    restaged = stage_partitioned(data.where("id != 4"), mode="append", restage_of=again, **kw)
    assert (restaged.rows, restaged.carried_rows) == (3, 2)
    assert restaged.carried_from == staged.carried_from

    fresh = stage_partitioned(_batch(spark, [6], "d4"), mode="append", **kw)
    assert (fresh.carried_rows, fresh.carried_from, read_carried(spark, fresh)) == (0, (), None)
    over = stage_partitioned(new, mode="overwrite_partitions", **kw)
    assert (over.carried_rows, over.carried_from) == (0, ())


def test_retention_keeps_superseded_versions_until_they_expire(spark, catalog, db, lake):
    kw = {"database": db, "table": "t", "partition_by": ["dt"], "catalog": catalog, "lake": lake}
    old = publish_partitioned(_batch(spark, [1], "d1"), **kw)
    new = publish_partitioned(_batch(spark, [2], "d1"), retention=timedelta(hours=1), **kw)
    assert new.superseded_versions == (old.version,) and new.removed_versions == ()
    table_uri = new.plan.table_uri
    later = datetime.now().astimezone() + timedelta(minutes=59)
    assert expire_versions(catalog, database=db, table="t", table_uri=table_uri,
                           retention=timedelta(hours=1), now=later) == ((), ())
    later = datetime.now().astimezone() + timedelta(hours=2)
    assert expire_versions(catalog, database=db, table="t", table_uri=table_uri,
                           retention=timedelta(hours=1), now=later) == ((), (old.version,))
    assert _ids(catalog, db, "t") == [2]


def test_failure_before_switch_leaves_previous_version(spark, catalog, db, lake):
    kw = {"database": db, "table": "t", "partition_by": ["dt"], "catalog": catalog, "lake": lake}
    publish_partitioned(_batch(spark, [1, 2], "d1").unionByName(_batch(spark, [3], "d2")), **kw)
    before = duck(catalog, db, "t", "SELECT * FROM t ORDER BY id")[1]
    seen = {}

    def crash(plan):
        seen["plan"] = plan
        raise RuntimeError("injected failure after the data files were written")

    with pytest.raises(RuntimeError, match="injected"):
        publish_partitioned(_batch(spark, [7], "d1").unionByName(_batch(spark, [8], "d3")),
                            mode="overwrite", before_switch=crash, **kw)
    plan = seen["plan"]
    assert all(glob.glob(f"{p.location}/*.parquet") for p in plan.partitions)  # data written
    assert plan.stale_partitions == (("d2",),)
    assert duck(catalog, db, "t", "SELECT * FROM t ORDER BY id")[1] == before
    assert sorted(r["id"] for r in spark.table(f"{db}.t").collect()) == [1, 2, 3]
    # The orphaned version is picked up by the next publish's retention.
    nxt = publish_partitioned(_batch(spark, [9], "d1"), retention=timedelta(0), **kw)
    assert plan.version in nxt.removed_versions


# --------------------------------------------------------------------------- sizing


def test_files_are_sized_by_estimated_bytes_per_partition(spark, catalog, db, lake):
    df = spark.range(30_000).select(
        F.col("id"), F.sha2(F.col("id").cast("string"), 256).alias("payload"),
        F.when(F.col("id") < 24_000, "big").otherwise("small").alias("p"),
    )
    result = publish_partitioned(df, database=db, table="sized", partition_by=["p"],
                                 catalog=catalog, lake=lake, target_file_bytes=256 * 1024)
    stats = {s.values: s for s in result.partition_stats}
    assert stats[("big",)].rows == 24_000 and stats[("small",)].rows == 6_000
    assert stats[("big",)].files > stats[("small",)].files >= 1
    for p in catalog.get_partitions(db, "sized"):
        files = glob.glob(f"{p.location}/*.parquet")
        planned = stats[(p.values[0],)].files
        assert 1 <= len(files) <= planned + 1
        assert max(Path(f).stat().st_size for f in files) < 2 * 256 * 1024
    # With the default 128 MB target the same data is one file per partition, however many
    # shuffle partitions the input had.
    default = publish_partitioned(df.repartition(7), database=db, table="one",
                                  partition_by=["p"], catalog=catalog, lake=lake)
    assert sorted(default.files_per_partition.values()) == [1, 1]
    assert _ids(catalog, db, "sized") == list(range(30_000))


# --------------------------------------------------------------------------- rejected input


def test_bad_input_is_rejected_before_anything_is_written(spark, catalog, db, lake, tmp_path):
    kw = {"database": db, "table": "t", "partition_by": ["dt"], "catalog": catalog, "lake": lake}
    with pytest.raises(AthenaSchemaError, match="dt: null partition values"):
        publish_partitioned(_batch(spark, [1], None), **kw)
    with pytest.raises(PublishError, match="input is empty"):
        publish_partitioned(_batch(spark, [1], "d1").limit(0), mode="overwrite", **kw)
    with pytest.raises(ConfigError, match="publish mode 'upsert'"):
        publish_partitioned(_batch(spark, [1], "d1"), mode="upsert", **kw)
    with pytest.raises(ConfigError, match="needs mode='overwrite'"):
        publish_partitioned(_batch(spark, [1], "d1"), mode="append",
                            projection={"dt": date_projection("2024-01-01")}, **kw)
    assert catalog.get_table(db, "t") is None
    assert not Path(lake.table_uri("curated", "t", db)).exists()

    publish_partitioned(_batch(spark, [1], "d1"), **kw)
    wider = _batch(spark, [2], "d2").withColumn("v", F.col("v").cast("string"))
    with pytest.raises(SchemaMismatchError, match=r"v: table double vs data string"):
        publish_partitioned(wider, mode="append", **kw)
    with pytest.raises(SchemaMismatchError, match="partition keys"):
        publish_partitioned(_batch(spark, [2], "d2"), database=db, table="t",
                            partition_by=["country"], catalog=catalog, lake=lake)
    # mode='overwrite' rewrites every partition, but a changed type would leave the table
    # unreadable between the table update and the partition switch: refused unless allowed
    with pytest.raises(SchemaEvolutionError,
                       match=r"v: type double -> string; nothing was written.*allow_breaking"):
        publish_partitioned(wider, mode="overwrite", **kw)
    assert _ids(catalog, db, "t") == [1]
    publish_partitioned(wider, mode="overwrite", allow_breaking_schema_change=True, **kw)
    assert [(c.name, c.type) for c in catalog.get_table(db, "t").columns] == [
        ("id", "bigint"), ("v", "string"), ("country", "string")
    ]
    assert _ids(catalog, db, "t") == [2]


def test_empty_string_partition_value_is_refused_before_anything_is_written(
        spark, catalog, db, lake):
    """Spark writes '' into __HIVE_DEFAULT_PARTITION__ (null): refused like null, in one line
    naming the table, the column and the rows, with no version folder written."""
    kw = {"database": db, "table": "t", "partition_by": ["dt"], "catalog": catalog, "lake": lake}
    first = publish_partitioned(_batch(spark, [1], "d1"), **kw)
    before = catalog.get_partitions(db, "t")
    mixed = _batch(spark, [2], "d1").unionByName(_batch(spark, [3, 4], ""))
    with pytest.raises(AthenaSchemaError) as err:
        publish_partitioned(mixed, mode="overwrite_partitions", **kw)
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(f"publish {db}.t: ")
    assert "dt: empty-string partition values in 2 row(s)" in message
    versions = Path(lake.table_uri("curated", "t", db), VERSIONS_DIR)
    assert sorted(p.name for p in versions.iterdir()) == [first.version]
    assert catalog.get_partitions(db, "t") == before
    assert _ids(catalog, db, "t") == [1]


def _catalog_ddl(monkeypatch, catalog):
    """The DROP / CREATE / ALTER statements ``catalog`` issues from now on."""
    issued = []
    run = catalog._sql

    def spy(statement):
        if statement.startswith(("DROP", "CREATE", "ALTER")):
            issued.append(statement.split(" (")[0][:80])
        return run(statement)

    monkeypatch.setattr(catalog, "_sql", spy)
    return issued


def test_reordered_columns_publish_without_recreating_the_table(spark, catalog, db, lake,
                                                                monkeypatch):
    """The same columns in another order are written in the table's order (Parquet is read
    by name): the table is never dropped; an added column goes after the table's."""
    kw = {"database": db, "table": "t", "partition_by": ["dt"], "catalog": catalog, "lake": lake}
    publish_partitioned(_batch(spark, [1], "d1").unionByName(_batch(spark, [2], "d2")),
                        mode="overwrite", **kw)
    issued = _catalog_ddl(monkeypatch, catalog)
    reordered = _batch(spark, [3], "d1").select("country", "v", "dt", "id")
    publish_partitioned(reordered, mode="overwrite_partitions", **kw)
    publish_partitioned(reordered, mode="append", **kw)
    assert not [s for s in issued if s.startswith(("DROP", "CREATE"))], issued
    assert [c.name for c in catalog.get_table(db, "t").columns] == ["id", "v", "country"]
    spark.catalog.refreshTable(f"{db}.t")
    assert sorted(tuple(r) for r in spark.table(f"{db}.t").collect()) == [
        (2, 2.0, "GB", "d2"), (3, 3.0, "GB", "d1"), (3, 3.0, "GB", "d1")]
    assert _ids(catalog, db, "t") == [2, 3, 3]

    wider = reordered.withColumn("note", F.lit("n")).select("note", "dt", "v", "country", "id")
    publish_partitioned(wider, mode="overwrite", **kw)
    assert not [s for s in issued if s.startswith(("DROP", "CREATE"))], issued
    assert [c.name for c in catalog.get_table(db, "t").columns] == ["id", "v", "country",
                                                                    "note"]
    spark.catalog.refreshTable(f"{db}.t")
    assert [tuple(r) for r in spark.table(f"{db}.t").collect()] == [(3, 3.0, "GB", "n", "d1")]


def test_failed_partition_switch_restores_the_previous_table_definition(
        spark, catalog, db, lake, monkeypatch):
    """An overwrite changing a column type whose partition call fails: PublishError, and the
    table is back at its old columns and partitions, readable by Spark and DuckDB."""
    kw = {"database": db, "table": "t", "partition_by": ["dt"], "catalog": catalog, "lake": lake}
    publish_partitioned(_batch(spark, [1], "d1").unionByName(_batch(spark, [2], "d2")), **kw)
    before = catalog.get_table(db, "t")
    locations = catalog.get_partitions(db, "t")

    def fail(*args, **kwargs):
        raise RuntimeError("injected: batch_update_partition throttled")

    monkeypatch.setattr(catalog, "set_partition_locations", fail)
    wider = _batch(spark, [3], "d3").withColumn("v", F.col("v").cast("string"))
    with pytest.raises(PublishError, match=r"partition switch .* failed \(RuntimeError: "
                                           r"injected.*definition was restored"):
        publish_partitioned(wider, mode="overwrite", allow_breaking_schema_change=True, **kw)
    after = catalog.get_table(db, "t")
    assert [(c.name, c.type) for c in after.columns] == [(c.name, c.type)
                                                         for c in before.columns]
    assert after.parameters["lakeforge.version"] == before.parameters["lakeforge.version"]
    assert catalog.get_partitions(db, "t") == locations
    spark.catalog.refreshTable(f"{db}.t")
    assert sorted((r.id, r.v) for r in spark.table(f"{db}.t").collect()) == [(1, 1.0),
                                                                            (2, 2.0)]
    assert _ids(catalog, db, "t") == [1, 2]


def _locations(catalog, db, table):
    return {p.values: p.location for p in catalog.get_partitions(db, table)}


def _fail_after_first(monkeypatch, catalog, method, message):
    """``catalog.<method>`` applies its first partition, then raises (once)."""
    real = getattr(catalog, method)

    def partly(database, table, partitions):
        monkeypatch.setattr(catalog, method, real)
        real(database, table, list(partitions)[:1])
        raise RuntimeError(message)

    monkeypatch.setattr(catalog, method, partly)


def test_failed_partition_add_moves_the_switched_partitions_back(spark, catalog, db, lake,
                                                                  monkeypatch):
    """The existing partitions move in one metastore call, then the new ones are added: when
    the add fails part-way, the moved ones go back and the added ones are dropped, so the
    message's 'readers stay on the previous version' is true."""
    kw = {"database": db, "table": "t", "partition_by": ["dt"], "catalog": catalog, "lake": lake}
    publish_partitioned(_batch(spark, [1], "d1").unionByName(_batch(spark, [2], "d2")), **kw)
    before = _locations(catalog, db, "t")
    _fail_after_first(monkeypatch, catalog, "add_partitions", "injected: metastore gone")
    df = _batch(spark, [3], "d1").unionByName(_batch(spark, [4], "d3")).unionByName(
        _batch(spark, [5], "d4"))
    with pytest.raises(PublishError) as err:
        publish_partitioned(df, **kw)
    message = str(err.value)
    assert "\n" not in message and message.startswith(f"publish {db}.t: the partition switch")
    assert "injected: metastore gone" in message
    assert "readers stay on the previous version" in message
    assert _locations(catalog, db, "t") == before
    spark.catalog.refreshTable(f"{db}.t")
    assert sorted(r.id for r in spark.table(f"{db}.t").collect()) == [1, 2]
    assert _ids(catalog, db, "t") == [1, 2]

    # the undo fails too: the message says which partitions readers see where
    _fail_after_first(monkeypatch, catalog, "add_partitions", "injected: add failed")
    monkeypatch.setattr(catalog, "drop_partitions", lambda *a: 1 / 0)
    with pytest.raises(PublishError) as err:
        publish_partitioned(df, **kw)
    message = str(err.value)
    assert "\n" not in message
    assert ("could NOT be fully restored (see the log): 1 partition(s) were added at version "
            in message)
    assert "[['d3']]" in message and "every other partition is at its previous" in message
    after = _locations(catalog, db, "t")
    assert version_of(after.pop(("d3",)), lake.table_uri("curated", "t", db)) is not None
    assert after == before


def test_partition_projection_points_the_template_at_the_current_version(
    spark, catalog, db, lake
):
    kw = {"database": db, "table": "p", "partition_by": ["dt"], "catalog": catalog, "lake": lake,
          "mode": "overwrite", "projection": {"dt": date_projection("2024-01-01")}}
    df = spark.createDataFrame([(1, date(2024, 1, 1)), (2, date(2024, 1, 2))], "id int, dt date")
    first = publish_partitioned(df, **kw)
    second = publish_partitioned(df, retention=timedelta(0), **kw)
    params = catalog.get_table(db, "p").parameters
    assert params["projection.enabled"] == "true"
    assert params["projection.dt.type"] == "date"
    assert params["storage.location.template"] == f"{second.plan.version_uri}/dt=${{dt}}"
    assert first.version in second.removed_versions
    ddl = Path(second.ddl_uri).read_text()
    assert "'projection.enabled'='true'" in ddl and "ADD IF NOT EXISTS" not in ddl


# --------------------------------------------------------------------------- SIGKILL mid-publish

WORKER = r'''
import dataclasses, json, os, sys, time
from pathlib import Path
from lakeforge.catalog.spark_sql import SparkSqlCatalog
from lakeforge.config import load_env
from lakeforge.paths import Lake
from lakeforge.publish import publish_partitioned
from lakeforge.session import build_session

step, root = sys.argv[1], sys.argv[2]
env = load_env("local")
env = dataclasses.replace(env, spark=dataclasses.replace(env.spark, master="local[1]",
                                                         driver_memory="1g"))
lake = Lake.from_settings(root, allow_env_override=False)
spark = build_session(env, "publish-kill-" + step, lake=lake,
                      extra_conf={"spark.sql.shuffle.partitions": "2"})
catalog = SparkSqlCatalog(spark)
kw = dict(database="killdb", table="t", partition_by=["dt"], catalog=catalog, lake=lake)

def rows(ids, dt):
    return spark.createDataFrame([(i, f"v{i}", dt) for i in ids], "id bigint, v string, dt string")

if step == "first":
    publish_partitioned(rows([1, 2], "d1").unionByName(rows([3], "d2")), mode="overwrite", **kw)
if step == "second":
    def hang(plan):
        # written under another name, then renamed: the test kills this process as soon as
        # ready.json exists, which must not be before its content is there
        Path(root, "ready.json.tmp").write_text(json.dumps(
            {"version_uri": plan.version_uri, "locations": [p.location for p in plan.partitions]}))
        os.replace(Path(root, "ready.json.tmp"), Path(root, "ready.json"))
        time.sleep(600)
    publish_partitioned(rows([7, 8], "d1").unionByName(rows([9], "d3")), mode="overwrite",
                        before_switch=hang, **kw)
else:  # "first" reads back what it published, "read" is a fresh process after the kill
    out = {"rows": sorted([r["id"], r["v"], r["dt"]] for r in spark.table("killdb.t").collect()),
           "locations": [p.location for p in catalog.get_partitions("killdb", "t")]}
    print("RESULT" + json.dumps(out))
spark.stop()
'''


@pytest.mark.slow
def test_sigkill_after_data_written_before_switch_keeps_previous_version(tmp_path):
    """Slow: three Spark JVMs in subprocesses (publish and read back, publish killed with
    SIGKILL, read in a fresh process)."""
    import json
    import os
    import signal
    import subprocess
    import sys
    import time

    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    root = tmp_path / "lake"
    env = with_fast_jvm({**os.environ,
                         "PYTHONPATH": str(Path(__file__).resolve().parents[2])})

    def run(step):
        done = subprocess.run([sys.executable, str(script), step, str(root)], env=env,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout

    before = json.loads(run("first").split("RESULT", 1)[1])
    assert before["rows"] == [[1, "v1", "d1"], [2, "v2", "d1"], [3, "v3", "d2"]]

    proc = subprocess.Popen([sys.executable, str(script), "second", str(root)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ready = root / "ready.json"
    deadline = time.monotonic() + 300
    while not ready.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.5)
    assert ready.exists(), "the second publish never reached the switch"
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(timeout=60) == -signal.SIGKILL

    plan = json.loads(ready.read_text())
    assert all(glob.glob(f"{loc}/*.parquet") for loc in plan["locations"])  # files were written
    after = json.loads(run("read").split("RESULT", 1)[1])
    assert after == before
    # DuckDB (Athena's stand-in) over the catalog's locations sees exactly the first version.
    files = [f for loc in after["locations"] for f in sorted(glob.glob(f"{loc}/*.parquet"))]
    got = duckdb.sql(
        "SELECT id, v, dt FROM read_parquet([" + ", ".join(f"'{f}'" for f in files)
        + "], hive_partitioning=true) ORDER BY id"
    ).fetchall()
    assert [list(r) for r in got] == before["rows"]


# --------------------------------------------------------------------------- glue_api backend


@pytest.fixture
def glue_endpoint(moto_endpoint):
    """The session's moto server (conftest) stands in for the Glue Data Catalog API."""
    return moto_endpoint


@pytest.mark.aws
def test_publish_registers_in_glue_and_switches_versions(spark, lake, glue_endpoint):
    import boto3

    from lakeforge.catalog.glue_api import GlueApiCatalog

    glue = boto3.client("glue", endpoint_url=glue_endpoint, region_name="eu-west-1")
    catalog = GlueApiCatalog(glue)
    kw = {"database": "gluedb", "table": "t", "partition_by": ["dt"], "catalog": catalog,
          "lake": lake}
    first = publish_partitioned(
        _batch(spark, [1, 2], "d1").unionByName(_batch(spark, [3], "d2")), **kw
    )
    table = glue.get_table(DatabaseName="gluedb", Name="t")["Table"]
    assert table["TableType"] == "EXTERNAL_TABLE"
    assert [c["Name"] for c in table["PartitionKeys"]] == ["dt"]
    assert "ParquetHiveSerDe" in table["StorageDescriptor"]["SerdeInfo"]["SerializationLibrary"]
    assert _ids(catalog, "gluedb", "t") == [1, 2, 3]

    second = publish_partitioned(_batch(spark, [5], "d2"), retention=timedelta(0), **kw)
    parts = {tuple(p["Values"]): p["StorageDescriptor"]["Location"]
             for p in glue.get_partitions(DatabaseName="gluedb", TableName="t")["Partitions"]}
    assert version_of(parts[("d1",)], first.plan.table_uri) == first.version
    assert version_of(parts[("d2",)], first.plan.table_uri) == second.version
    assert _ids(catalog, "gluedb", "t") == [1, 2, 5]
    assert second.removed_versions == ()  # d1 still lives in the first version


@pytest.mark.aws
def test_failed_glue_switch_puts_every_partition_back(spark, lake, glue, glue_db, monkeypatch):
    """batch_update_partition applies the entries it does not report in Errors; a switch
    failing there (or in the batch_create_partition after it) is undone on the moto Glue."""
    kw = {"database": glue_db, "table": "t", "partition_by": ["dt"], "catalog": glue,
          "lake": lake}
    publish_partitioned(_batch(spark, [1], "d1").unionByName(_batch(spark, [2], "d2")), **kw)
    before = _locations(glue, glue_db, "t")
    real_update = glue.glue.batch_update_partition

    def last_entry_fails(**kwargs):
        monkeypatch.setattr(glue.glue, "batch_update_partition", real_update)
        *applied, refused = kwargs["Entries"]
        real_update(**{**kwargs, "Entries": applied})
        return {"Errors": [{"PartitionValueList": refused["PartitionValueList"],
                            "ErrorDetail": {"ErrorCode": "InternalServiceException",
                                            "ErrorMessage": "injected"}}]}

    monkeypatch.setattr(glue.glue, "batch_update_partition", last_entry_fails)
    df = _batch(spark, [3], "d1").unionByName(_batch(spark, [4], "d2")).unionByName(
        _batch(spark, [5], "d3"))
    with pytest.raises(PublishError, match=r"failed for 1 of 2 partition\(s\).*readers stay on "
                                           r"the previous version") as err:
        publish_partitioned(df, **kw)
    assert "\n" not in str(err.value)
    assert _locations(glue, glue_db, "t") == before

    def create_fails(**kwargs):
        raise RuntimeError("injected: throttled")

    monkeypatch.setattr(glue.glue, "batch_create_partition", create_fails)
    with pytest.raises(PublishError, match=r"throttled.*readers stay on the previous version"):
        publish_partitioned(df, **kw)
    assert _locations(glue, glue_db, "t") == before
    assert _ids(glue, glue_db, "t") == [1, 2]
