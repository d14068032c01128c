"""Crawler semantics end to end against the Glue API backend on a moto server (no Spark)."""

from __future__ import annotations

import bz2
import gzip
import json
import uuid
from pathlib import Path

import boto3
import pyarrow as pa
import pytest

from lakeforge.catalog.glue_api import GlueApiCatalog
from lakeforge.crawler import crawl, plan_tables
from lakeforge.errors import ConfigError, InputPathError
from tests.lakeforge.crawler_data import sales, write_parquet

pytestmark = pytest.mark.aws


def columns(report_table: object) -> dict[str, str]:
    return dict(report_table.columns)  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- partitions


def test_hive_partitions_nested_levels(tmp_path: Path, glue: GlueApiCatalog, glue_db: str) -> None:
    root = tmp_path / "sales"
    for dt in ("2024-01-01", "2024-01-02"):
        for country in ("GB", "FR"):
            write_parquet(root / f"dt={dt}" / f"country={country}" / "part-0.parquet", sales())
    (root / "_SUCCESS").write_text("")
    (root / "dt=2024-01-01" / "country=GB" / ".part-0.parquet.crc").write_bytes(b"xx")
    report = crawl([str(root)], database=glue_db, catalog=glue)
    t = report.table("sales")
    assert t.partition_keys == ["dt", "country"]
    assert t.partitions_added == 4 and t.partitions_already_present == 0
    assert columns(t) == {"id": "bigint", "amount": "double", "customer": "string", "qty": "int"}
    assert report.objects_ignored == 2 and report.skipped == []
    parts = glue.get_partitions(glue_db, "sales", expression="dt = '2024-01-02' AND country = 'FR'")
    assert [p.values for p in parts] == [("2024-01-02", "FR")]
    assert parts[0].location == str(root / "dt=2024-01-02" / "country=FR")


def test_unnamed_partitions_become_partition_n(tmp_path: Path, glue: GlueApiCatalog,
                                               glue_db: str) -> None:
    root = tmp_path / "logs"
    for y, m in (("2023", "12"), ("2024", "01"), ("2024", "02")):
        write_parquet(root / y / m / "data.parquet", sales())
    report = crawl(str(root), database=glue_db, catalog=glue, table_prefix="raw_")
    t = report.table("raw_logs")
    assert t.partition_keys == ["partition_0", "partition_1"]
    values = sorted(p.values for p in glue.get_partitions(glue_db, "raw_logs"))
    assert values == [("2023", "12"), ("2024", "01"), ("2024", "02")]


def test_hive_null_partition_value(tmp_path: Path, glue: GlueApiCatalog, glue_db: str) -> None:
    root = tmp_path / "t"
    write_parquet(root / "k=a" / "p.parquet", sales())
    write_parquet(root / "k=__HIVE_DEFAULT_PARTITION__" / "p.parquet", sales())
    crawl(str(root), database=glue_db, catalog=glue)
    assert {p.values for p in glue.get_partitions(glue_db, "t")} == {("a",), (None,)}


# --------------------------------------------------------------------------- formats


def test_mixed_formats_under_one_root(tmp_path: Path, glue: GlueApiCatalog, glue_db: str) -> None:
    root = tmp_path / "raw"
    write_parquet(root / "orders" / "dt=1" / "a.parquet", sales())
    (root / "customers").mkdir(parents=True)
    (root / "customers" / "c.csv").write_text("id|name|score\n1|ann|2.5\n2|bob|\n")
    (root / "events" / "dt=1").mkdir(parents=True)
    lines = [json.dumps({"id": i, "kind": "x", "payload": {"n": i, "tags": ["a"]}, "gone": None})
             for i in range(5)]
    with gzip.open(root / "events" / "dt=1" / "e.json.gz", "wt") as fh:
        fh.write("\n".join(lines) + "\n")
    report = crawl(str(root), database=glue_db, catalog=glue)
    by_name = {t.name: t for t in report.tables}
    assert set(by_name) == {"orders", "customers", "events"}
    assert by_name["orders"].format == "parquet"
    cust = by_name["customers"]
    assert cust.format == "csv" and cust.partition_keys == []
    assert columns(cust) == {"id": "bigint", "name": "string", "score": "double"}
    spec = glue.get_table(glue_db, "customers")
    assert spec is not None and spec.csv_delimiter == "|" and spec.csv_header
    ev = by_name["events"]
    assert (ev.format, ev.compression) == ("json", "gzip")
    assert columns(ev) == {"id": "bigint", "kind": "string",
                           "payload": "struct<n:bigint,tags:array<string>>", "gone": "string"}
    ddl = glue.show_create_table(glue_db, "events")
    assert "org.openx.data.jsonserde.JsonSerDe" in ddl and "'compressionType'='gzip'" in ddl


def test_json_keys_differing_in_case_merge(tmp_path: Path, glue: GlueApiCatalog,
                                           glue_db: str) -> None:
    """Keys that differ only in case are one column (the OpenX SerDe and Athena are
    case-insensitive), inside a file as across files; a row holding both spellings, or a
    shape conflict between them, keeps the file and its folder out with the reason."""
    root = tmp_path / "lake"
    (root / "clicks").mkdir(parents=True)
    (root / "clicks" / "a.json").write_text('{"userId": 1, "page": "x"}\n'
                                            '{"userid": 2, "page": "y"}\n')
    (root / "clicks" / "b.json").write_text('{"USERID": 3, "Page": "z", "n": 1.5}\n')
    (root / "widened").mkdir()
    (root / "widened" / "w.json").write_text('{"A": 1, "k": 0}\n{"a": "x", "k": 1}\n')
    (root / "same_row").mkdir()
    (root / "same_row" / "s.json").write_text('{"Url": "u", "URL": "v"}\n')
    (root / "shapes").mkdir()
    (root / "shapes" / "c.json").write_text('{"Tag": 1, "q": 0}\n{"tag": [1], "q": 1}\n')
    report = crawl(str(root), database=glue_db, catalog=glue)
    assert sorted(t.name for t in report.tables) == ["clicks", "widened"]
    assert report.table("clicks").columns == [("userId", "bigint"), ("page", "string"),
                                              ("n", "double")]
    assert report.table("widened").columns == [("A", "string"), ("k", "bigint")]
    ddl = glue.show_create_table(glue_db, "clicks")
    assert "`userid`" not in ddl and "`userId` bigint" in ddl
    reasons = {s.path: s.reason for s in report.skipped}
    assert reasons[str(root / "same_row" / "s.json")] == (
        "line 1 holds keys 'Url' and 'URL', which differ only in case: the OpenX JSON SerDe "
        "lower-cases keys (case.insensitive) and fails such a row with a duplicate key")
    assert reasons[str(root / "shapes" / "c.json")].startswith(
        "keys 'Tag' and 'tag' (one column: they differ only in case) change shape between "
        "records")
    assert "unreadable object(s) inside" in reasons[str(root / "shapes")]


def test_csv_without_header_and_bz2(tmp_path: Path, glue: GlueApiCatalog, glue_db: str) -> None:
    root = tmp_path / "noheader"
    root.mkdir()
    (root / "a.csv").write_text("1,alice,2024-01-01\n2,bob,2024-01-02\n3,,\n")
    report = crawl(str(root), database=glue_db, catalog=glue)
    t = report.table("noheader")
    assert columns(t) == {"col0": "bigint", "col1": "string", "col2": "date"}
    spec = glue.get_table(glue_db, "noheader")
    assert spec is not None and not spec.csv_header

    root2 = tmp_path / "zipped"
    root2.mkdir()
    (root2 / "a.csv.bz2").write_bytes(bz2.compress(b"id,name\n1,x\n2,y\n"))
    t2 = crawl(str(root2), database=glue_db, catalog=glue).table("zipped")
    assert (t2.compression, columns(t2)) == ("bz2", {"id": "bigint", "name": "string"})


def test_csv_iso_timestamps_stay_string(tmp_path: Path, glue: GlueApiCatalog, glue_db: str) -> None:
    """LazySimpleSerDe reads only 'YYYY-MM-DD HH:MM:SS[.f]' as timestamp; ISO-8601 'T' and
    offset forms would read as NULL, so they are string. JSON strings are never typed
    timestamp (OpenX JsonSerDe columns from string values stay string)."""
    root = tmp_path / "lake"
    (root / "iso_ts").mkdir(parents=True)
    (root / "iso_ts" / "a.csv").write_text(
        "1,2024-01-01T10:00:00,2024-01-01T10:00:00Z,2024-01-01 10:00:00+01:00,"
        "2024-01-01 10:00:00,2024-01-01 10:00:00.123456789,\n"
        "2,2024-01-02T11:30:00,2024-01-02T11:30:00.5Z,2024-01-02 11:30:00-05:00,"
        "2024-01-02 11:30:00,2024-01-02 11:30:00.1,2024-01-02\n")
    (root / "iso_json").mkdir()
    (root / "iso_json" / "e.json").write_text(
        json.dumps({"id": 1, "at": "2024-01-01T10:00:00", "at2": "2024-01-01 10:00:00"}) + "\n")
    report = crawl(str(root), database=glue_db, catalog=glue)
    assert columns(report.table("iso_ts")) == {
        "col0": "bigint", "col1": "string", "col2": "string", "col3": "string",
        "col4": "timestamp", "col5": "timestamp", "col6": "date"}
    assert columns(report.table("iso_json")) == {"id": "bigint", "at": "string", "at2": "string"}


def test_all_string_csv_has_no_header_as_in_glue(tmp_path: Path, glue: GlueApiCatalog,
                                                  glue_db: str) -> None:
    root = tmp_path / "names"
    root.mkdir()
    (root / "n.csv").write_text("first,last\nann,lee\nbob,ray\n")
    assert columns(crawl(str(root), database=glue_db, catalog=glue).table("names")) == {
        "col0": "string", "col1": "string"}
    forced = crawl(str(root), database=glue_db + "x", catalog=glue, csv_header="present")
    assert columns(forced.table("names")) == {"first": "string", "last": "string"}


def test_all_null_columns(tmp_path: Path, glue: GlueApiCatalog, glue_db: str) -> None:
    root = tmp_path / "nulls"
    write_parquet(root / "p.parquet", pa.table({"id": pa.array([1, 2], pa.int64()),
                                                "empty": pa.array([None, None], pa.string()),
                                                "nothing": pa.array([None, None], pa.null())}))
    t = crawl(str(root), database=glue_db, catalog=glue).table("nulls")
    assert columns(t) == {"id": "bigint", "empty": "string"}
    assert t.notes == ["column nothing not registered: Parquet's null type in every file "
                       "(no values, and no type Spark can read it as)"]
    csv_root = tmp_path / "nullcsv"
    csv_root.mkdir()
    (csv_root / "a.csv").write_text("id,empty\n1,\n2,\n")
    t2 = crawl(str(csv_root), database=glue_db, catalog=glue).table("nullcsv")
    assert columns(t2) == {"id": "bigint", "empty": "string"}


def test_compression_must_match_file_suffix(tmp_path: Path, glue: GlueApiCatalog,
                                            glue_db: str) -> None:
    """Readers pick the codec from the name: gzip bytes without .gz, or a .gz/.bz2 name over
    plain text, keep the object and its folder out with the reason; nothing is registered."""
    root = tmp_path / "lake"
    (root / "gz_noext").mkdir(parents=True)
    (root / "gz_noext" / "part-00000").write_bytes(gzip.compress(b"1,alice,2.5\n2,bob,3.5\n"))
    (root / "fake_gz").mkdir()
    (root / "fake_gz" / "b.csv.gz").write_bytes(b"1,alice,2.5\n2,bob,3.5\n")
    (root / "fake_bz2").mkdir()
    (root / "fake_bz2" / "c.csv.bz2").write_bytes(gzip.compress(b"1,alice,2.5\n"))
    report = crawl(str(root), database=glue_db, catalog=glue)
    reasons = {s.path: s.reason for s in report.skipped}
    assert reasons[str(root / "gz_noext" / "part-00000")].startswith(
        "gzip content but the name has no .gz suffix: readers pick the codec from the file name")
    assert reasons[str(root / "fake_gz" / "b.csv.gz")].startswith(
        "named *.gz but the content is not gzip")
    assert reasons[str(root / "fake_bz2" / "c.csv.bz2")].startswith(
        "gzip content but the name has no .gz suffix")
    for folder in ("gz_noext", "fake_gz", "fake_bz2"):
        assert "unreadable object(s) inside" in reasons[str(root / folder)]
    assert report.tables == [] and glue.list_tables(glue_db) == []


@pytest.mark.parametrize(("pattern", "excluded"), [
    ("*.{json,txt}", ["notes.txt", "top.json"]),
    ("*.json", ["top.json"]),
    ("**.json", ["dt=1/deep/d.json", "dt=1/x.json", "top.json"]),
    ("**/*.json", ["dt=1/deep/d.json", "dt=1/x.json"]),
    ("dt=1/*", ["dt=1/a.csv", "dt=1/x.json"]),
    ("dt=1/**", ["dt=1/a.csv", "dt=1/deep/d.json", "dt=1/x.json"]),
])
def test_exclude_patterns_follow_glue_glob(tmp_path: Path, pattern: str,
                                           excluded: list[str]) -> None:
    """--exclude is matched on each object's path below the include path with Glue's glob
    rules (listing only: no catalog)."""
    from lakeforge.crawler import list_objects, resolve_root

    root = tmp_path / "sales"
    for rel in ("top.json", "notes.txt", "dt=1/a.csv", "dt=1/x.json", "dt=1/deep/d.json"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("1,2\n")
    objects, ignored, count = list_objects(resolve_root(str(root)), exclude=[pattern])
    kept = {"/".join([*o.rel_dir, o.name]) for o in objects}
    assert (count, ignored) == (len(excluded), 0)
    assert kept == {"top.json", "notes.txt", "dt=1/a.csv", "dt=1/x.json",
                    "dt=1/deep/d.json"} - set(excluded)


def test_malformed_exclude_fails_before_writing(tmp_path: Path, glue: GlueApiCatalog,
                                                glue_db: str) -> None:
    (tmp_path / "t").mkdir()
    with pytest.raises(ConfigError, match=r"^exclude pattern '\*\.\{json,txt': '\{' without"):
        crawl(str(tmp_path / "t"), database=glue_db, catalog=glue, exclude=["*.{json,txt"])
    assert not glue.database_exists(glue_db)


# --------------------------------------------------------------------------- skipped objects


def test_empty_and_corrupt_files_are_reported(tmp_path: Path, glue: GlueApiCatalog,
                                              glue_db: str) -> None:
    root = tmp_path / "t"
    write_parquet(root / "dt=1" / "a.parquet", sales())
    (root / "dt=1" / "empty.parquet").write_bytes(b"")
    write_parquet(root / "dt=2" / "a.parquet", sales())
    good = (root / "dt=2" / "a.parquet").read_bytes()
    (root / "dt=3").mkdir()
    (root / "dt=3" / "broken.parquet").write_bytes(good[:-8] + b"\xff\xff\x00\x00PAR1")
    (root / "dt=4").mkdir()
    (root / "dt=4" / "README.md").write_text("just words\n")
    report = crawl(str(root), database=glue_db, catalog=glue)
    reasons = {s.path: s.reason for s in report.skipped}
    assert reasons[str(root / "dt=1" / "empty.parquet")] == "empty file (0 bytes)"
    assert "corrupt Parquet footer" in reasons[str(root / "dt=3" / "broken.parquet")]
    assert "unreadable" in reasons[str(root / "dt=3")]
    assert "unrecognised format" in reasons[str(root / "dt=4" / "README.md")]
    assert sorted(p.values for p in glue.get_partitions(glue_db, "t")) == [("1",), ("2",)]


def test_missing_include_path_and_bad_policy(tmp_path: Path, glue: GlueApiCatalog,
                                             glue_db: str) -> None:
    with pytest.raises(InputPathError, match="does not exist"):
        crawl(str(tmp_path / "nope"), database=glue_db, catalog=glue)
    with pytest.raises(ConfigError, match="recrawl_policy"):
        crawl(str(tmp_path), database=glue_db, catalog=glue, recrawl_policy="SOMETIMES")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- schema drift


def test_schema_drift_added_column_merged_and_type_change_reported(
    tmp_path: Path, glue: GlueApiCatalog, glue_db: str
) -> None:
    root = tmp_path / "drift"
    write_parquet(root / "dt=1" / "a.parquet", sales())
    write_parquet(root / "dt=2" / "a.parquet", sales())
    write_parquet(root / "dt=3" / "a.parquet", sales(extra={"channel": pa.array(["web"] * 3)}))
    write_parquet(root / "dt=4" / "a.parquet",
                  sales(extra={"qty": pa.array([1, 2, 3], pa.int64())}))
    write_parquet(root / "dt=5" / "a.parquet",
                  sales(extra={"amount": pa.array(["1.5", "x", None], pa.string())}))
    report = crawl(str(root), database=glue_db, catalog=glue)
    t = report.table("drift")
    assert columns(t) == {"id": "bigint", "amount": "double", "customer": "string",
                          "qty": "int", "channel": "string"}
    assert sorted(p.values for p in glue.get_partitions(glue_db, "drift")) == [("1",), ("2",),
                                                                               ("3",)]
    skips = {s.path: s.reason for s in report.skipped}
    assert set(skips) == {str(root / "dt=4"), str(root / "dt=5")}
    assert "incompatible schema" in skips[str(root / "dt=5")] and "'amount'" in skips[
        str(root / "dt=5")]
    # Spark reads a Parquet INT32 column only as int: int -> bigint needs a rewrite.
    assert "'qty' is bigint here but int" in skips[str(root / "dt=4")]


def test_update_in_database_removes_missing_columns(tmp_path: Path, glue: GlueApiCatalog,
                                                   glue_db: str) -> None:
    """A full recrawl registers exactly the files' columns (Glue's default "update the table
    definition"): a column gone from every file is removed and reported, order is kept."""
    root = tmp_path / "t"
    legacy = {"legacy": pa.array(["x"] * 3)}
    write_parquet(root / "dt=1" / "a.parquet", sales(extra=legacy))
    write_parquet(root / "dt=2" / "a.parquet", sales(extra=legacy))
    crawl(str(root), database=glue_db, catalog=glue)
    for d in (1, 2):
        write_parquet(root / f"dt={d}" / "a.parquet",
                      sales(extra={"extra": pa.array([True] * 3)}))
    report = crawl(str(root), database=glue_db, catalog=glue)
    assert report.table("t").schema_changes == ["added column extra boolean",
                                                "column legacy no longer in the files"]
    assert [c.name for c in glue.get_table(glue_db, "t").columns] == [  # type: ignore[union-attr]
        "id", "amount", "customer", "qty", "extra"]
    # Nothing changed since: the next crawl reports nothing.
    assert crawl(str(root), database=glue_db, catalog=glue).table("t").schema_changes == []


def test_json_struct_fields_differing_in_case_keep_their_first_spelling(
    tmp_path: Path, glue: GlueApiCatalog, glue_db: str
) -> None:
    """Nested keys match regardless of case, as top-level ones: the struct type keeps the first
    spelling whether a file holds one record or several (it was lower-cased once two records
    merged), across files too, and a recrawl that only meets another spelling reports no
    change."""
    one = tmp_path / "one"
    one.mkdir()
    (one / "a.json").write_text('{"id": 1, "ctx": {"userId": 1}}\n')
    two = tmp_path / "two"
    two.mkdir()
    (two / "b.json").write_text('{"id": 1, "ctx": {"userId": 1}}\n'
                                '{"id": 2, "ctx": {"userid": 2, "Page": "p"}}\n')
    (two / "c.json").write_text('{"id": 3, "ctx": null}\n{"id": 4, "ctx": {"USERID": 3.5}}\n')
    first = crawl(str(one), database=glue_db, catalog=glue)
    assert first.table("one").columns == [("id", "bigint"), ("ctx", "struct<userId:bigint>")]
    merged = crawl(str(two), database=glue_db, catalog=glue)
    assert merged.table("two").columns == [("id", "bigint"),
                                           ("ctx", "struct<userId:double,Page:string>")]
    (one / "a.json").write_text('{"id": 1, "ctx": {"USERID": 5}}\n{"id": 2, "ctx": null}\n')
    again = crawl(str(one), database=glue_db, catalog=glue)
    assert again.table("one").schema_changes == []
    assert [(c.name, c.type) for c in glue.get_table(glue_db, "one").columns] == [  # type: ignore[union-attr]
        ("id", "bigint"), ("ctx", "struct<userId:bigint>")]


def test_json_nested_case_duplicates_and_mixed_arrays_skip_the_file_not_the_crawl(
    tmp_path: Path, glue: GlueApiCatalog, glue_db: str
) -> None:
    """A nested object holding two keys that differ only in case (the OpenX SerDe fails the
    row) and an array mixing scalars and objects (no Hive type holds both) keep the file and
    its folder out with the line and field; the crawl goes on (the array case raised out of
    the crawl before)."""
    root = tmp_path / "lake"
    for name, text in (("dup", '{"id": 1, "ctx": {"x": {"Id": 1, "ID": 2}}}\n'),
                       ("mixed", '{"id": 1, "tags": [1, {"b": 2}]}\n'),
                       ("ok", '{"id": 1, "tags": [{"Id": 1}, {"iD": "s"}]}\n')):
        (root / name).mkdir(parents=True)
        (root / name / "part.json").write_text(text)
    report = crawl(str(root), database=glue_db, catalog=glue)
    assert [(t.name, t.columns) for t in report.tables] == [
        ("lake", [("id", "bigint"), ("tags", "array<struct<Id:string>>")])]
    reasons = {s.path: s.reason for s in report.skipped}
    assert reasons[str(root / "dup" / "part.json")] == (
        "line 1, field 'ctx': an object holds keys 'Id' and 'ID', which differ only in case: "
        "the OpenX JSON SerDe lower-cases keys (case.insensitive) and fails such a row with a "
        "duplicate key")
    assert reasons[str(root / "mixed" / "part.json")] == (
        "line 1, field 'tags': bigint and struct<b:bigint> cannot be merged")


def test_add_new_columns_only_keeps_missing_and_retyped_columns(
    tmp_path: Path, glue: GlueApiCatalog, glue_db: str
) -> None:
    """add_new_columns_only (Glue's MergeNewColumns): new columns are added; a column gone from
    the files and a changed type are kept as registered and reported as not applied. Without
    the option the same recrawl applies both (type conflicts follow the same rule)."""
    root = tmp_path / "j"
    root.mkdir()
    (root / "a.json").write_text('{"id": 1, "legacy": "x", "n": 1}\n')
    crawl(str(root), database=glue_db, catalog=glue)
    (root / "a.json").write_text('{"id": 2, "n": "many", "extra": true}\n')
    merged = crawl(str(root), database=glue_db, catalog=glue, add_new_columns_only=True)
    assert merged.table("j").schema_changes == [
        "added column extra boolean",
        "not applied (add new columns only): column n: bigint -> string",
        "not applied (add new columns only): column legacy no longer in the files"]
    assert [(c.name, c.type) for c in glue.get_table(glue_db, "j").columns] == [  # type: ignore[union-attr]
        ("id", "bigint"), ("legacy", "string"), ("n", "bigint"), ("extra", "boolean")]
    updated = crawl(str(root), database=glue_db, catalog=glue)
    assert updated.table("j").schema_changes == ["column n: bigint -> string",
                                                 "column legacy no longer in the files"]
    assert [(c.name, c.type) for c in glue.get_table(glue_db, "j").columns] == [  # type: ignore[union-attr]
        ("id", "bigint"), ("n", "string"), ("extra", "boolean")]


def test_add_new_columns_only_csv_is_positional(tmp_path: Path, glue: GlueApiCatalog,
                                                glue_db: str) -> None:
    root = tmp_path / "c"
    root.mkdir()
    (root / "a.csv").write_text("1,x,2.5\n")
    crawl(str(root), database=glue_db, catalog=glue)
    (root / "a.csv").write_text("1,x\n")
    kept = crawl(str(root), database=glue_db, catalog=glue, add_new_columns_only=True)
    assert kept.table("c").schema_changes == [
        "not applied (add new columns only): column col2 no longer in the files"]
    assert len(glue.get_table(glue_db, "c").columns) == 3  # type: ignore[union-attr]
    (root / "a.csv").write_text("id,name\n1,x\n")  # a header now: names differ at column 0
    refused = crawl(str(root), database=glue_db, catalog=glue, add_new_columns_only=True,
                    csv_header="present")
    assert refused.tables == []
    assert refused.skipped[0].reason == (
        f"table {glue_db}.c not updated: CSV column 0 is 'col0' in the table but 'id' in the files "
        "(CSV columns are read by position) (add_new_columns_only: existing columns are never "
        "changed)")


def _partition_columns(glue: GlueApiCatalog, glue_db: str, table: str) -> dict[tuple[str, ...],
                                                                       list[tuple[str, str]]]:
    parts = glue.glue.get_partitions(DatabaseName=glue_db, TableName=table)["Partitions"]
    return {tuple(p["Values"]): [(c["Name"], c["Type"]) for c in p["StorageDescriptor"]["Columns"]]
            for p in parts}


def test_partitions_inherit_from_table_updates_existing_partition_schemas(
    tmp_path: Path, glue: GlueApiCatalog, glue_db: str
) -> None:
    """A full recrawl that retypes a column updates the table only: registered partitions keep
    their old columns (Athena: HIVE_PARTITION_SCHEMA_MISMATCH for text tables). With
    partitions_inherit_from_table (Glue's InheritFromTable) they take the table's columns,
    locations kept, and the report counts them; nothing left to update the next time."""
    root = tmp_path / "t"
    for d in (1, 2):
        (root / f"dt={d}").mkdir(parents=True)
        (root / f"dt={d}" / "a.csv").write_text("1,x\n2,y\n")
    crawl(str(root), database=glue_db, catalog=glue)
    (root / "dt=1" / "a.csv").write_text("1,x\nn/a,y\n")
    plain = crawl(str(root), database=glue_db, catalog=glue)
    assert plain.table("t").schema_changes == ["column col0: bigint -> string"]
    assert plain.table("t").partitions_updated == 0
    stale = [("col0", "bigint"), ("col1", "string")]
    assert _partition_columns(glue, glue_db, "t") == {("1",): stale, ("2",): stale}
    (root / "dt=3").mkdir()
    (root / "dt=3" / "a.csv").write_text("a,x\n")
    inherited = crawl(str(root), database=glue_db, catalog=glue, partitions_inherit_from_table=True)
    t = inherited.table("t")
    assert (t.partitions_added, t.partitions_updated) == (1, 2)
    assert t.to_dict()["partitions_updated"] == 2
    fresh = [("col0", "string"), ("col1", "string")]
    assert _partition_columns(glue, glue_db, "t") == {("1",): fresh, ("2",): fresh, ("3",): fresh}
    assert {p.values: p.location for p in glue.get_partitions(glue_db, "t")} == {
        (d,): str(root / f"dt={d}") for d in ("1", "2", "3")}
    again = crawl(str(root), database=glue_db, catalog=glue, partitions_inherit_from_table=True)
    assert again.table("t").partitions_updated == 0


def test_partitions_inherit_from_table_needs_a_capable_catalog(tmp_path: Path,
                                                               glue_db: str) -> None:
    from lakeforge.catalog.base import Catalog

    bare = type("BareCatalog", (Catalog,),
                {m: (lambda *a, **k: None) for m in Catalog.__abstractmethods__})()
    (tmp_path / "t").mkdir()
    with pytest.raises(ConfigError, match=r"^partitions_inherit_from_table needs a catalog "
                                          r"backend .*; BareCatalog cannot$"):
        crawl(str(tmp_path / "t"), database=glue_db, catalog=bare,
              partitions_inherit_from_table=True)


def test_dissimilar_folders_become_separate_tables(tmp_path: Path, glue: GlueApiCatalog,
                                                   glue_db: str) -> None:
    root = tmp_path / "lake"
    write_parquet(root / "orders" / "o.parquet", sales())
    write_parquet(root / "users" / "u.parquet",
                  pa.table({"user": pa.array(["x"]), "email": pa.array(["e"])}))
    report = crawl(str(root), database=glue_db, catalog=glue)
    assert sorted(t.name for t in report.tables) == ["orders", "users"]
    assert all(t.partition_keys == [] for t in report.tables)


def test_similar_folders_are_partitions_unless_table_level(tmp_path: Path,
                                                           glue: GlueApiCatalog,
                                                           glue_db: str) -> None:
    root = tmp_path / "lake"
    write_parquet(root / "eu" / "x.parquet", sales())
    write_parquet(root / "us" / "x.parquet", sales())
    report = crawl(str(root), database=glue_db, catalog=glue)
    assert [(t.name, t.partition_keys) for t in report.tables] == [("lake", ["partition_0"])]
    report2 = crawl(str(root), database=glue_db + "b", catalog=glue, table_level=2)
    assert sorted(t.name for t in report2.tables) == ["eu", "us"]


def test_six_similar_schemas_are_one_cluster_and_one_table(tmp_path: Path) -> None:
    """Six distinct but similar schemas (each shares 10 of 12 names with the others) are one
    schema cluster, so one table; the 5-cluster limit is tested in test_crawler_grouping.py."""
    from lakeforge.crawler.classify import FileSchema
    from lakeforge.crawler.grouping import Folder
    from lakeforge.crawler.listing import resolve_root

    root = resolve_root(str(tmp_path))
    base = [("a", "int"), ("b", "int"), ("c", "int"), ("d", "int"), ("e", "int"),
            ("f", "int"), ("g", "int"), ("h", "int"), ("i", "int"), ("j", "int")]
    folders = [Folder((f"p{i}",), f"{tmp_path}/p{i}", [],
                      FileSchema("parquet", None, tuple([*base, (f"x{i}", "int")])))
               for i in range(6)]
    plans, skipped = plan_tables(root, folders)
    assert len(plans) == 1 and len(plans[0].columns) == 16 and skipped == []
    assert [v for v, _ in plans[0].partitions] == [(f"p{i}",) for i in range(6)]


# --------------------------------------------------------------------------- policies


def test_incremental_recrawl_reads_only_new_folders(tmp_path: Path, glue: GlueApiCatalog,
                                                    glue_db: str) -> None:
    root = tmp_path / "events"
    for d in range(3):
        write_parquet(root / f"dt={d}" / "a.parquet", sales())
    first = crawl(str(root), database=glue_db, catalog=glue)
    assert first.table("events").partitions_added == 3
    # A registered folder that is now unreadable proves old folders are not read again.
    (root / "dt=0" / "a.parquet").write_bytes(b"PAR1 garbage")
    write_parquet(root / "dt=3" / "a.parquet", sales())
    write_parquet(root / "dt=4" / "a.parquet", sales(extra={"note": pa.array(["n"] * 3)}))
    second = crawl(str(root), database=glue_db, catalog=glue,
                   recrawl_policy="CRAWL_NEW_FOLDERS_ONLY")
    t = second.table("events")
    assert (t.partitions_added, t.partitions_already_present) == (1, 3)
    assert second.objects_read == 2 and t.schema_changes == []
    [skip] = second.skipped
    assert skip.path == str(root / "dt=4")
    assert skip.reason.startswith("folder not registered: its schema is not compatible with "
                                  f"table {glue_db}.events (added column note string)")
    assert [c.name for c in glue.get_table(glue_db, "events").columns] == [  # type: ignore[union-attr]
        "id", "amount", "customer", "qty"]
    assert sorted(p.values for p in glue.get_partitions(glue_db, "events")) == [
        ("0",), ("1",), ("2",), ("3",)]
    third = crawl(str(root), database=glue_db, catalog=glue,
                  recrawl_policy="CRAWL_NEW_FOLDERS_ONLY")
    assert third.table("events").partitions_added == 0 and third.objects_read == 1


def test_incremental_forces_log_policies(tmp_path: Path, glue: GlueApiCatalog,
                                         glue_db: str) -> None:
    """CRAWL_NEW_FOLDERS_ONLY: both policies LOG (others rejected, as by Glue's API), no schema
    change, no partition or table deleted, no new table once the include path has tables."""
    root = tmp_path / "lake"
    for d in range(2):
        write_parquet(root / "t" / f"dt={d}" / "a.parquet", sales())
    write_parquet(root / "u" / "a.parquet", pa.table({"k": pa.array([1]), "w": pa.array(["x"])}))
    assert sorted(t.name for t in crawl(str(root), database=glue_db, catalog=glue).tables) == [
        "t", "u"]
    for bad in ({"schema_change_policy": "UPDATE_IN_DATABASE"},
                {"delete_behavior": "DELETE_FROM_DATABASE"},
                {"delete_behavior": "DEPRECATE_IN_DATABASE", "schema_change_policy": "LOG"}):
        with pytest.raises(ConfigError, match="^recrawl_policy CRAWL_NEW_FOLDERS_ONLY allows "
                                              "only LOG for schema_change_policy and "
                                              "delete_behavior"):
            crawl(str(root), database=glue_db, catalog=glue,
                  recrawl_policy="CRAWL_NEW_FOLDERS_ONLY", **bad)  # type: ignore[arg-type]
    import shutil

    shutil.rmtree(root / "t" / "dt=0")
    write_parquet(root / "t" / "dt=2" / "a.parquet",
                  sales().drop_columns(["customer"]))  # a subset of the table's columns fits
    write_parquet(root / "fresh" / "a.parquet", pa.table({"z": pa.array([1])}))
    report = crawl(str(root), database=glue_db, catalog=glue,
                   recrawl_policy="CRAWL_NEW_FOLDERS_ONLY",
                   schema_change_policy="LOG", delete_behavior="LOG")
    t = report.table("t")
    assert (t.partitions_added, t.partitions_missing, t.partitions_deleted) == (1, [("0",)], 0)
    assert sorted(p.values for p in glue.get_partitions(glue_db, "t")) == [("0",), ("1",), ("2",)]
    assert [c.name for c in glue.get_table(glue_db, "t").columns] == [  # type: ignore[union-attr]
        "id", "amount", "customer", "qty"]
    assert [s.path for s in report.skipped] == [str(root / "fresh")]
    assert "adds no new tables after the first crawl" in report.skipped[0].reason
    assert sorted(glue.list_tables(glue_db)) == ["t", "u"]
    # The first crawl of an include path with no crawler tables still creates them.
    first = crawl(str(root / "fresh"), database=glue_db + "f", catalog=glue,
                  recrawl_policy="CRAWL_NEW_FOLDERS_ONLY")
    assert [x.name for x in first.tables] == ["fresh"]


def test_hive_key_names_are_sanitised_and_recognised_on_recrawl(
    tmp_path: Path, glue: GlueApiCatalog, glue_db: str
) -> None:
    root = tmp_path / "Web Events"
    write_parquet(root / "Event-Date=2024-01-01" / "a.parquet", sales())
    first = crawl(str(root), database=glue_db, catalog=glue)
    assert [(t.name, t.partition_keys) for t in first.tables] == [("web_events", ["event_date"])]
    write_parquet(root / "Event-Date=2024-01-02" / "a.parquet", sales())
    second = crawl(str(root), database=glue_db, catalog=glue,
                   recrawl_policy="CRAWL_NEW_FOLDERS_ONLY")
    t = second.table("web_events")
    assert (t.partitions_added, t.partitions_already_present, second.skipped) == (1, 1, [])


def test_incremental_recrawl_of_unpartitioned_table(tmp_path: Path, glue: GlueApiCatalog,
                                                    glue_db: str) -> None:
    root = tmp_path / "flat"
    write_parquet(root / "a.parquet", sales())
    crawl(str(root), database=glue_db, catalog=glue)
    write_parquet(root / "b.parquet", sales())
    report = crawl(str(root), database=glue_db, catalog=glue,
                   recrawl_policy="CRAWL_NEW_FOLDERS_ONLY")
    t = report.table("flat")
    assert (t.partitions_added, report.objects_read, report.skipped) == (0, 0, [])


def test_schema_change_policy_log_keeps_catalog_schema(tmp_path: Path, glue: GlueApiCatalog,
                                                       glue_db: str) -> None:
    root = tmp_path / "t"
    write_parquet(root / "dt=1" / "a.parquet", sales())
    crawl(str(root), database=glue_db, catalog=glue)
    write_parquet(root / "dt=2" / "a.parquet", sales(extra={"extra": pa.array([1, 2, 3])}))
    report = crawl(str(root), database=glue_db, catalog=glue, schema_change_policy="LOG")
    t = report.table("t")
    assert t.schema_changes == ["not applied (LOG): added column extra bigint"]
    assert t.partitions_added == 1 and t.partitions_already_present == 1
    assert "extra" not in [c.name for c in glue.get_table(glue_db, "t").columns]  # type: ignore[union-attr]


def test_delete_behaviors(tmp_path: Path, glue: GlueApiCatalog, glue_db: str) -> None:
    import shutil

    root = tmp_path / "lake"
    for d in range(3):
        write_parquet(root / "t" / f"dt={d}" / "a.parquet", sales())
    write_parquet(root / "gone" / "a.parquet",
                  pa.table({"z": pa.array([1]), "y": pa.array(["q"])}))
    crawl(str(root), database=glue_db, catalog=glue)
    shutil.rmtree(root / "t" / "dt=1")
    shutil.rmtree(root / "gone")
    logged = crawl(str(root), database=glue_db, catalog=glue)
    assert logged.table("t").partitions_missing == [("1",)]
    assert logged.tables_missing == ["gone"] and len(glue.get_partitions(glue_db, "t")) == 3
    deleted = crawl(str(root), database=glue_db, catalog=glue,
                    delete_behavior="DEPRECATE_IN_DATABASE")
    assert deleted.tables_missing == ["gone"]
    assert "DEPRECATED_BY_CRAWLER" in glue.get_table(glue_db, "gone").parameters  # type: ignore[union-attr]
    crawl(str(root), database=glue_db, catalog=glue, delete_behavior="DELETE_FROM_DATABASE")
    assert sorted(p.values for p in glue.get_partitions(glue_db, "t")) == [("0",), ("2",)]
    assert glue.get_table(glue_db, "gone") is None


def test_tables_not_created_by_the_crawler_are_left_alone(tmp_path: Path,
                                                          glue: GlueApiCatalog,
                                                          glue_db: str) -> None:
    from lakeforge.catalog import Column, Partition, TableSpec

    root = tmp_path / "curated"
    write_parquet(root / "published" / "dt=1" / "a.parquet", sales())
    write_parquet(root / "published" / "dt=2" / "a.parquet", sales())
    write_parquet(root / "other" / "a.parquet",
                  pa.table({"k": pa.array([1]), "w": pa.array(["x"])}))
    glue.create_database(glue_db)
    glue.create_or_update_table(TableSpec(glue_db, "published", [Column("id", "bigint")],
                                          str(root / "published"), [Column("dt", "string")]))
    glue.add_partitions(glue_db, "published", [Partition(("1",), str(root / "_v7" / "dt=1"))])
    report = crawl(str(root), database=glue_db, catalog=glue,
                   delete_behavior="DELETE_FROM_DATABASE")
    assert [t.name for t in report.tables] == ["other"]
    assert "which the crawler did not create" in report.skipped[0].reason
    assert [p.values for p in glue.get_partitions(glue_db, "published")] == [("1",)]
    assert [c.name for c in glue.get_table(glue_db, "published").columns] == ["id"]  # type: ignore[union-attr]


def test_partition_projection_properties(tmp_path: Path, glue: GlueApiCatalog,
                                         glue_db: str) -> None:
    root = tmp_path / "p"
    for dt in ("2024-01-01", "2024-01-03"):
        for h in ("01", "02"):
            write_parquet(root / f"dt={dt}" / f"hour={h}" / "a.parquet", sales())
    crawl(str(root), database=glue_db, catalog=glue, partition_projection=True)
    params = glue.get_table(glue_db, "p").parameters  # type: ignore[union-attr]
    assert params["projection.enabled"] == "true"
    assert params["projection.dt.type"] == "date"
    assert params["projection.dt.range"] == "2024-01-01,NOW"
    assert (params["projection.hour.type"], params["projection.hour.range"]) == ("integer", "1,2")
    assert params["projection.hour.digits"] == "2"
    assert params["storage.location.template"] == f"{root}/dt=${{dt}}/hour=${{hour}}"


# --------------------------------------------------------------------------- S3 (moto)


def test_crawl_s3_through_moto(moto_endpoint: str, glue: GlueApiCatalog, glue_db: str,
                               tmp_path: Path) -> None:
    s3 = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    bucket = f"b-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    local = write_parquet(tmp_path / "x.parquet", sales())
    for dt in ("2024-01-01", "2024-01-02"):
        s3.put_object(Bucket=bucket, Key=f"raw/sales/dt={dt}/part-0.parquet",
                      Body=local.read_bytes())
    s3.put_object(Bucket=bucket, Key="raw/sales/_SUCCESS", Body=b"")
    s3.put_object(Bucket=bucket, Key="raw/sales/dt=2024-01-02/empty.parquet", Body=b"")
    report = crawl([f"s3://{bucket}/raw/sales"], database=glue_db, catalog=glue,
                   endpoint_url=moto_endpoint)
    t = report.table("sales")
    assert t.location == f"s3://{bucket}/raw/sales" and t.partitions_added == 2
    assert [s.reason for s in report.skipped] == ["empty file (0 bytes)"]
    [p] = glue.get_partitions(glue_db, "sales", expression="dt > '2024-01-01'")
    assert p.location == f"s3://{bucket}/raw/sales/dt=2024-01-02"
