"""lakeforge.lifecycle.ingest: raw listing by partition, line-level quarantine reasons for CSV,
JSON lines and Parquet (compressed or not), file issues, drift and the counting pass."""

from __future__ import annotations

import bz2
import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyspark.sql import functions as F

from lakeforge.bookmarks import FileEntry
from lakeforge.lifecycle.ingest import (
    DRIFT_MIN_VALUES,
    SchemaDriftError,
    ingest_source,
    list_partitions,
    read_parquet_rows,
)
from lakeforge.lifecycle.settings import SourceSpec
from lakeforge.paths import listed_path

CSV_MAPPINGS = [["id", "string", "id", "string"], ["born", "string", "born", "date"],
                ["n", "bigint", "n", "int"]]
ID_N = [["id", "string", "id", "string"], ["n", "bigint", "n", "int"]]
QUOTE = ('malformed CSV line: unbalanced quote (") - a quoted field may not span lines, '
         'or a quote is missing')


def _ingest(spark, root: Path, spec: SourceSpec, name: str = "src"):  # type: ignore[no-untyped-def]
    keys, files_of, misplaced = list_partitions(str(root))
    return ingest_source(spark, name, spec, str(root), files_of, keys,
                         sorted(files_of, key=lambda v: tuple(x or "" for x in v)), misplaced,
                         f"raw.{name}")


def _reasons(ingested) -> dict[tuple[str, int | None], str]:  # type: ignore[no-untyped-def]
    rows = ingested.rows.where("size(_problems) > 0").select("_file", "_line", "_problems")
    return {(Path(r[0]).name, r[1]): "; ".join(r[2]) for r in rows.collect()}


def _good(ingested, *cols):  # type: ignore[no-untyped-def]
    rows = ingested.rows.where("size(_problems) = 0").select(*cols).collect()
    return sorted((tuple(r) for r in rows), key=repr)


def _issues(ingested) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {Path(r.source_file).name: r.reason for r in ingested.issues.collect()}


def test_spark_file_uris_map_back_to_listed_paths() -> None:
    listed = {"/lake/raw/c/dt=2024-05-06%2F..%2Fx/p.json", "s3://b/raw/dt=a b/p.json",
              "/lake/raw/plain.json"}
    assert listed_path("file:///lake/raw/c/dt=2024-05-06%252F..%252Fx/p.json", listed) == \
        "/lake/raw/c/dt=2024-05-06%2F..%2Fx/p.json"
    assert listed_path("s3://b/raw/dt=a%20b/p.json", listed) == "s3://b/raw/dt=a b/p.json"
    assert listed_path("file:/lake/raw/plain.json", listed) == "/lake/raw/plain.json"
    assert listed_path("file:///elsewhere/x.json", listed) == "/elsewhere/x.json"


def test_partitions_unescape_values_and_flag_misplaced_files(tmp_path: Path) -> None:
    root = tmp_path / "contacts"
    for rel in ("dt=2024-05-01/a.json", "dt=2024-05-01/b.json", "dt=2024-05-02/a.json",
                "dt=2024-05-06%2F..%2F..%2Fescape/a.json", "stray.json", "x=1/dt=2/c.json",
                "dt=2024-05-02/_SUCCESS", "dt=2024-05-02/.a.json.crc"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("{}\n")
    keys, parts, misplaced = list_partitions(str(root))
    assert keys == ["dt"]
    assert sorted(parts) == [("2024-05-01",), ("2024-05-02",), ("2024-05-06/../../escape",)]
    assert [Path(f.path).name for f in parts[("2024-05-01",)]] == ["a.json", "b.json"]
    assert sorted(Path(f.path).name for f in misplaced) == ["c.json", "stray.json"]
    assert list_partitions(str(tmp_path / "missing")) == ([], {}, [])


def test_csv_lines_get_a_reason_each_and_files_get_file_issues(spark, tmp_path: Path) -> None:
    root = tmp_path / "people"
    root.mkdir()
    (root / "a.csv").write_bytes(
        b"id,born,n\n"
        b"p1,1980-01-02,3\n"                 # good
        b"p2,1980-13-45,3\n"                 # bad date
        b"p3,1980-01-02,x\n"                 # not a number
        b",1980-01-02,3\n"                   # required id missing
        b"p5,1980-01-02,3,surplus\n"         # unexpected column
        b"p6,1980-01-02\n"                   # missing field
        b"p7,caf\xe9,3\n"                    # invalid UTF-8
        b"\n")
    (root / "b.csv.gz").write_bytes(gzip.compress(b"id,born,n\np8,1990-05-06,4\n"))
    (root / "empty.csv").write_bytes(b"")
    (root / "header-only.csv").write_text("id,born,n\n")
    (root / "broken.csv.gz").write_bytes(b"not gzip at all")
    spec = SourceSpec(path="people", format="csv", mappings=CSV_MAPPINGS, required=["id"])
    got = _ingest(spark, root, spec)
    reasons = _reasons(got)
    assert reasons == {
        ("a.csv", 3): "column born: '1980-13-45' is not a date",
        ("a.csv", 4): "column n: 'x' is not an int",   # the target type of bigint -> int
        ("a.csv", 5): "required column id is null",
        ("a.csv", 6): "malformed CSV line: 4 fields where the header has 3 (unexpected column)",
        ("a.csv", 7): "malformed CSV line: 2 fields where the header has 3 (missing fields or "
                      "broken quoting)",
        ("a.csv", 8): "not valid UTF-8 (bytes that decode to U+FFFD)",
    }
    good = sorted(r[0] for r in got.rows.where("size(_problems) = 0").select("id").collect())
    assert good == ["p1", "p8"]
    issues = {Path(r.source_file).name: r.reason for r in got.issues.collect()}
    assert issues["empty.csv"] == "empty file (0 bytes)"
    assert issues["header-only.csv"] == "no data lines (only a header or blank lines)"
    assert issues["broken.csv.gz"].startswith("unreadable object")
    assert (got.rows_in, got.bad_rows, got.file_issues) == (8, 6, 3)


def test_json_lines_with_partitions_added_keys_and_misplaced_files(spark, tmp_path: Path) -> None:
    root = tmp_path / "events"
    d1 = root / "dt=2024-01-01"
    d1.mkdir(parents=True)
    rows = [json.dumps({"id": "e1", "born": "2000-01-01", "n": 1}),
            '{"id": "e2", "born": ',                                   # truncated
            "[1, 2]",                                                  # not an object
            json.dumps({"id": "e3", "born": "2000-01-01", "n": 1.5}),  # fraction
            json.dumps({"id": "e4", "born": None, "n": None, "extra": "x"}),  # nulls, new key
            ""]
    (d1 / "part-0.json").write_text("\n".join(rows) + "\n")
    (root / "stray.json").write_text(json.dumps({"id": "s"}) + "\n")
    spec = SourceSpec(path="events", format="json", required=["id"],
                      mappings=[*CSV_MAPPINGS, ["dt", "string", "dt", "string"]])
    got = _ingest(spark, root, spec)
    assert _reasons(got) == {
        ("part-0.json", 2): "malformed JSON line (not one complete JSON object)",
        ("part-0.json", 3): "malformed JSON line (not one complete JSON object)",
        ("part-0.json", 4): "column n: '1.5' is not an int",
    }
    good = {r["id"]: (r["dt"], r["_partition"]) for r in
            got.rows.where("size(_problems) = 0").collect()}
    assert good == {"e1": ("2024-01-01", "dt=2024-01-01"), "e4": ("2024-01-01", "dt=2024-01-01")}
    assert got.added_columns == ["extra"]
    assert [(Path(r.source_file).name, r.reason) for r in got.issues.collect()] == [
        ("stray.json", "not inside a dt partition folder")]
    assert (got.rows_in, got.bad_rows) == (5, 3)


def test_parquet_rows_are_typed_and_quarantined_like_lines(spark, tmp_path: Path) -> None:
    root = tmp_path / "pq"
    spark.createDataFrame([("q1", "2001-02-03", "7"), ("q2", "never", "8"), (None, None, None)],
                          "id string, born string, n string").coalesce(1).write.parquet(
        str(root / "k=a"))
    spec = SourceSpec(path="pq", format="parquet", mappings=CSV_MAPPINGS, required=["id"])
    got = _ingest(spark, root, spec)
    bad = {json.loads(r.line).get("id"): "; ".join(r._problems)
           for r in got.rows.where("size(_problems) > 0").collect()}
    assert bad == {"q2": "column born: 'never' is not a date",
                   None: "required column id is null"}
    assert [r["_partition"] for r in got.rows.where("id = 'q1'").collect()] == ["k=a"]
    assert (got.rows_in, got.bad_rows, got.file_issues) == (3, 2, 0)
    # the quarantined record keeps every column, NULLs included (to_json drops them by default)
    [empty] = [json.loads(r.line) for r in got.rows.where("id is null").collect()]
    assert empty == {"id": None, "born": None, "n": None}


def test_a_column_whose_every_value_fails_is_drift_and_stops_the_run(spark,
                                                                     tmp_path: Path) -> None:
    root = tmp_path / "drift"
    for dt, n in (("2024-01-01", 5), ("2024-01-02", "5m20s")):
        folder = root / f"dt={dt}"
        folder.mkdir(parents=True)
        folder.joinpath("p.json").write_text("".join(
            json.dumps({"id": f"{dt}-{i}", "born": "2000-01-01", "n": n}) + "\n"
            for i in range(3)))
    spec = SourceSpec(path="drift", format="json", mappings=CSV_MAPPINGS)
    with pytest.raises(SchemaDriftError) as err:
        _ingest(spark, root, spec, "drifty")
    text = str(err.value)
    assert "schema drift in raw.drifty" in text
    assert "column n is bigint in the table but string in partition dt=2024-01-02" in text
    assert "5m20s" in text and "2024-01-01" not in text


def test_an_empty_source_reads_as_no_rows(spark, tmp_path: Path) -> None:
    root = tmp_path / "nothing"
    root.mkdir()
    (root / "empty.json").write_bytes(b"")
    got = _ingest(spark, root, SourceSpec(path="nothing", format="json",
                                          mappings=CSV_MAPPINGS))
    assert (got.rows_in, got.bad_rows, got.file_issues) == (0, 0, 1)
    assert got.rows.count() == 0


def test_csv_header_is_the_first_non_blank_line(spark, tmp_path: Path) -> None:
    root = tmp_path / "blank"
    root.mkdir()
    (root / "a.csv").write_text("\n  \nid,n\np1,1\np2,x\n")
    (root / "blanks.csv").write_text("\n \n")
    got = _ingest(spark, root, SourceSpec(path="blank", format="csv", mappings=ID_N,
                                          required=["id"]))
    assert _reasons(got) == {("a.csv", 5): "column n: 'x' is not an int"}
    assert _good(got, "_line", "id") == [(4, "p1")]
    assert _issues(got) == {"blanks.csv": "no header line (the file holds only blank lines)"}
    assert (got.rows_in, got.bad_rows, got.file_issues) == (2, 1, 1)


def test_a_quoted_field_spanning_lines_quarantines_every_fragment(spark, tmp_path: Path) -> None:
    root = tmp_path / "span"
    root.mkdir()
    (root / "f.csv").write_text('id,n\n"a\nb",1\nc,2\nd,"3\n')
    got = _ingest(spark, root, SourceSpec(path="span", format="csv", mappings=ID_N,
                                          required=["id"]))
    assert _reasons(got) == {("f.csv", 2): QUOTE, ("f.csv", 3): QUOTE, ("f.csv", 5): QUOTE}
    assert _good(got, "id") == [("c",)]
    assert (got.rows_in, got.bad_rows) == (4, 3)


def test_csv_values_follow_rfc_4180_quoting(spark, tmp_path: Path) -> None:
    root = tmp_path / "rfc"
    root.mkdir()
    (root / "f.csv").write_text('id,n\n"say ""hi""",1\n"C:\\dir\\",2\n"a,b",3\n"",4\n')
    got = _ingest(spark, root, SourceSpec(path="rfc", format="csv", mappings=ID_N))
    assert _reasons(got) == {}
    # a doubled quote is one quote; a backslash is an ordinary character, not an escape
    assert _good(got, "n", "id") == [(1, 'say "hi"'), (2, "C:\\dir\\"), (3, "a,b"), (4, None)]


def test_a_leading_utf8_bom_is_not_part_of_the_first_line(spark, tmp_path: Path) -> None:
    root = tmp_path / "bom"
    (root / "c").mkdir(parents=True)
    (root / "j").mkdir()
    (root / "c" / "f.csv").write_bytes("\ufeffid,n\np1,1\n".encode())
    (root / "j" / "f.json").write_bytes('\ufeff{"id": "j1", "n": 1}\n'.encode())
    csv_got = _ingest(spark, root / "c", SourceSpec(path="c", format="csv", mappings=ID_N,
                                                    required=["id"]))
    json_got = _ingest(spark, root / "j", SourceSpec(path="j", format="json", mappings=ID_N,
                                                     required=["id"]))
    assert (_reasons(csv_got), csv_got.added_columns, _good(csv_got, "id")) == ({}, [], [("p1",)])
    assert (_reasons(json_got), _good(json_got, "id")) == ({}, [("j1",)])


def test_hive_default_partition_values_are_null(spark, tmp_path: Path) -> None:
    root = tmp_path / "hive"
    for dt, row in (("__HIVE_DEFAULT_PARTITION__", "p1,1"), ("2024-01-01", "p2,2")):
        (root / f"dt={dt}").mkdir(parents=True)
        (root / f"dt={dt}" / "a.csv").write_text(f"id,n\n{row}\n")
    for dt_type in ("string", "date"):
        got = _ingest(spark, root, SourceSpec(path="hive", format="csv", required=["id"],
                                              mappings=[*ID_N, ["dt", dt_type, "dt", dt_type]]))
        assert _reasons(got) == {}
        assert _good(got, "id", F.col("dt").cast("string"), "_partition") == [
            ("p1", None, "dt=__HIVE_DEFAULT_PARTITION__"), ("p2", "2024-01-01", "dt=2024-01-01")]


def test_compression_suffixes_spark_cannot_read_are_file_issues(spark, tmp_path: Path) -> None:
    root = tmp_path / "codec"
    root.mkdir()
    body = b"id,n\n" + b"".join(b"r%d,%d\n" % (i, i) for i in range(50))
    (root / "a.csv.GZ").write_bytes(gzip.compress(body))
    (root / "b.csv.Bz2").write_bytes(bz2.compress(body))
    (root / "c.csv.zst").write_bytes(b"(\xb5/\xfd not really zstd")
    (root / "d.csv.snappy").write_bytes(b"\xff\x06\x00\x00sNaPpY")
    (root / "e.csv.lz4").write_bytes(b"\x04\x22\x4d\x18")
    (root / "f.csv.gz").write_bytes(gzip.compress(b"id,n\nok,1\n"))
    (root / "g.csv.bz2").write_bytes(bz2.compress(b"id,n\nok2,2\n"))
    got = _ingest(spark, root, SourceSpec(path="codec", format="csv", mappings=ID_N,
                                          required=["id"]))
    supported = "supported: .gz and .bz2 (lower case) or uncompressed"

    def case(suffix: str) -> str:
        return (f"compression suffix {suffix} is not lower case: Hadoop picks the codec by the "
                f"case-sensitive suffix and would read the file as plain text; rename it to "
                f"{suffix.lower()}")

    def unsupported(suffix: str) -> str:
        return (f"compressed as {suffix}, which lakeforge does not read ({supported}); "
                "recompress it as .gz")

    assert _issues(got) == {"a.csv.GZ": case(".GZ"), "b.csv.Bz2": case(".Bz2"),
                            "c.csv.zst": unsupported(".zst"),
                            "d.csv.snappy": unsupported(".snappy"),
                            "e.csv.lz4": unsupported(".lz4")}
    assert _reasons(got) == {}
    assert _good(got, "id") == [("ok",), ("ok2",)]
    assert (got.rows_in, got.bad_rows, got.file_issues) == (2, 0, 5)


def test_a_mapped_column_missing_from_a_header_is_null_and_reported(spark,
                                                                   tmp_path: Path) -> None:
    root = tmp_path / "missing"
    root.mkdir()
    (root / "new.csv").write_text("id,n\np1,1\n")
    (root / "old.csv").write_text("id\np2\n")
    got = _ingest(spark, root, SourceSpec(path="missing", format="csv", mappings=ID_N))
    assert {Path(f).name: c for f, c in got.missing_columns.items()} == {"old.csv": ["n"]}
    assert (_reasons(got), _good(got, "id", "n")) == ({}, [("p1", 1), ("p2", None)])
    required = _ingest(spark, root, SourceSpec(path="missing", format="csv", mappings=ID_N,
                                               required=["n"]))
    assert _reasons(required) == {("old.csv", 2): "required column n is null"}
    assert {Path(f).name: c for f, c in required.missing_columns.items()} == {"old.csv": ["n"]}


def test_fewer_bad_values_than_the_drift_minimum_are_bad_rows(spark, tmp_path: Path) -> None:
    assert DRIFT_MIN_VALUES == 3
    root = tmp_path / "few"
    for dt, ns in (("2024-01-01", [1, 2, 3]), ("2024-01-02", ["x"]), ("2024-01-03", ["y", "z"])):
        (root / f"dt={dt}").mkdir(parents=True)
        (root / f"dt={dt}" / f"{dt}.json").write_text("".join(
            json.dumps({"id": f"{dt}-{i}", "n": n}) + "\n" for i, n in enumerate(ns)))
    got = _ingest(spark, root, SourceSpec(path="few", format="json", mappings=ID_N))
    assert _reasons(got) == {("2024-01-02.json", 1): "column n: 'x' is not an int",
                             ("2024-01-03.json", 1): "column n: 'y' is not an int",
                             ("2024-01-03.json", 2): "column n: 'z' is not an int"}
    assert (got.rows_in, got.bad_rows) == (6, 3)


def test_a_zero_row_parquet_file_is_an_empty_file_not_a_corrupt_one(spark,
                                                                    tmp_path: Path) -> None:
    root = tmp_path / "pq0"
    (root / "k=a").mkdir(parents=True)
    (root / "k=b").mkdir()
    pq.write_table(pa.table({"id": ["q1"], "n": pa.array([1], pa.int64())}),
                   root / "k=a" / "one.parquet")
    pq.write_table(pa.table({"id": pa.array([], pa.string()), "n": pa.array([], pa.int64())}),
                   root / "k=b" / "empty.parquet")
    got = _ingest(spark, root, SourceSpec(path="pq0", format="parquet", mappings=ID_N))
    assert _issues(got) == {"empty.parquet": "no data rows (a valid Parquet file with 0 rows)"}
    assert [r.partition for r in got.issues.collect()] == ["k=b"]
    assert (_good(got, "id"), got.rows_in, got.file_issues) == ([("q1",)], 1, 1)


def test_drift_names_the_type_found_in_a_non_comma_csv(spark, tmp_path: Path) -> None:
    root = tmp_path / "semi"
    (root / "dt=2024-01-02").mkdir(parents=True)
    (root / "dt=2024-01-02" / "b.csv").write_text("id;n\nc;x\nd;y\ne;z\n")
    with pytest.raises(SchemaDriftError) as err:
        _ingest(spark, root, SourceSpec(path="semi", format="csv", mappings=ID_N,
                                        delimiter=";"), "semi")
    assert "column n is bigint in the table but string in partition dt=2024-01-02" in str(err.value)


def test_a_parquet_type_change_across_files_is_drift(spark, tmp_path: Path) -> None:
    root = tmp_path / "pqdrift"
    (root / "dt=1").mkdir(parents=True)
    (root / "dt=2").mkdir()
    pq.write_table(pa.table({"id": ["a"], "n": pa.array([1], pa.int64())}),
                   root / "dt=1" / "a.parquet")
    pq.write_table(pa.table({"id": ["c"], "n": ["x"]}), root / "dt=2" / "b.parquet")
    with pytest.raises(SchemaDriftError) as err:
        _ingest(spark, root, SourceSpec(path="pqdrift", format="parquet", mappings=ID_N),
                "pqdrift")
    text = str(err.value)
    assert "\n" not in text and "Traceback" not in text
    assert text.startswith("schema drift in raw.pqdrift: column n is int64 in partition dt=1 (")
    assert "a.parquet) but string in partition dt=2 (" in text and "b.parquet)" in text
    # what the footers do not catch, Spark's merge failure, is the same one-line error
    files = [FileEntry(str(p), p.stat().st_size, 0) for p in sorted(root.glob("*/*.parquet"))]
    with pytest.raises(SchemaDriftError) as err:
        read_parquet_rows(spark, files, ID_N, [])
    assert str(err.value).startswith(
        "schema drift: Spark cannot merge the schemas of the 2 Parquet files read (")
    assert "\n" not in str(err.value)


def test_a_header_with_an_unbalanced_quote_is_a_file_issue(spark, tmp_path: Path) -> None:
    """The header's column names cannot be read: the file is quarantined whole with the
    reason (before: Python's csv took `n,x` for one name and every data line was quarantined
    as a field-count mismatch); the other file's rows are read as usual."""
    root = tmp_path / "badheader"
    root.mkdir()
    (root / "bad.csv").write_text('\nid,"n,x\np1,1,2\np2,2,3\n')
    (root / "good.csv").write_text("id,n\np3,3\n")
    got = _ingest(spark, root, SourceSpec(path="badheader", format="csv", mappings=ID_N))
    assert _issues(got) == {"bad.csv": 'header line 2 has an unbalanced quote ("): its column '
                                       "names cannot be read; fix the header, then reprocess"}
    assert (_reasons(got), _good(got, "id", "n")) == ({}, [("p3", 3)])
    assert (got.rows_in, got.bad_rows, got.file_issues) == (1, 0, 1)


def test_a_mapped_column_missing_from_a_parquet_file_is_null_and_reported(
        spark, tmp_path: Path) -> None:
    """As for a CSV header: the file whose footer lacks a mapped column is named with the
    column in ``missing_columns`` (the run summary's schema_drift), its rows read it as null."""
    root = tmp_path / "pqmissing"
    (root / "dt=1").mkdir(parents=True)
    pq.write_table(pa.table({"id": ["p1"], "n": [1]}), root / "dt=1" / "new.parquet")
    pq.write_table(pa.table({"id": ["p2"]}), root / "dt=1" / "old.parquet")
    got = _ingest(spark, root, SourceSpec(path="pqmissing", format="parquet", mappings=ID_N))
    assert {Path(f).name: c for f, c in got.missing_columns.items()} == {"old.parquet": ["n"]}
    assert (_reasons(got), _good(got, "id", "n")) == ({}, [("p1", 1), ("p2", None)])
