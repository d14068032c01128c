"""Bulk partition registration in the embedded (local) Derby Hive metastore.

Hive's metastore adds partitions one object at a time through DataNucleus: ~10-40 ms per
partition whatever the batching, so registering 10,000 partitions locally takes minutes while
listing them takes a second. This module is the local fast path: it clones the metastore rows
of one partition Hive itself added (the *template*: the table's latest partition whose storage
still equals the table's, or for a table without one the first partition of the batch, added
with DDL) for every partition of the batch, with set-based ``INSERT ... SELECT`` statements in
ONE Derby transaction:

* the variable data (partition name, location, key values) is written to a CSV file and loaded
  into a scratch table with Derby's ``SYSCS_UTIL.SYSCS_IMPORT_TABLE``;
* ids come from DataNucleus's own ``SEQUENCE_TABLE``, reserved in the same transaction (a range
  above every id DataNucleus may still hand out from its cached block);
* every column not explicitly overridden is copied from the template row, so whatever Hive
  writes for a partition of this table (SerDe, formats, SerDe parameters) is reproduced exactly;
* what Hive's metastore does per partition is done here too: a missing folder is created, and
  an existing one gets Hive's quick statistics (``numFiles``, ``totalSize``, from a recursive
  listing that skips names starting with '_' or '.').

It is used only when it can be exact, and otherwise reports :class:`BulkUnavailable` so that the
caller falls back to Spark SQL DDL:

* the session's metastore is the embedded Derby database (``jdbc:derby:`` without a host) of
  Spark's built-in Hive client: on EMR / Glue the metastore is the Glue Data Catalog and this
  module is never used;
* the template partition has no rows in tables this module does not clone (bucketing, sort
  columns, skew, privileges, column statistics) and no partition parameters but Hive's
  ``transient_lastDdlTime`` and quick statistics;
* every partition value is in its canonical form for its key type (string keys: any value;
  integral keys: ``-?[0-9]+`` without leading zeros; date keys: ``YYYY-MM-DD``) and every
  location has the same prefix as the template's and only characters that Hadoop's ``Path``
  keeps as they are, on the local file system (the stored form, e.g. ``file:/x`` for ``/x``, is
  Hive's ``Warehouse.getDnsPath`` of the first location, computed in the JVM).

The transaction either adds all partitions or none (Derby rolls back on any error, including a
partition that exists already: ``PARTITIONS`` has a unique index on name and table).
"""

from __future__ import annotations

import csv
import datetime as dt
import logging
import os
import re
import tempfile
import time
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pyarrow.fs as pafs

from lakeforge.paths import HIVE_DEFAULT_PARTITION, escape_partition_value

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)

_MODEL = "org.apache.hadoop.hive.metastore.model."
_SEQUENCES = {"PART_ID": _MODEL + "MPartition", "SD_ID": _MODEL + "MStorageDescriptor",
              "SERDE_ID": _MODEL + "MSerDeInfo"}
# Child tables whose template rows must be absent (not cloned): table -> foreign key column.
_MUST_BE_EMPTY = {
    "BUCKETING_COLS": "SD_ID", "SORT_COLS": "SD_ID", "SKEWED_COL_NAMES": "SD_ID",
    "SKEWED_VALUES": "SD_ID_OID", "SKEWED_COL_VALUE_LOC_MAP": "SD_ID",
    "PART_PRIVS": "PART_ID", "PART_COL_PRIVS": "PART_ID", "PART_COL_STATS": "PART_ID",
}
_INTEGRAL = {"tinyint", "smallint", "int", "integer", "bigint"}
_CANONICAL_INT = re.compile(r"^-?(0|[1-9][0-9]*)$")
# Characters a location may hold for the fast path (Hadoop Path / java.net.URI keep them as is).
_SAFE_LOCATION = re.compile(r"^[A-Za-z0-9/_.=:+,@~-]+$")
_DDL_TIME = "transient_lastDdlTime"
# Hive's "quick stats": set by the metastore on every added partition whose folder existed.
_QUICK_STATS = ("numFiles", "totalSize")


class BulkUnavailable(Exception):
    """The fast path does not apply (the message says why); use Spark SQL DDL instead."""


class NoTemplate(BulkUnavailable):
    """No registered partition can serve as the template: let Hive add one first."""


def derby_url(spark: SparkSession) -> str | None:
    """The embedded Derby metastore's JDBC URL (without ``create=true``), or None."""
    conf = spark.sparkContext.getConf()
    if spark.conf.get("spark.sql.catalogImplementation", "in-memory") != "hive":
        return None
    if conf.get("spark.sql.hive.metastore.jars", "builtin") != "builtin":
        return None
    url = conf.get("spark.hadoop.javax.jdo.option.ConnectionURL", None)
    if not url or not url.startswith("jdbc:derby:") or url.startswith("jdbc:derby://"):
        return None
    parts = [p for p in url.split(";") if p and p.lower() != "create=true"]
    return ";".join(parts)


def canonical_values(values: Sequence[str | None], key_types: Sequence[str]) -> bool:
    """Whether Spark would store ``values`` unchanged for keys of ``key_types``."""
    for value, key_type in zip(values, key_types, strict=True):
        if value is None or value == HIVE_DEFAULT_PARTITION:
            continue
        if value == "" or "\x00" in value:
            return False
        kind = key_type.strip().lower()
        if kind == "string" or kind.startswith(("varchar", "char")):
            continue
        if kind in _INTEGRAL:
            if not _CANONICAL_INT.match(value):
                return False
        elif kind == "date":
            try:
                if dt.date.fromisoformat(value).isoformat() != value:
                    return False
            except ValueError:
                return False
        else:
            return False
    return True


def part_name(keys: Sequence[str], values: Sequence[str | None]) -> str:
    """Hive's ``Warehouse.makePartName``: lower-case keys, escaped values, '/'-joined."""
    return "/".join(f"{escape_partition_value(k.lower())}={escape_partition_value(v)}"
                    for k, v in zip(keys, values, strict=True))


def quick_stats(location: str) -> tuple[str, str]:
    """What Hive's metastore records for an added partition's folder (``numFiles``,
    ``totalSize``: files below it, recursively, names starting with '_' or '.' skipped at every
    level), or ('', '') when the folder does not exist: Hive then creates it and records no
    statistics - so does this function."""
    if not location.startswith(("file:", "/")):
        raise BulkUnavailable(f"location {location} is not on the local file system")
    path = location[len("file:"):] if location.startswith("file:") else location
    fs = pafs.LocalFileSystem()
    info = fs.get_file_info(path)
    if info.type == pafs.FileType.NotFound:
        fs.create_dir(path, recursive=True)
        return "", ""
    if info.type != pafs.FileType.Directory:
        raise BulkUnavailable(f"partition location {location} is not a folder")
    count = size = 0
    for entry in fs.get_file_info(pafs.FileSelector(path, recursive=True)):
        relative = entry.path[len(path):].strip("/").split("/")
        if entry.type != pafs.FileType.File or any(p.startswith(("_", ".")) for p in relative):
            continue
        count += 1
        size += entry.size or 0
    return str(count), str(size)


class DerbyBulkRegistrar:
    """Clone a template partition's metastore rows for many partitions in one transaction."""

    def __init__(self, spark: SparkSession, url: str) -> None:
        self.spark = spark
        self.url = url
        self._jvm: Any = spark.sparkContext._jvm  # type: ignore[attr-defined]

    # ------------------------------------------------------------------ JDBC helpers

    @staticmethod
    def _prepare(conn: Any, sql: str, params: Sequence[Any]) -> Any:
        ps = conn.prepareStatement(sql)
        for i, p in enumerate(params, start=1):
            if isinstance(p, int):
                ps.setLong(i, p)
            else:
                ps.setString(i, p)
        return ps

    @classmethod
    def _rows(cls, conn: Any, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        ps = cls._prepare(conn, sql, params)
        try:
            rs = ps.executeQuery()
            width = rs.getMetaData().getColumnCount()
            out = []
            while rs.next():
                out.append(tuple(rs.getString(c) for c in range(1, width + 1)))
            return out
        finally:
            ps.close()

    @classmethod
    def _update(cls, conn: Any, sql: str, *params: Any) -> int:
        ps = cls._prepare(conn, sql, params)
        try:
            return int(ps.executeUpdate())
        finally:
            ps.close()

    def _columns(self, conn: Any) -> dict[str, list[str]]:
        rows = self._rows(
            conn, "SELECT t.TABLENAME, c.COLUMNNAME, c.COLUMNNUMBER FROM SYS.SYSTABLES t "
                  "JOIN SYS.SYSCOLUMNS c ON c.REFERENCEID = t.TABLEID "
                  "JOIN SYS.SYSSCHEMAS s ON s.SCHEMAID = t.SCHEMAID "
                  "WHERE s.SCHEMANAME = CURRENT SCHEMA AND t.TABLETYPE = 'T'")
        tables: dict[str, list[tuple[int, str]]] = {}
        for table, column, number in rows:
            tables.setdefault(table, []).append((int(number), column))
        return {t: [c for _, c in sorted(cols)] for t, cols in tables.items()}

    def _insert_clone(self, conn: Any, table: str, columns: list[str], source: str,
                      overrides: dict[str, str], where: str, *params: Any) -> int:
        """``INSERT INTO table SELECT <overrides or t.col> FROM stage s, table t WHERE ...``."""
        exprs = [overrides.get(c, f"t.{c}") for c in columns]
        sql = (f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(exprs)} "
               f"FROM {source} s, {table} t WHERE {where}")
        return self._update(conn, sql, *params)

    # ------------------------------------------------------------------ the fast path

    def add(self, database: str, table: str, keys: Sequence[str],
            partitions: Sequence[tuple[Sequence[str | None], str]],
            template: str | None = None) -> int:
        """Add ``partitions`` ((values, location) pairs, none registered yet) to
        ``database.table`` by cloning the partition named ``template`` (just added by Hive), or
        with no name the table's latest partition whose storage still equals the table's (what
        Hive would copy for a new one). :class:`NoTemplate` when there is none. Returns how
        many were added."""
        if not partitions:
            return 0
        started = time.perf_counter()
        conn = self._jvm.java.sql.DriverManager.getConnection(self.url)
        stage = f"LF_STAGE_{uuid.uuid4().hex[:12].upper()}"
        fd, csv_path = tempfile.mkstemp(prefix="lakeforge-partitions-", suffix=".csv")
        try:
            columns = self._columns(conn)
            for needed in ("TBLS", "DBS", "PARTITIONS", "SDS", "SERDES", "SEQUENCE_TABLE",
                           "PARTITION_KEY_VALS", "PARTITION_PARAMS", "SERDE_PARAMS"):
                if needed not in columns:
                    raise BulkUnavailable(f"metastore table {needed} not found")
            tmpl = (self._template(conn, columns, database, table, template) if template
                    else self._current_template(conn, columns, database, table))
            given = partitions[0][1]
            rows = self._stage_rows(keys, (given, self.qualify(given)), partitions)
            with os.fdopen(fd, "w", newline="", encoding="utf-8") as handle:
                writer = csv.writer(handle, quoting=csv.QUOTE_ALL, lineterminator="\n")
                writer.writerows(rows)
            fd = -1
            value_columns = ", ".join(f"V{i} VARCHAR(256)" for i in range(len(keys)))
            conn.createStatement().execute(
                f"CREATE TABLE {stage} (IDX BIGINT, PART_NAME VARCHAR(767), "
                f"LOCATION VARCHAR(4000), NUM_FILES VARCHAR(20), TOTAL_SIZE VARCHAR(20), "
                f"{value_columns})")
            call = conn.prepareCall(
                "CALL SYSCS_UTIL.SYSCS_IMPORT_TABLE(NULL, ?, ?, ',', '\"', 'UTF-8', 0)")
            call.setString(1, stage)
            call.setString(2, csv_path)
            call.execute()  # Derby commits the import itself
            call.close()
            conn.setAutoCommit(False)
            try:
                self._clone(conn, columns, stage, tmpl, len(keys), len(rows))
                conn.commit()
            except Exception:
                conn.rollback()
                raise
        except BulkUnavailable:
            raise
        except Exception as exc:
            raise BulkUnavailable(f"bulk insert into the Derby metastore failed: "
                                  f"{str(exc).strip().splitlines()[0][:300]}") from exc
        finally:
            if fd != -1:
                os.close(fd)
            os.unlink(csv_path)
            try:
                conn.setAutoCommit(True)
                conn.createStatement().execute(f"DROP TABLE {stage}")
            except Exception:  # the stage table was never created
                log.debug("no stage table %s to drop", stage)
            conn.close()
        log.info("%s.%s: %d partitions cloned into the Derby metastore in %.2fs",
                 database, table, len(partitions), time.perf_counter() - started)
        return len(partitions)

    def qualify(self, location: str) -> str:
        """The location as the metastore stores it: Hive's ``Warehouse.getDnsPath`` (the file
        system's scheme and authority, the path of ``location``)."""
        jvm = self._jvm
        path = jvm.org.apache.hadoop.fs.Path(location)
        conf = self.spark.sparkContext._jsc.hadoopConfiguration()  # type: ignore[attr-defined]
        fs_uri = path.getFileSystem(conf).getUri()
        return str(jvm.org.apache.hadoop.fs.Path(fs_uri.getScheme(), fs_uri.getAuthority(),
                                                  path.toUri().getPath()).toString())

    _PARTITION = ("SELECT p.PART_ID, p.SD_ID, p.TBL_ID, s.SERDE_ID FROM PARTITIONS p "
                  "JOIN TBLS t ON t.TBL_ID = p.TBL_ID JOIN DBS d ON d.DB_ID = t.DB_ID "
                  "JOIN SDS s ON s.SD_ID = p.SD_ID ")

    def _template(self, conn: Any, columns: dict[str, list[str]], database: str, table: str,
                  name: str) -> dict[str, Any]:
        found = self._rows(conn, self._PARTITION + "WHERE d.NAME = ? AND t.TBL_NAME = ? "
                                                   "AND p.PART_NAME = ?",
                           database.lower(), table.lower(), name)
        if len(found) != 1:
            raise BulkUnavailable(f"template partition {name} of {database}.{table} not found "
                                  f"in the metastore")
        tmpl = self._checked(conn, columns, found[0])
        params = self._rows(conn, "SELECT PARAM_KEY FROM PARTITION_PARAMS WHERE PART_ID = ?",
                            tmpl["PART_ID"])
        extra = sorted({p[0] for p in params} - {_DDL_TIME, *_QUICK_STATS})
        if extra:
            raise BulkUnavailable(f"the template partition has parameters {extra}")
        return tmpl

    def _current_template(self, conn: Any, columns: dict[str, list[str]], database: str,
                          table: str) -> dict[str, Any]:
        """The latest partition whose storage equals the table's (Spark gives a new partition
        the table's storage with its own folder; Hive the table's column descriptor)."""
        same = " AND ".join(
            f"((s.{c} IS NULL AND ts.{c} IS NULL) OR s.{c} = ts.{c})" for c in columns["SDS"]
            if c not in ("SD_ID", "SERDE_ID", "LOCATION"))
        query = (self._PARTITION + "JOIN SDS ts ON ts.SD_ID = t.SD_ID "
                                   "JOIN SERDES r ON r.SERDE_ID = s.SERDE_ID "
                                   "JOIN SERDES tr ON tr.SERDE_ID = ts.SERDE_ID "
                                   f"WHERE d.NAME = ? AND t.TBL_NAME = ? AND {same} "
                                   "AND r.SLIB = tr.SLIB ")
        # The latest partition first (index lookups), then any (a scan of the table's).
        latest = self._rows(conn, "SELECT MAX(p.PART_ID) FROM PARTITIONS p JOIN TBLS t ON "
                                  "t.TBL_ID = p.TBL_ID JOIN DBS d ON d.DB_ID = t.DB_ID "
                                  "WHERE d.NAME = ? AND t.TBL_NAME = ?",
                            database.lower(), table.lower())[0][0]
        if latest is None:
            raise NoTemplate(f"{database}.{table} has no partitions")
        found = self._rows(conn, query + "AND p.PART_ID = ?", database.lower(), table.lower(),
                           int(latest))
        if not found:
            found = self._rows(conn, query + "ORDER BY p.PART_ID DESC FETCH FIRST ROW ONLY",
                               database.lower(), table.lower())
        if not found:
            raise NoTemplate(f"{database}.{table} has no partition with the table's storage")
        tmpl = self._checked(conn, columns, found[0])
        table_serde = self._rows(conn, "SELECT s.SERDE_ID, s.SD_ID FROM TBLS t JOIN DBS d ON "
                                       "d.DB_ID = t.DB_ID JOIN SDS s ON s.SD_ID = t.SD_ID "
                                       "WHERE d.NAME = ? AND t.TBL_NAME = ?",
                                 database.lower(), table.lower())[0]
        for child, key, own, table_id in (("SERDE_PARAMS", "SERDE_ID", tmpl["SERDE_ID"],
                                           table_serde[0]),
                                          ("SD_PARAMS", "SD_ID", tmpl["SD_ID"], table_serde[1])):
            if child not in columns:
                continue
            query = f"SELECT PARAM_KEY, PARAM_VALUE FROM {child} WHERE {key} = ?"
            if sorted(self._rows(conn, query, own)) != sorted(
                    self._rows(conn, query, int(table_id))):
                raise NoTemplate(f"the latest partition's {child} differ from the table's")
        return tmpl

    def _checked(self, conn: Any, columns: dict[str, list[str]],
                 row: tuple[Any, ...]) -> dict[str, Any]:
        part_id, sd_id, tbl_id, serde_id = row
        ids = {"PART_ID": int(part_id), "SD_ID": int(sd_id), "SERDE_ID": int(serde_id)}
        for child, key in _MUST_BE_EMPTY.items():
            if child not in columns:
                continue
            fk = "PART_ID" if key == "PART_ID" else "SD_ID"
            n = self._rows(conn, f"SELECT COUNT(*) FROM {child} WHERE {key} = ?", ids[fk])
            if int(n[0][0]):
                raise BulkUnavailable(f"the template partition has rows in {child}")
        return {**ids, "TBL_ID": int(tbl_id)}

    @staticmethod
    def _stage_rows(keys: Sequence[str], example: tuple[str, str],
                    partitions: Sequence[tuple[Sequence[str | None], str]]) -> list[list[Any]]:
        # The metastore qualifies locations ('/x' -> 'file:/x'): learn the prefix rewrite from
        # one example and apply it to every location that has the same given prefix.
        given, stored_location = example
        common = 0
        while (common < min(len(given), len(stored_location))
               and given[-1 - common] == stored_location[-1 - common]):
            common += 1
        if common <= len(given.rstrip("/").rsplit("/", 1)[-1]):
            raise BulkUnavailable(f"cannot relate the stored location {stored_location} to "
                                  f"{given}")
        given_prefix = given[:len(given) - common]
        stored_prefix = stored_location[:len(stored_location) - common]
        rows: list[list[Any]] = []
        for idx, (values, location) in enumerate(partitions):
            if (not location.startswith(given_prefix) or not _SAFE_LOCATION.match(location)
                    or "//" in location[len(given_prefix):] or location.endswith("/")
                    or "/./" in location or "/../" in location):
                raise BulkUnavailable(f"location {location!r} needs Hadoop's normalisation")
            stored = stored_prefix + location[len(given_prefix):]
            hive_values = [HIVE_DEFAULT_PARTITION if v is None else v for v in values]
            num_files, total_size = quick_stats(stored)
            rows.append([idx, part_name(keys, hive_values), stored, num_files, total_size,
                         *hive_values])
        return rows

    def _reserve(self, conn: Any, column: str, table: str, count: int) -> int:
        sequence = _SEQUENCES[column]
        # Lock the sequence row first: DataNucleus allocates its next id block only after this
        # transaction commits, above the range reserved here.
        if self._update(conn, "UPDATE SEQUENCE_TABLE SET NEXT_VAL = NEXT_VAL "
                              "WHERE SEQUENCE_NAME = ?", sequence) != 1:
            raise BulkUnavailable(f"no DataNucleus sequence {sequence}")
        next_val = int(self._rows(conn, "SELECT NEXT_VAL FROM SEQUENCE_TABLE "
                                        "WHERE SEQUENCE_NAME = ?", sequence)[0][0])
        top = self._rows(conn, f"SELECT MAX({column}) FROM {table}")[0][0]
        base = max(next_val, int(top or 0) + 1)
        self._update(conn, "UPDATE SEQUENCE_TABLE SET NEXT_VAL = ? WHERE SEQUENCE_NAME = ?",
                     base + count, sequence)
        return base

    def _clone(self, conn: Any, columns: dict[str, list[str]], stage: str,
               tmpl: dict[str, Any], n_keys: int, count: int) -> None:
        # Table locks instead of one row lock per inserted row (Derby would escalate anyway).
        statement = conn.createStatement()
        for name in ("SERDES", "SERDE_PARAMS", "SDS", "SD_PARAMS", "PARTITIONS",
                     "PARTITION_PARAMS", "PARTITION_KEY_VALS"):
            if name in columns:
                statement.execute(f"LOCK TABLE {name} IN EXCLUSIVE MODE")
        statement.close()
        serde = self._reserve(conn, "SERDE_ID", "SERDES", count)
        sd = self._reserve(conn, "SD_ID", "SDS", count)
        part = self._reserve(conn, "PART_ID", "PARTITIONS", count)
        now = int(time.time())
        added = self._insert_clone(conn, "SERDES", columns["SERDES"], stage,
                                   {"SERDE_ID": f"{serde} + s.IDX"}, "t.SERDE_ID = ?",
                                   tmpl["SERDE_ID"])
        if added != count:
            raise BulkUnavailable(f"cloned {added} SerDe rows for {count} partitions")
        # SerDe parameters (PARAM_VALUE is a CLOB): one INSERT per parameter from the stage
        # alone, not a self-join of SERDE_PARAMS.
        for key, value in self._rows(conn, "SELECT PARAM_KEY, PARAM_VALUE FROM SERDE_PARAMS "
                                           "WHERE SERDE_ID = ?", tmpl["SERDE_ID"]):
            self._update(conn, f"INSERT INTO SERDE_PARAMS (SERDE_ID, PARAM_KEY, PARAM_VALUE) "
                               f"SELECT {serde} + s.IDX, ?, ? FROM {stage} s", key, value)
        self._insert_clone(conn, "SDS", columns["SDS"], stage,
                           {"SD_ID": f"{sd} + s.IDX", "SERDE_ID": f"{serde} + s.IDX",
                            "LOCATION": "s.LOCATION"}, "t.SD_ID = ?", tmpl["SD_ID"])
        if "SD_PARAMS" in columns:
            self._insert_clone(conn, "SD_PARAMS", columns["SD_PARAMS"], stage,
                               {"SD_ID": f"{sd} + s.IDX"}, "t.SD_ID = ?", tmpl["SD_ID"])
        self._insert_clone(conn, "PARTITIONS", columns["PARTITIONS"], stage,
                           {"PART_ID": f"{part} + s.IDX", "SD_ID": f"{sd} + s.IDX",
                            "PART_NAME": "s.PART_NAME", "CREATE_TIME": str(now),
                            "LAST_ACCESS_TIME": "0"}, "t.PART_ID = ?", tmpl["PART_ID"])
        self._update(conn, f"INSERT INTO PARTITION_PARAMS (PART_ID, PARAM_KEY, PARAM_VALUE) "
                           f"SELECT {part} + s.IDX, ?, ? FROM {stage} s", _DDL_TIME, str(now))
        for key, column in zip(_QUICK_STATS, ("NUM_FILES", "TOTAL_SIZE"), strict=True):
            self._update(conn, f"INSERT INTO PARTITION_PARAMS (PART_ID, PARAM_KEY, PARAM_VALUE) "
                               f"SELECT {part} + s.IDX, ?, s.{column} FROM {stage} s "
                               f"WHERE COALESCE(s.{column}, '') <> ''", key)
        for i in range(n_keys):
            self._update(conn, f"INSERT INTO PARTITION_KEY_VALS (PART_ID, PART_KEY_VAL, "
                               f"INTEGER_IDX) SELECT {part} + s.IDX, s.V{i}, {i} FROM {stage} s")
