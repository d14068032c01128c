# ruff: noqa: F811 - job_root is a fixture imported from test_lifecycle_runner
"""Delta and Iceberg on the Glue API backend (``catalog.backend: glue_api``) against a moto
server, with Iceberg's own Java GlueCatalog as the Iceberg writer.

* The Spark settings a Glue env gets for Iceberg (no Spark).
* Iceberg's GlueCatalog committing to moto's Glue with S3FileIO on moto's S3: the Glue table
  it writes is what Athena reads (docs/formats.md), pyiceberg and Spark read the same rows
  from its ``metadata_location``, rollback moves the pointer.
* The lifecycle sequence of tests/lakeforge/test_lifecycle_formats.py (first run, failed gate,
  kill before the commit, incremental rerun, rollback) for both formats on glue_api. Its kill
  is the suite's kill before a Delta / Iceberg commit on both Spark lines: the local-metastore
  sequence kills only with LAKEFORGE_TESTS_FULL=1 (test_lifecycle_formats.py). The
  commit-level first commit / partition overwrite / rollback / refused schema change on
  glue_api are in test_formats.py (Iceberg there through the Hadoop catalog plus Lakeforge's
  Glue registration, the path a reused local session takes).

The GlueCatalog runs in a child session of the suite's session (``spark.newSession()``: the
same JVM and jars, its own SQL conf and catalogs), whose ``lakeforge_iceberg`` catalog is
configured as a Glue env configures it (:func:`lakeforge.formats.iceberg_glue_catalog_conf`).

What moto cannot do (moto 5.2), and so what these tests cannot show:

* Glue's optimistic locking: moto's ``UpdateTable`` ignores ``VersionId`` (a stale version is
  accepted, asserted below), so two writers racing between Iceberg's check of the current
  ``metadata_location`` and its ``UpdateTable`` are not refused as on Glue
  (``ConcurrentModificationException``). Iceberg's own check (the base metadata must still be
  Glue's current pointer) does run; it is what a second writer meets here.
* Lake Formation (Iceberg's ``glue.lakeformation-enabled``) and Athena's queries (moto's
  Athena does not execute SQL): Athena's view is checked as the Glue entry it reads.
"""

from __future__ import annotations

import contextlib
import dataclasses
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lakeforge.config import EnvConfig, load_env
from lakeforge.formats import (
    ICEBERG_CATALOG,
    ICEBERG_GLUE_CATALOG,
    ICEBERG_HADOOP_FILE_IO,
    ICEBERG_S3_FILE_IO,
    Target,
    commit,
    formats_enabled,
    iceberg_glue_catalog_conf,
    table_format_conf,
)
from lakeforge.paths import Lake
from tests.lakeforge.test_lifecycle_formats import check_lifecycle_sequence
from tests.lakeforge.test_lifecycle_runner import job_root  # noqa: F401 - a fixture

SCHEMA = "id bigint, name string, dt string"
FIRST = [(1, "a", "2024-01-01"), (2, None, "2024-01-01"), (3, "c", "2024-01-02")]
PREFIX = f"spark.sql.catalog.{ICEBERG_CATALOG}"


def glue_env(endpoint: str | None, *jar_sets: str) -> EnvConfig:
    """The local env with the glue_api backend (and S3) on ``endpoint``."""
    env = load_env("local")
    return dataclasses.replace(
        env, spark=dataclasses.replace(env.spark, jar_sets=list(jar_sets)),
        catalog=dataclasses.replace(env.catalog, backend="glue_api", region="us-east-1",
                                    endpoint_url=endpoint),
        aws=dataclasses.replace(env.aws, region="us-east-1", endpoint_url=endpoint))


# --------------------------------------------------------------------- settings (no Spark)


def test_glue_env_configures_iceberg_glue_catalog_with_s3_file_io_and_endpoints(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """glue_api + the iceberg set: GlueCatalog (no Hadoop ``type``: Iceberg refuses both),
    S3FileIO on an s3:// lake with the S3 endpoint and path-style access, Hadoop's file IO on
    a local-folder lake (S3FileIO handles s3:// only); no endpoint on AWS itself."""
    monkeypatch.delenv("LAKEFORGE_AWS_ENDPOINT_URL", raising=False)
    s3_lake = Lake.from_settings("s3://lake-bucket/lake", allow_env_override=False)
    conf = table_format_conf(glue_env("http://127.0.0.1:5000", "iceberg"), s3_lake)
    assert {k.removeprefix(PREFIX + "."): v for k, v in conf.items()
            if k.startswith(PREFIX + ".")} == {
        "catalog-impl": ICEBERG_GLUE_CATALOG, "io-impl": ICEBERG_S3_FILE_IO,
        "warehouse": "s3://lake-bucket/lake/curated", "client.region": "us-east-1",
        "glue.endpoint": "http://127.0.0.1:5000", "s3.endpoint": "http://127.0.0.1:5000",
        "s3.path-style-access": "true"}
    assert conf[PREFIX] == "org.apache.iceberg.spark.SparkCatalog"
    local = Lake.from_settings(str(tmp_path), allow_env_override=False)
    on_disk = iceberg_glue_catalog_conf(glue_env("http://127.0.0.1:5000"), local.zone("curated"))
    assert on_disk["io-impl"] == ICEBERG_HADOOP_FILE_IO and "s3.endpoint" not in on_disk
    on_aws = iceberg_glue_catalog_conf(glue_env(None), "s3://lake-bucket/lake/curated")
    assert not {"glue.endpoint", "s3.endpoint", "s3.path-style-access"} & set(on_aws)
    # the spark_sql backend keeps the Hadoop catalog
    local_env = dataclasses.replace(load_env("local"), spark=dataclasses.replace(
        load_env("local").spark, jar_sets=["iceberg"]))
    hadoop = table_format_conf(local_env, local)
    assert hadoop[f"{PREFIX}.type"] == "hadoop" and f"{PREFIX}.catalog-impl" not in hadoop


def iceberg_credentials_conf() -> dict[str, str]:
    """The credentials boto3 resolves now, as S3FileIO's properties (``s3.access-key-id``,
    ``s3.secret-access-key``, ``s3.session-token``): for the suite's session, whose JVM started
    before moto's credentials were set (its default chain reads the JVM's own environment)."""
    from lakeforge.aws import s3a_credentials_conf

    names = {"fs.s3a.access.key": "s3.access-key-id", "fs.s3a.secret.key": "s3.secret-access-key",
             "fs.s3a.session.token": "s3.session-token"}
    return {names[k]: v for k, v in s3a_credentials_conf().items() if k in names}


def test_iceberg_credentials_conf_takes_what_boto3_resolves(
        monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    assert iceberg_credentials_conf() == {"s3.access-key-id": "AKIDEXAMPLE",
                                          "s3.secret-access-key": "secret"}
    monkeypatch.setenv("AWS_SESSION_TOKEN", "token")
    assert iceberg_credentials_conf()["s3.session-token"] == "token"


# ------------------------------------------------------- Iceberg's GlueCatalog on moto (Spark)


@contextlib.contextmanager
def glue_iceberg_session(spark: Any, env: EnvConfig, warehouse: str) -> Iterator[Any]:
    """A child session whose ``lakeforge_iceberg`` is Iceberg's GlueCatalog for ``env``,
    made the active session (what ``build_session`` reuses) until the block ends.

    The suite's JVM started before moto's dummy credentials were set: S3FileIO takes them as
    properties (:func:`iceberg_credentials_conf`), the Glue client from the SDK's default
    chain, whose first source is Java system properties (set here, removed afterwards)."""
    from pyspark.sql import SparkSession

    from lakeforge.aws import s3a_credentials_conf

    child = spark.newSession()
    child.conf.unset(f"{PREFIX}.type")
    for key, value in {**iceberg_glue_catalog_conf(env, warehouse),
                       **iceberg_credentials_conf()}.items():
        child.conf.set(f"{PREFIX}.{key}", value)
    system = spark._jvm.java.lang.System
    creds = s3a_credentials_conf()
    props = {"aws.accessKeyId": creds.get("fs.s3a.access.key"),
             "aws.secretAccessKey": creds.get("fs.s3a.secret.key"),
             "aws.sessionToken": creds.get("fs.s3a.session.token")}
    before = {k: system.getProperty(k) for k in props}
    jvm_session = spark._jvm.SparkSession
    previous = SparkSession._activeSession
    for key, value in props.items():
        if value:
            system.setProperty(key, value)
    jvm_session.setActiveSession(child._jsparkSession)
    SparkSession._activeSession = child
    try:
        yield child
    finally:
        SparkSession._activeSession = previous
        if previous is None:
            jvm_session.clearActiveSession()
        else:
            jvm_session.setActiveSession(previous._jsparkSession)
        for key, old in before.items():
            if old is None:
                system.clearProperty(key)
            else:
                system.setProperty(key, old)


@pytest.fixture(scope="module")
def ispark(spark):  # type: ignore[no-untyped-def]
    if "iceberg" not in formats_enabled(spark):
        pytest.skip("the test session has no iceberg jar set: run `make jars`")
    return spark


def _rows(frame: Any) -> list[tuple[Any, ...]]:
    return sorted((tuple(r[c] for c in ("id", "name", "dt")) for r in frame.collect()), key=str)


def _glue_table(glue: Any, db: str, table: str) -> dict[str, Any]:
    return glue.get_table(DatabaseName=db, Name=table)["Table"]


def _pyiceberg_rows(endpoint: str, db: str, table: str) -> tuple[str, list[tuple[Any, ...]]]:
    """The table as pyiceberg's GlueCatalog loads it from moto (metadata_location) and
    scans it from moto's S3: (metadata location, rows)."""
    from pyiceberg.catalog.glue import GlueCatalog

    creds = iceberg_credentials_conf()
    loaded = GlueCatalog("glue", **{
        "glue.endpoint": endpoint, "glue.region": "us-east-1", "s3.endpoint": endpoint,
        "s3.region": "us-east-1", **{k: v for k, v in creds.items()},
    }).load_table(f"{db}.{table}")
    rows = sorted((tuple(r[c] for c in ("id", "name", "dt"))
                   for r in loaded.scan().to_arrow().to_pylist()), key=str)
    return loaded.metadata_location, rows


@pytest.mark.slow
@pytest.mark.aws
@pytest.mark.jars
def test_iceberg_glue_catalog_writes_the_glue_table_athena_reads_on_moto(
        ispark, moto_endpoint: str) -> None:
    """Slow (~60 s on 2 busy cores: the AWS SDK's first Glue and S3 clients in the JVM, four
    Iceberg commits with their Glue round trips, three pyiceberg scans from moto's S3).
    Iceberg's Java GlueCatalog (S3FileIO on moto's S3) commits: the Glue table has
    table_type ICEBERG, metadata_location (and previous_metadata_location after the second
    commit), the location and columns; pyiceberg reads the same rows as Spark from that
    pointer; a refused schema change leaves the pointer; rollback moves it; moto accepts an
    UpdateTable with a stale VersionId (Glue would refuse it)."""
    import boto3

    from lakeforge.catalog.glue_api import GlueApiCatalog
    from lakeforge.errors import ConfigError
    from lakeforge.formats import SchemaEvolutionError, iceberg

    bucket = f"lf-iceberg-{uuid.uuid4().hex[:8]}"
    boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1").create_bucket(
        Bucket=bucket)
    glue = boto3.client("glue", endpoint_url=moto_endpoint, region_name="us-east-1")
    catalog = GlueApiCatalog(region="us-east-1", endpoint_url=moto_endpoint)
    db = f"gi_{uuid.uuid4().hex[:8]}"
    target = Target(db, "t", "", ["dt"], mode="overwrite")
    with glue_iceberg_session(ispark, glue_env(moto_endpoint, "iceberg"),
                              f"s3://{bucket}/curated") as gs:
        assert iceberg.glue_catalog_writes(gs) and not iceberg.glue_catalog_writes(ispark)
        first = commit("iceberg", gs.createDataFrame(FIRST, SCHEMA), target, spark=gs,
                       catalog=catalog)
        assert (first.operation, first.rows) == ("CREATE", 3)
        entry = _glue_table(glue, db, "t")
        params = entry["Parameters"]
        assert params["table_type"] == "ICEBERG"
        assert params["metadata_location"] == iceberg.metadata_location(gs, target)
        assert params["metadata_location"].startswith(f"s3://{bucket}/curated/{db}.db/t/"
                                                      "metadata/")
        # only what Iceberg writes (Lakeforge's own registration would add EXTERNAL=TRUE)
        assert set(params) == {"table_type", "metadata_location"}
        assert entry["TableType"] == "EXTERNAL_TABLE"
        assert entry["StorageDescriptor"]["Location"] == f"s3://{bucket}/curated/{db}.db/t"
        assert [(c["Name"], c["Type"]) for c in entry["StorageDescriptor"]["Columns"]] == [
            ("id", "bigint"), ("name", "string"), ("dt", "string")]
        expected = _rows(gs.createDataFrame(FIRST, SCHEMA))
        assert _rows(gs.table(iceberg.identifier(target))) == expected
        assert _pyiceberg_rows(moto_endpoint, db, "t") == (params["metadata_location"],
                                                           expected)

        incremental = Target(**{**vars(target), "mode": "overwrite_partitions"})
        commit("iceberg", gs.createDataFrame([(4, "d", "2024-01-02")], SCHEMA), incremental,
               spark=gs, catalog=catalog)
        params2 = _glue_table(glue, db, "t")["Parameters"]
        assert set(params2) == {"table_type", "metadata_location", "previous_metadata_location"}
        assert params2["previous_metadata_location"] == params["metadata_location"]
        assert params2["metadata_location"] == iceberg.metadata_location(gs, target)
        after = sorted([FIRST[0], FIRST[1], (4, "d", "2024-01-02")], key=str)
        assert _pyiceberg_rows(moto_endpoint, db, "t") == (params2["metadata_location"], after)

        wider = gs.createDataFrame([(5, "e", "2024-01-03", 1.5)], SCHEMA + ", score double")
        with pytest.raises(SchemaEvolutionError, match="nothing was written"):
            commit("iceberg", wider, incremental, spark=gs, catalog=catalog)
        assert _glue_table(glue, db, "t")["Parameters"] == params2

        iceberg.rollback(gs, catalog, target, int(first.version))
        params3 = _glue_table(glue, db, "t")["Parameters"]
        assert params3["previous_metadata_location"] == params2["metadata_location"]
        assert _pyiceberg_rows(moto_endpoint, db, "t") == (params3["metadata_location"],
                                                           expected)
        with pytest.raises(ConfigError, match="not a snapshot"):
            iceberg.rollback(gs, catalog, target, 99)

    # moto: UpdateTable with a VersionId that is no longer current is accepted (Glue answers
    # ConcurrentModificationException), so Glue's half of the optimistic lock is not tested.
    stale = _glue_table(glue, db, "t")
    glue.update_table(DatabaseName=db, VersionId="1", TableInput={
        "Name": "t", "TableType": "EXTERNAL_TABLE", "Parameters": stale["Parameters"],
        "StorageDescriptor": stale["StorageDescriptor"]})
    assert int(_glue_table(glue, db, "t")["VersionId"]) > int(stale["VersionId"])


# ----------------------------------------------------- lifecycle on glue_api (moto), both formats


@pytest.mark.slow
@pytest.mark.aws
@pytest.mark.jars
@pytest.mark.parametrize("fmt", ["delta", "iceberg"])
def test_lifecycle_on_glue_api_first_run_failed_gate_kill_rerun_rollback_on_moto(
        spark, job_root: Path, tmp_path: Path, fmt: str, capsys,
        moto_endpoint: str) -> None:
    """Slow: the lifecycle sequence (three in-process runs, one job process SIGKILLed before
    the commit: a second JVM, ~1 min; then rollback) with the glue_api backend on moto. Delta
    is registered by Lakeforge (table_type DELTA); Iceberg is committed by Iceberg's
    GlueCatalog (a child session in process, the Glue env's own settings in the killed job's
    JVM), on the local-folder lake with Hadoop's file IO. The Glue entry does not change
    while nothing is committed. The kill runs here always: under ``make test`` it is the only
    kill before a Delta / Iceberg commit on either Spark line (the killed job reads the table
    with the line's Delta, or loads it through Iceberg's GlueCatalog, before the fault point);
    test_lifecycle_formats.py's local-metastore sequence kills only with
    LAKEFORGE_TESTS_FULL=1."""
    import boto3

    from lakeforge.catalog.glue_api import GlueApiCatalog

    if fmt not in formats_enabled(spark):
        pytest.skip(f"the test session has no {fmt} jar set: run `make jars`")
    db = f"lcg_{fmt}_{uuid.uuid4().hex[:6]}"
    glue = boto3.client("glue", endpoint_url=moto_endpoint, region_name="us-east-1")

    def entry() -> dict[str, Any] | None:
        try:
            table = _glue_table(glue, db, "orders")
        except glue.exceptions.EntityNotFoundException:
            return None
        assert table["Parameters"]["table_type"] == fmt.upper()
        return {"Parameters": table["Parameters"],
                "StorageDescriptor": table["StorageDescriptor"]}

    env_args = ("--env.catalog.backend", "glue_api", "--env.catalog.endpoint_url",
                moto_endpoint, "--env.catalog.region", "us-east-1")
    catalog = GlueApiCatalog(region="us-east-1", endpoint_url=moto_endpoint)
    lake = Lake.from_settings(str(job_root), allow_env_override=False)
    with contextlib.ExitStack() as stack:
        session = spark
        if fmt == "iceberg":
            session = stack.enter_context(glue_iceberg_session(
                spark, glue_env(moto_endpoint), lake.zone("curated")))
        first = check_lifecycle_sequence(session, job_root, tmp_path, fmt, capsys, db=db,
                                         kill=True, env_args=env_args, catalog=catalog,
                                         catalog_entry=entry)
    final = entry()
    assert isinstance(first, dict) and final is not None
    if fmt == "delta":
        # Lakeforge's registration: the folder and the log's columns, unchanged by commits of
        # the same schema (Athena reads the versions from the log)
        assert final == first
        assert final["StorageDescriptor"]["Location"] == str(job_root / "curated" / db /
                                                             "orders")
    else:
        # Iceberg's GlueCatalog moved the pointer with the rerun's commit and the rollback
        assert final["Parameters"]["metadata_location"] != first["Parameters"][
            "metadata_location"]
        assert final["Parameters"]["metadata_location"].startswith(
            f"{lake.zone('curated')}/{db}.db/orders/metadata/")
