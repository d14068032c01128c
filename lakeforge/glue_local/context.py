"""GlueContext on Lakeforge's runtime: Glue's readers and writers over the lake and catalog.

* ``create_dynamic_frame.from_options(connection_type="s3", ...)``: csv, json, parquet (also
  glueparquet, orc) with Glue's ``format_options``, names in any case as Glue reads them
  (csv: ``separator``, ``quoteChar`` (-1: off),
  ``escaper``, ``withHeader``, ``skipFirst``, ``multiLine``; json: ``multiLine``); values are
  typed per record as Glue does and mixed columns become choices (:mod:`.choice`).
* ``from_catalog``: the table in the env's catalog (crawl or publish it first); partitioned
  tables read their partitions' folders, ``push_down_predicate`` and the
  ``catalogPartitionPredicate`` additional option select partitions.
* ``write_dynamic_frame.from_options(connection_type="s3")`` appends files as Glue does
  (compressed by the ``compression`` connection option, ``gzip`` or ``bzip``, or the format
  option of that name), registering them in the catalog when ``enableUpdateCatalog`` names
  a database and table (or ``getSink(...).setCatalogInfo``); ``from_catalog`` publishes into
  the table (:func:`lakeforge.publish.publish_partitioned`, append), or appends to a crawled table's
  folder with the table's own format settings and registers the new partitions. An existing
  table's definition is kept; new columns are added only with ``enableUpdateCatalog`` and
  ``updateBehavior`` UPDATE_IN_DATABASE (Glue's update-from-job rule).
* Sources named with ``transformation_ctx`` honour the job's bookmark (``Job.init``).

A Glue API that is not here raises :class:`GlueApiNotImplementedError` naming it.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F  # noqa: N812
from pyspark.sql import types as T  # noqa: N812

from lakeforge.catalog.base import Column as CatalogColumn
from lakeforge.catalog.base import DataFormat, Partition, TableNotFoundError, TableSpec
from lakeforge.crawler.listing import glob_to_regex
from lakeforge.glue_local import choice as choice_mod
from lakeforge.glue_local.errors import GlueApiNotImplementedError
from lakeforge.glue_local.frames import (
    DynamicFrame,
    DynamicFrameCollection,
    DynamicFrameReader,
    DynamicFrameWriter,
)
from lakeforge.glue_local.runtime import GlueRuntime, current_runtime, split_s3_uri
from transforms.casts import cast_or_null

log = logging.getLogger(__name__)

FILE_COL = "_lf_source_file"
JDBC_TYPES = ("jdbc", "postgresql", "mysql", "sqlserver", "oracle", "redshift")
FORMATS = {"csv": "csv", "json": "json", "parquet": "parquet", "glueparquet": "parquet",
           "orc": "orc"}
# The formats a catalog table can be registered as (anything else registers as parquet).
_TABLE_FORMATS: dict[str, DataFormat] = {"parquet": "parquet", "csv": "csv", "json": "json"}
DEFAULT_RETENTION_HOURS = 168
# Characters java.net.URI leaves unquoted in a path (input_file_name() is such a URI).
URI_PATH_SAFE = "/;:@&=+$,!*'()"


class GlueLogger:
    """``glue_context.get_logger()``: Glue's log4j logger methods on Python logging."""

    def __init__(self) -> None:
        self._log = logging.getLogger("awsglue")

    def info(self, msg: str) -> None:
        self._log.info(msg)

    def warn(self, msg: str) -> None:
        self._log.warning(msg)

    def error(self, msg: str) -> None:
        self._log.error(msg)

    def debug(self, msg: str) -> None:
        self._log.debug(msg)


class GlueContext:
    """Glue's GlueContext: ``GlueContext(SparkContext.getOrCreate())`` (or of a SparkSession).

    As Glue's, which is a SQLContext, it answers SQLContext's methods (``sql``, ``read``,
    ``table``, ``createDataFrame``, ``udf``, ...) on its session."""

    def __init__(self, sparkContext: Any = None, **options: Any) -> None:  # noqa: N803
        from pyspark import SparkContext

        if isinstance(sparkContext, SparkSession):  # awsglue takes a session too
            self.spark_session = sparkContext
            sc = sparkContext.sparkContext
        else:
            sc = sparkContext or SparkContext.getOrCreate()
            active = SparkSession.getActiveSession()
            self.spark_session = active if active is not None else SparkSession(sc)
        self._sc = sc
        self._sql_context: Any = None
        self._runtime: GlueRuntime = current_runtime(self.spark_session)
        self._options = dict(options)
        self.create_dynamic_frame = DynamicFrameReader(self)
        self.write_dynamic_frame = DynamicFrameWriter(self)
        self.create_data_frame = DataFrameReader(self)
        self.write_data_frame = DataFrameWriter(self)

    @property
    def sparkSession(self) -> SparkSession:  # noqa: N802
        return self.spark_session

    def get_logger(self) -> GlueLogger:
        return GlueLogger()

    def currentTimeMillis(self) -> int:  # noqa: N802
        return int(time.time() * 1000)

    # ------------------------------------------------------------------ reading

    def create_dynamic_frame_from_options(
        self, connection_type: str, connection_options: Mapping[str, Any] | None = None,
        format: str | None = None, format_options: Mapping[str, Any] | None = None,  # noqa: A002
        transformation_ctx: str = "", push_down_predicate: str = "", **kwargs: Any,
    ) -> DynamicFrame:
        opts = dict(connection_options or {})
        if connection_type != "s3":
            raise GlueApiNotImplementedError(
                f"create_dynamic_frame.from_options(connection_type={connection_type!r})",
                "read it with spark.read (e.g. spark.read.jdbc) and wrap it with "
                "DynamicFrame.fromDF")
        paths = list(opts.get("paths") or ([opts["path"]] if opts.get("path") else []))
        if not paths:
            raise ValueError("create_dynamic_frame.from_options: connection_options needs "
                             "'paths': ['s3://bucket/prefix', ...]")
        files = self._source_files("create_dynamic_frame.from_options", transformation_ctx,
                                   paths, opts)
        return self._read(files, format, dict(format_options or {}), _source_name(paths))

    def create_dynamic_frame_from_catalog(
        self, database: str | None = None, table_name: str | None = None,
        redshift_tmp_dir: str = "", transformation_ctx: str = "", push_down_predicate: str = "",
        additional_options: Mapping[str, Any] | None = None, catalog_id: str | None = None,
        **kwargs: Any,
    ) -> DynamicFrame:
        return self._read_table(str(database), str(table_name), transformation_ctx,
                                _partition_predicate(push_down_predicate, additional_options),
                                detect_choices=True)

    def create_data_frame_from_catalog(
        self, database: str | None = None, table_name: str | None = None,
        redshift_tmp_dir: str = "", transformation_ctx: str = "", push_down_predicate: str = "",
        additional_options: Mapping[str, Any] | None = None, catalog_id: str | None = None,
        **kwargs: Any,
    ) -> DataFrame:
        """A DataFrame of the table, read as Spark reads (no choice columns)."""
        return self._read_table(str(database), str(table_name), transformation_ctx,
                                _partition_predicate(push_down_predicate, additional_options),
                                detect_choices=False).toDF()

    def create_data_frame_from_options(
        self, connection_type: str, connection_options: Mapping[str, Any] | None = None,
        format: str | None = None, format_options: Mapping[str, Any] | None = None,  # noqa: A002
        transformation_ctx: str = "", **kwargs: Any,
    ) -> DataFrame:
        if connection_type != "s3":
            raise GlueApiNotImplementedError(
                f"create_data_frame.from_options(connection_type={connection_type!r})",
                "read it with spark.read")
        opts = dict(connection_options or {})
        paths = list(opts.get("paths") or ([opts["path"]] if opts.get("path") else []))
        if not paths:
            raise ValueError("create_data_frame.from_options: connection_options needs "
                             "'paths': ['s3://bucket/prefix', ...]")
        files = self._source_files("create_data_frame.from_options", transformation_ctx,
                                   paths, opts)
        return self._read(files, format, dict(format_options or {}), transformation_ctx,
                          detect_choices=False).toDF()

    def create_dynamic_frame_from_rdd(self, data: Any, name: str, schema: Any = None,
                                      sample_ratio: float | None = None,
                                      transformation_ctx: str = "") -> DynamicFrame:
        df = self.spark_session.createDataFrame(data, schema, samplingRatio=sample_ratio)
        return DynamicFrame(df, self, name)

    def get_catalog_schema_as_spark_schema(self, database: str | None = None,
                                           table_name: str | None = None,
                                           catalog_id: str | None = None) -> T.StructType:
        spec = self._table(str(database), str(table_name))
        return T.StructType([T.StructField(c.name, _spark_type(c.type))
                             for c in [*spec.columns, *spec.partition_keys]])

    def _catalog_types(self, database: str | None, table_name: str | None
                       ) -> dict[str, T.DataType]:
        if not database or not table_name:
            raise ValueError("resolveChoice match_catalog needs database and table_name")
        return {f.name: f.dataType
                for f in self.get_catalog_schema_as_spark_schema(database, table_name).fields}

    def _table(self, database: str, table: str) -> TableSpec:
        spec = self._runtime.catalog.get_table(database, table)
        if spec is None:
            raise TableNotFoundError(database, table, self._runtime.catalog.backend_name)
        return spec

    def _bookmarked(self, ctx: str, uris: Sequence[str]) -> list[str]:
        """The local paths to read: every path, or with an enabled bookmark and a
        ``transformation_ctx``, only the files the bookmark has not seen."""
        for uri in uris:
            self._runtime.map_uri(uri)
        local = [self._runtime.local_path(u) for u in uris]
        marks = self._runtime.bookmarks
        if marks is None or not ctx:
            return local
        from lakeforge.bookmarks import list_data_files

        listed = [f for path in local for f in list_data_files(path)]
        return [f.path for f in marks.select(ctx, listed)]

    def _source_files(self, api: str, ctx: str, uris: Sequence[str],
                      opts: Mapping[str, Any]) -> list[str]:
        """The files an S3 source reads, from one listing whether bookmarks are on or off:
        the files directly under each path (every level below with ``recurse``), minus those
        matching an ``exclusions`` glob, minus (with an enabled bookmark and a
        ``transformation_ctx``) those the bookmark has seen."""
        from lakeforge.bookmarks import FileEntry, list_data_files

        _check_source_options(api, opts)
        recurse = opts.get("recurse") in (True, "true", "True")
        exclusions = _exclusion_patterns(api, opts.get("exclusions"))
        listed: list[FileEntry] = []
        for uri in uris:
            self._runtime.map_uri(uri)
            local = self._runtime.local_path(uri)
            base = local.split("://", 1)[-1].rstrip("/")
            # a path naming one object lists that object alone (its ``rel`` is empty)
            for entry in list_data_files(local, recursive=recurse):
                rel = entry.path.split("://", 1)[-1][len(base):].lstrip("/")
                full = f"{uri.rstrip('/')}/{rel}" if rel else uri
                rel = rel or full.rsplit("/", 1)[-1]
                if any(p.fullmatch(rel) or p.fullmatch(full) for p in exclusions):
                    continue
                listed.append(entry)
        marks = self._runtime.bookmarks
        chosen = marks.select(ctx, listed) if marks is not None and ctx else sorted(listed)
        return [f.path for f in chosen]

    def _read_table(self, database: str, table: str, ctx: str, predicate: str,
                    detect_choices: bool) -> DynamicFrame:
        spec = self._table(database, table)
        fmt = spec.format
        fo: dict[str, Any] = {}
        if fmt == "csv":
            fo = {"separator": spec.csv_delimiter, "withHeader": spec.csv_header}
        if not spec.partition_keys:
            if predicate:
                raise ValueError(f"push_down_predicate {predicate!r}: table {database}.{table}"
                                 " has no partition keys to filter on")
            frame = self._read(self._bookmarked(ctx, [spec.location]), fmt, fo, table,
                               detect_choices=detect_choices)
            return _catalog_names(frame, spec)
        parts = self._runtime.catalog.get_partitions(database, table, predicate or None)
        locations = [p.location for p in parts]
        frame = self._read(self._bookmarked(ctx, locations), fmt, fo, table,
                           detect_choices=detect_choices, with_file=True)
        frame = _catalog_names(frame, spec)
        df = frame.toDF()
        for i, key in enumerate(spec.partition_keys):
            value = None
            for p in parts:
                folder = quote(str(Path(self._runtime.local_path(p.location)).resolve()),
                               safe=URI_PATH_SAFE)
                hit = (F.col(FILE_COL).startswith(f"file://{folder}/")
                       | F.col(FILE_COL).startswith(f"file:{folder}/"))
                value = (F.when(hit, F.lit(p.values[i])) if value is None
                         else value.when(hit, F.lit(p.values[i])))
            column = value if value is not None else F.lit(None)
            df = df.withColumn(key.name, cast_or_null(column, _spark_type(key.type)))
        return frame._derive(df.drop(FILE_COL))

    def _read(self, paths: Sequence[str], format: str | None,  # noqa: A002
              format_options: Mapping[str, Any], name: str, *, detect_choices: bool = True,
              with_file: bool = False) -> DynamicFrame:
        spark = self.spark_session
        format_options = _format_options(format_options)
        fmt = (format or "").lower()
        if fmt not in FORMATS:
            raise GlueApiNotImplementedError(
                f"reading format {format!r}",
                f"use one of {sorted(FORMATS)}, or read with spark.read and DynamicFrame.fromDF")
        if not paths:
            return DynamicFrame(spark.createDataFrame([], T.StructType([])), self, name)
        if fmt == "json":
            return self._read_json(list(paths), format_options, name, detect_choices,
                                   with_file)
        if fmt == "csv":
            return self._read_csv(list(paths), format_options, name, detect_choices,
                                  with_file)
        df = spark.read.format(FORMATS[fmt]).load(list(paths))
        if with_file:
            df = df.withColumn(FILE_COL, F.input_file_name())
        return DynamicFrame(df, self, name)

    def _read_json(self, paths: list[str], fo: Mapping[str, Any], name: str,
                   detect_choices: bool, with_file: bool) -> DynamicFrame:
        spark = self.spark_session
        if fo.get("multiLine") in (True, "true", "True") or fo.get("jsonPath"):
            if fo.get("jsonPath"):
                raise GlueApiNotImplementedError(
                    "json format_options jsonPath", "read the records with multiLine and "
                    "select the path from toDF()")
            df = spark.read.option("multiLine", True).json(paths)
            if with_file:
                df = df.withColumn(FILE_COL, F.input_file_name())
            return DynamicFrame(df, self, name)
        raw = spark.read.text(paths).filter(F.trim("value") != "")
        if with_file:
            raw = raw.withColumn(FILE_COL, F.input_file_name())
        inferred = spark.read.json(paths).schema
        schema = T.StructType([f for f in inferred.fields if f.name != "_corrupt_record"])
        valid = F.json_object_keys("value").isNotNull()
        errors = raw.filter(~valid).select(F.col("value").alias("_corrupt_record"))
        good = raw.filter(valid)
        choices = choice_mod.json_choices(good, schema) if detect_choices else {}
        parsed = good.select("*", F.from_json("value", schema).alias("_r"))
        cols = [choice_mod.json_choice_column(F.col("value"), f.name, choices[f.name])
                .alias(f.name) if f.name in choices
                else F.col("_r").getField(f.name).alias(f.name) for f in schema.fields]
        if with_file:
            cols.append(F.col(FILE_COL))
        return DynamicFrame(parsed.select(*cols), self, name, choices, errors)

    def _read_csv(self, paths: list[str], fo: Mapping[str, Any], name: str,
                  detect_choices: bool, with_file: bool) -> DynamicFrame:
        spark = self.spark_session
        header = fo.get("withHeader") in (True, "true", "True")
        skip_first = fo.get("skipFirst") in (True, "true", "True")
        reader = (spark.read.option("sep", fo.get("separator", ","))
                  .option("quote", _quote_char(fo))
                  .option("header", header or skip_first)
                  .option("multiLine", fo.get("multiLine") in (True, "true", "True")))
        if fo.get("escaper"):
            reader = reader.option("escape", fo["escaper"])
        df = reader.csv(paths)
        if not header:
            df = df.toDF(*[f"col{i}" for i in range(len(df.columns))])
        kinds = choice_mod.text_types(df, df.columns)
        cols = []
        choices = {}
        for c in df.columns:
            members = kinds.get(c, ("string",))
            if len(members) == 1:
                cols.append(cast_or_null(F.col(f"`{c}`"), choice_mod.MEMBER_TYPES[members[0]])
                            .alias(c) if members[0] != "string" else F.col(f"`{c}`"))
            elif detect_choices:
                choices[c] = members
                cols.append(choice_mod.text_choice_column(c, members).alias(c))
            else:
                cols.append(F.col(f"`{c}`"))
        if with_file:
            cols.append(F.input_file_name().alias(FILE_COL))
        return DynamicFrame(df.select(*cols), self, name, choices)

    # ------------------------------------------------------------------ writing

    def write_dynamic_frame_from_options(
        self, frame: DynamicFrame, connection_type: str,
        connection_options: Mapping[str, Any] | None = None, format: str | None = None,  # noqa: A002
        format_options: Mapping[str, Any] | None = None, transformation_ctx: str = "",
    ) -> DynamicFrame:
        _require_frame("write_dynamic_frame.from_options", frame)
        opts = dict(connection_options or {})
        if connection_type in JDBC_TYPES:
            return self._write_jdbc(frame, connection_type, opts)
        if connection_type != "s3":
            raise GlueApiNotImplementedError(
                f"write_dynamic_frame.from_options(connection_type={connection_type!r})",
                "write toDF() with Spark's own writer, or mock the write in tests")
        path = opts.get("path")
        if not path:
            raise ValueError("write_dynamic_frame.from_options: connection_options needs "
                             "'path': 's3://bucket/prefix'")
        keys = list(opts.get("partitionKeys") or [])
        update_schema = _updates_schema(opts)
        fo = dict(format_options or {})
        if opts.get("compression") and not fo.get("compression"):
            # Glue's S3 sink option (Glue Studio writes it there): "gzip" or "bzip"
            fo["compression"] = _SINK_CODECS.get(str(opts["compression"]).lower(),
                                                 str(opts["compression"]))
        self._write_files(frame.toDF(), str(path), format, fo, keys)
        if opts.get("enableUpdateCatalog") in (True, "true", "True"):
            database, table = opts.get("database"), opts.get("tableName")
            if not database or not table:
                raise ValueError("enableUpdateCatalog needs 'database' and 'tableName' in "
                                 "connection_options (or getSink(...).setCatalogInfo)")
            self._register(frame.toDF(), str(database), str(table), str(path), format, keys,
                           update_schema=update_schema)
        return frame

    def write_dynamic_frame_from_catalog(
        self, frame: DynamicFrame, database: str | None = None, table_name: str | None = None,
        redshift_tmp_dir: str = "", transformation_ctx: str = "",
        additional_options: Mapping[str, Any] | None = None, catalog_id: str | None = None,
        **kwargs: Any,
    ) -> DynamicFrame:
        """Append ``frame`` to a catalog table: a crawled table gets files in its folder and
        its new partitions registered; a new or published table is published (append)."""
        from lakeforge.publish import publish_partitioned

        _require_frame("write_dynamic_frame.from_catalog", frame)
        db, table = str(database), str(table_name)
        opts = dict(additional_options or {})
        spec = self._runtime.catalog.get_table(db, table)
        df = frame.toDF()
        if spec is not None and "lakeforge.version" not in spec.parameters:
            keys = [k.name for k in spec.partition_keys]
            update_schema = _updates_schema(opts)
            df = _in_table_order(df, spec)
            fo: dict[str, Any] = {"separator": spec.csv_delimiter,
                                  "writeHeader": spec.csv_header}
            if spec.compression:
                fo["compression"] = spec.compression
            self._write_files(df, spec.location, spec.format, fo, keys)
            self._register(df, db, table, spec.location, spec.format, keys,
                           update_schema=update_schema, existing=spec)
            return frame
        keys = list(opts.get("partitionKeys") or
                    ([k.name for k in spec.partition_keys] if spec else []))
        if not self._runtime.catalog.database_exists(db):
            self._runtime.catalog.create_database(db)
        publish_partitioned(df, database=db, table=table, partition_by=keys,
                            catalog=self._runtime.catalog, lake=self._runtime.lake,
                            mode="append", allow_empty=True, run_id=self._runtime.run_id)
        return frame

    def write_data_frame_from_catalog(self, frame: DataFrame, database: str | None = None,
                                      table_name: str | None = None, **kwargs: Any) -> DataFrame:
        self.write_dynamic_frame_from_catalog(DynamicFrame(frame, self), database, table_name,
                                              **kwargs)
        return frame

    def write_dynamic_frame_from_jdbc_conf(self, frame: DynamicFrame, catalog_connection: str,
                                           connection_options: Mapping[str, Any] | None = None,
                                           redshift_tmp_dir: str = "",
                                           transformation_ctx: str = "") -> DynamicFrame:
        raise GlueApiNotImplementedError(
            f"write_dynamic_frame.from_jdbc_conf(catalog_connection={catalog_connection!r})",
            "Glue connections do not exist locally: write with "
            "write_dynamic_frame.from_options(connection_type='postgresql', connection_options="
            "{'url': ..., 'dbtable': ..., 'user': ..., 'password': ...}) or mock it in tests")

    def write_from_options(self, frame_or_dfc: Any, connection_type: str,
                           connection_options: Mapping[str, Any] | None = None,
                           format: str | None = None,  # noqa: A002
                           format_options: Mapping[str, Any] | None = None,
                           transformation_ctx: str = "", **kwargs: Any) -> Any:
        if isinstance(frame_or_dfc, DynamicFrameCollection):
            raise GlueApiNotImplementedError(
                "write_from_options(DynamicFrameCollection)", "write each frame of the "
                "collection with write_dynamic_frame.from_options")
        return self.write_dynamic_frame_from_options(frame_or_dfc, connection_type,
                                                     connection_options, format,
                                                     format_options, transformation_ctx)

    def getSink(self, connection_type: str, format: str | None = None,  # noqa: N802, A002
                transformation_ctx: str = "", **options: Any) -> DataSink:
        return DataSink(self, connection_type, format, transformation_ctx, options)

    def getSource(self, connection_type: str, format: str | None = None,  # noqa: N802, A002
                  transformation_ctx: str = "", push_down_predicate: str = "",
                  **options: Any) -> DataSource:
        return DataSource(self, connection_type, format, transformation_ctx, options)

    def _write_files(self, df: DataFrame, path: str, format: str | None,  # noqa: A002
                     fo: Mapping[str, Any], keys: Sequence[str]) -> None:
        fo = _format_options(fo)
        fmt = (format or "").lower()
        if fmt not in FORMATS:
            raise GlueApiNotImplementedError(
                f"writing format {format!r}", f"use one of {sorted(FORMATS)}")
        self._runtime.map_uri(path)
        writer = df.write.mode("append").format(FORMATS[fmt])
        if keys:
            writer = writer.partitionBy(*keys)
        if fmt == "csv":
            writer = (writer.option("sep", fo.get("separator", ","))
                      .option("quote", _quote_char(fo))
                      .option("header", fo.get("writeHeader", True) in (True, "true", "True")))
        if fo.get("compression"):
            writer = writer.option("compression", fo["compression"])
        writer.save(path if split_s3_uri(path) else self._runtime.local_path(path))

    def _register(self, df: DataFrame, database: str, table: str, path: str,
                  format: str | None, keys: Sequence[str], *,  # noqa: A002
                  update_schema: bool, existing: TableSpec | None = None) -> None:
        """Register files written under ``path`` as ``database.table`` (and its partitions);
        ``existing``: the table's definition when the caller has just read it.

        A table the catalog already has keeps its definition (format, SerDe settings such as
        the CSV delimiter and header, compression, parameters, column types): only its new
        partitions are added, and with ``update_schema`` (Glue's ``enableUpdateCatalog`` with
        ``updateBehavior`` UPDATE_IN_DATABASE) the frame's new columns are appended."""
        from lakeforge.catalog.athena_schema import athena_type_string
        from lakeforge.paths import partition_path

        catalog = self._runtime.catalog
        location = self._runtime.local_path(path)
        types = {f.name: athena_type_string(f.dataType) for f in df.schema.fields}
        existing = existing or catalog.get_table(database, table)
        if existing is None:
            fmt = FORMATS.get((format or "parquet").lower(), "parquet")
            spec = TableSpec(database=database, name=table,
                             columns=[CatalogColumn(n, t) for n, t in types.items()
                                      if n not in keys],
                             location=location,
                             partition_keys=[CatalogColumn(k, types[k]) for k in keys],
                             format=_TABLE_FORMATS.get(fmt, "parquet"))
            if not catalog.database_exists(database):
                catalog.create_database(database)
            catalog.create_or_update_table(spec)
        else:
            known = {c.name.lower() for c in [*existing.columns, *existing.partition_keys]}
            added = [CatalogColumn(n, t) for n, t in types.items()
                     if n.lower() not in known and n not in keys]
            if added and update_schema:
                log.info("table %s: column(s) %s added (enableUpdateCatalog)",
                         existing.qualified_name, [c.name for c in added])
                catalog.create_or_update_table(
                    dataclasses.replace(existing, columns=[*existing.columns, *added]))
            elif added:
                log.warning("table %s: the frame's column(s) %s are not in the table and the "
                            "table is left as it is (Glue updates it only with "
                            "enableUpdateCatalog and updateBehavior UPDATE_IN_DATABASE)",
                            existing.qualified_name, [c.name for c in added])
            keys = [k.name for k in existing.partition_keys]
            location = existing.location
        if keys:
            values = [tuple(None if v is None else str(v) for v in row)
                      for row in df.select(*keys).distinct().collect()]
            catalog.add_partitions(database, table, [
                Partition(v, partition_path(location, dict(zip(keys, v, strict=True))))
                for v in values])

    def _write_jdbc(self, frame: DynamicFrame, connection_type: str,
                    opts: Mapping[str, Any]) -> DynamicFrame:
        url, table = opts.get("url"), opts.get("dbtable")
        if not url or not table:
            raise ValueError(f"write_dynamic_frame.from_options({connection_type!r}): "
                             "connection_options needs 'url' and 'dbtable'")
        props = {k: str(v) for k, v in opts.items() if k in ("user", "password", "driver")}
        try:
            frame.toDF().write.mode("append").jdbc(str(url), str(table), properties=props)
        except Exception as exc:
            raise RuntimeError(f"{connection_type} sink {table}: {exc}; the JDBC driver jar "
                               "must be in spark.jars") from exc
        return frame

    # ------------------------------------------------------------------ housekeeping

    def purge_s3_path(self, s3_path: str, options: Mapping[str, Any] | None = None,
                      transformation_ctx: str = "") -> None:
        """Delete the files under ``s3_path`` older than ``retentionPeriod`` hours (default
        168, as Glue)."""
        opts = dict(options or {})
        _refuse_options("purge_s3_path", opts, ("retentionPeriod", "excludeStorageClasses"))
        if self._runtime.endpoint_url is not None:
            raise GlueApiNotImplementedError("purge_s3_path with an S3 endpoint",
                                             "delete the objects with boto3")
        self._runtime.map_uri(s3_path)
        _purge(self._runtime.local_path(s3_path),
               float(opts.get("retentionPeriod", DEFAULT_RETENTION_HOURS)))

    def purge_table(self, database: str, table_name: str,
                    options: Mapping[str, Any] | None = None, transformation_ctx: str = "",
                    catalog_id: str | None = None) -> None:
        """Delete the table's files (of the partitions matching ``partitionPredicate``) older
        than ``retentionPeriod`` hours; the catalog entries stay, as on Glue."""
        opts = dict(options or {})
        _refuse_options("purge_table", opts, ("retentionPeriod", "partitionPredicate",
                                              "excludeStorageClasses"))
        spec = self._table(database, table_name)
        hours = float(opts.get("retentionPeriod", DEFAULT_RETENTION_HOURS))
        if spec.partition_keys:
            for p in self._runtime.catalog.get_partitions(
                    database, table_name, opts.get("partitionPredicate") or None):
                _purge(self._runtime.local_path(p.location), hours)
        else:
            _purge(self._runtime.local_path(spec.location), hours)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        from pyspark.sql import SQLContext

        if hasattr(SQLContext, name):  # Glue's GlueContext is a SQLContext
            if self._sql_context is None:
                self._sql_context = SQLContext(self._sc, self.spark_session)
            return getattr(self._sql_context, name)
        raise GlueApiNotImplementedError(
            f"GlueContext.{name}", "use spark_session for Spark calls, or open an issue "
            "naming this Glue API")


class DataFrameReader:
    """``glue_context.create_data_frame``."""

    def __init__(self, glue_context: GlueContext) -> None:
        self._glue_context = glue_context

    def from_catalog(self, database: str | None = None, table_name: str | None = None,
                     **kwargs: Any) -> DataFrame:
        return self._glue_context.create_data_frame_from_catalog(database, table_name, **kwargs)

    def from_options(self, connection_type: str, connection_options: Any = None,
                     format: str | None = None, format_options: Any = None,  # noqa: A002
                     transformation_ctx: str = "", **kwargs: Any) -> DataFrame:
        return self._glue_context.create_data_frame_from_options(
            connection_type, connection_options, format, format_options, transformation_ctx)


class DataFrameWriter:
    """``glue_context.write_data_frame``."""

    def __init__(self, glue_context: GlueContext) -> None:
        self._glue_context = glue_context

    def from_catalog(self, frame: DataFrame, database: str | None = None,
                     table_name: str | None = None, **kwargs: Any) -> DataFrame:
        return self._glue_context.write_data_frame_from_catalog(frame, database, table_name,
                                                                **kwargs)


class _Endpoint:
    """What getSink and getSource share: the connection, format and options."""

    def __init__(self, ctx: GlueContext, connection_type: str, format: str | None,  # noqa: A002
                 transformation_ctx: str, options: Mapping[str, Any]) -> None:
        self._ctx = ctx
        self.connection_type = connection_type
        self.format = format
        self.format_options: dict[str, Any] = {}
        self.options = dict(options)
        self.transformation_ctx = transformation_ctx

    def setFormat(self, format: str, **options: Any) -> None:  # noqa: N802, A002
        self.format = format
        self.format_options = dict(options)


class DataSink(_Endpoint):
    """``glue_context.getSink(...)``: setFormat, setCatalogInfo, writeFrame."""

    def setCatalogInfo(self, catalogDatabase: str, catalogTableName: str,  # noqa: N802, N803
                       catalogId: str | None = None) -> None:  # noqa: N803
        self.options["database"] = catalogDatabase
        self.options["tableName"] = catalogTableName

    def writeFrame(self, dynamic_frame: DynamicFrame, info: str = "") -> DynamicFrame:  # noqa: N802
        return self._ctx.write_dynamic_frame_from_options(
            dynamic_frame, self.connection_type, self.options, self.format,
            self.format_options, self.transformation_ctx)

    def write(self, frame_or_dfc: Any, info: str = "") -> Any:
        if isinstance(frame_or_dfc, DynamicFrameCollection):
            return {k: self.writeFrame(v) for k, v in frame_or_dfc._frames.items()}
        return self.writeFrame(frame_or_dfc)


class DataSource(_Endpoint):
    """``glue_context.getSource(...)``: setFormat, getFrame."""

    def getFrame(self) -> DynamicFrame:  # noqa: N802
        return self._ctx.create_dynamic_frame_from_options(
            self.connection_type, self.options, self.format, self.format_options,
            self.transformation_ctx)


def _partition_predicate(push_down_predicate: str,
                         additional_options: Mapping[str, Any] | None) -> str:
    """The partitions a catalog read selects: ``push_down_predicate`` and the
    ``catalogPartitionPredicate`` additional option (Glue prunes with it on the server, with
    the table's partition indexes), both holding."""
    parts = [str(p) for p in (push_down_predicate,
                              (additional_options or {}).get("catalogPartitionPredicate")) if p]
    return parts[0] if len(parts) == 1 else " AND ".join(f"({p})" for p in parts)


def _require_frame(api: str, frame: Any) -> None:
    """Glue's writers take a DynamicFrame (awsglue raises TypeError for anything else)."""
    if not isinstance(frame, DynamicFrame):
        raise TypeError(f"{api}: frame must be a DynamicFrame, got {type(frame).__name__}; "
                        "wrap a DataFrame with DynamicFrame.fromDF(df, glue_context, name) "
                        "(write_data_frame.from_catalog takes a DataFrame)")


# Glue reads format option names whatever their case (Glue Studio writes JSON's multiLine as
# "multiline"); the reader and writer look them up by these spellings.
_FORMAT_OPTION_NAMES = {name.lower(): name for name in (
    "multiLine", "withHeader", "skipFirst", "separator", "quoteChar", "escaper", "writeHeader",
    "compression", "jsonPath")}


def _format_options(fo: Mapping[str, Any]) -> dict[str, Any]:
    """``fo`` with the option names the runtime reads in their documented spelling."""
    return {_FORMAT_OPTION_NAMES.get(str(k).lower(), k): v for k, v in fo.items()}


def _quote_char(fo: Mapping[str, Any]) -> str:
    """Spark's ``quote`` for Glue's ``quoteChar`` (default ``"``): Glue's ``-1`` turns quoting
    off, which Spark spells as an empty string."""
    value = fo.get("quoteChar", '"')
    return "" if str(value) == "-1" else str(value)


# Glue's names of the S3 sink's ``compression`` values that Spark spells differently.
_SINK_CODECS = {"bzip": "bzip2"}


def _source_name(paths: Sequence[str]) -> str:
    """The name Glue gives a frame read from S3 ``paths``: their common prefix without the
    scheme, ``:``, ``/`` and ``.`` (``s3://shop/prices/`` -> ``shopprices``)."""
    prefix = os.path.commonprefix([str(p) for p in paths]).split(":")[-1]
    return re.sub(r"[:/.]", "", prefix)


def _spark_type(hive_type: str) -> T.DataType:
    from pyspark.sql.types import _parse_datatype_string

    return _parse_datatype_string(hive_type)


def _catalog_names(frame: DynamicFrame, spec: TableSpec) -> DynamicFrame:
    """CSV columns named as the catalog records them (by position, as Glue reads them)."""
    if spec.format != "csv":
        return frame
    df = frame.toDF()
    data_cols = [c for c in df.columns if c != FILE_COL]
    names = [c.name for c in spec.columns]
    if len(names) != len(data_cols):
        raise ValueError(f"table {spec.qualified_name}: the catalog has {len(names)} columns, "
                         f"the files {len(data_cols)}; recrawl the table")
    renames = dict(zip(data_cols, names, strict=True))
    out = df.toDF(*[renames.get(c, c) for c in df.columns])
    return frame._derive(out, renames=renames)


def _updates_schema(opts: Mapping[str, Any]) -> bool:
    """Glue's update-from-job rule: the table schema changes only with ``enableUpdateCatalog``
    and ``updateBehavior`` UPDATE_IN_DATABASE (its default); ``LOG`` keeps the schema."""
    if opts.get("enableUpdateCatalog") not in (True, "true", "True"):
        return False
    behavior = str(opts.get("updateBehavior", "UPDATE_IN_DATABASE"))
    if behavior not in ("UPDATE_IN_DATABASE", "LOG"):
        raise ValueError(f"updateBehavior {behavior!r}: use 'UPDATE_IN_DATABASE' or 'LOG'")
    return behavior == "UPDATE_IN_DATABASE"


def _in_table_order(df: DataFrame, spec: TableSpec) -> DataFrame:
    """``df``'s columns in the table's column order (by name, case-insensitively, as the
    catalog stores names in lower case), then the columns the table lacks: a headerless CSV
    file is read by position, so its fields must be written in the table's order."""
    by_lower = {c.lower(): c for c in df.columns}
    ordered = [by_lower.pop(c.name.lower()) for c in spec.columns if c.name.lower() in by_lower]
    keys = {k.name.lower() for k in spec.partition_keys}
    rest = [c for c in by_lower.values() if c.lower() not in keys]
    tail = [c for c in by_lower.values() if c.lower() in keys]
    return df.select(*[F.col(f"`{c}`") for c in [*ordered, *rest, *tail]])


# Glue's S3 source options (Amazon S3 connection option reference). awsglue hands every
# connection option to the JVM as JSON and Glue ignores names it does not know; so does this
# runtime (with a warning). Known options it does not implement raise.
_S3_SOURCE_DONE = ("paths", "path", "recurse", "exclusions")
_S3_SOURCE_NO_OP = {
    "groupFiles": "file grouping changes partitioning only",
    "groupSize": "file grouping changes partitioning only",
    "maxBand": "local listings are consistent",
    "maxFilesInBand": "local listings are consistent",
    "useS3ListImplementation": "the listing is local",
    "excludeStorageClasses": "local files have no storage class",
    "compressionType": "Spark decompresses by the file extension",
}
_S3_SOURCE_REFUSED = ("isFailFast", "attachFilename", "attachTimestamp", "boundedFiles",
                      "boundedSize", "catalogPartitionPredicate")


def _check_source_options(api: str, opts: Mapping[str, Any]) -> None:
    refused = sorted(k for k in opts if k in _S3_SOURCE_REFUSED)
    if refused:
        raise GlueApiNotImplementedError(
            f"{api} connection option(s) {refused}",
            f"the local runtime implements {list(_S3_SOURCE_DONE)} and ignores "
            f"{sorted(_S3_SOURCE_NO_OP)}")
    for key in opts:
        if key in _S3_SOURCE_NO_OP:
            log.info("%s: connection option %r has no effect locally (%s)", api, key,
                     _S3_SOURCE_NO_OP[key])
        elif key not in _S3_SOURCE_DONE:
            log.warning("%s: connection option %r is not an S3 source option; Glue ignores "
                        "it, and so does the local runtime", api, key)


def _exclusion_patterns(api: str, value: Any) -> list[re.Pattern[str]]:
    """``exclusions``: a JSON list of globs (Glue's form, ``"[\"**.pdf\"]"``) or a list."""
    if value is None or value == "":
        return []
    globs = value
    if isinstance(value, str):
        try:
            globs = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{api}: connection option 'exclusions' {value!r} is not a JSON "
                             f"list of glob patterns, e.g. '[\"**.pdf\"]' ({exc})") from exc
    if not isinstance(globs, list) or not all(isinstance(g, str) for g in globs):
        raise ValueError(f"{api}: connection option 'exclusions' must be a list of glob "
                         f"patterns, got {value!r}")
    return [glob_to_regex(g) for g in globs]


def _refuse_options(api: str, opts: Mapping[str, Any], known: Sequence[str]) -> None:
    unknown = sorted(set(opts) - set(known))
    if unknown:
        raise GlueApiNotImplementedError(f"{api} options {unknown}",
                                         f"the local runtime supports {list(known)}")


def _purge(folder: str, retention_hours: float) -> int:
    """Delete files under ``folder`` last modified more than ``retention_hours`` ago."""
    cutoff = time.time() - retention_hours * 3600
    deleted = 0
    root = Path(folder)
    if not root.exists():
        return 0
    for path in sorted(root.rglob("*"), reverse=True):
        if path.is_file() and path.stat().st_mtime <= cutoff:
            path.unlink()
            deleted += 1
        elif path.is_dir() and not any(path.iterdir()):
            os.rmdir(path)
    log.info("purged %d file(s) under %s (older than %s h)", deleted, folder, retention_hours)
    return deleted
