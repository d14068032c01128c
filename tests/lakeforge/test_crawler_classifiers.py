"""Glue's built-in classifiers' documented rules ("Built-in classifiers", CSV header
heuristics; "Parameters set on Data Catalog tables by crawler").

moto runs no crawler: each test runs Lakeforge's crawler against moto's Glue API and checks
the table it registered there (columns, header skip, parameters).
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from lakeforge.catalog.glue_api import GlueApiCatalog
from lakeforge.crawler import crawl
from tests.lakeforge.crawler_data import sales, write_parquet

pytestmark = pytest.mark.aws


def _registered(glue: GlueApiCatalog, db: str, table: str) -> tuple[list[tuple[str, str]], dict]:
    spec = glue.get_table(db, table)
    assert spec is not None, f"{db}.{table} was not registered"
    return [(c.name, c.type) for c in spec.columns], dict(spec.parameters)


def test_csv_header_is_detected_despite_a_trailing_delimiter(tmp_path: Path,
                                                            glue: GlueApiCatalog,
                                                            glue_db: str) -> None:
    """Glue: "To allow for a trailing delimiter, the last column can be empty throughout the
    file" - a header row ending in a delimiter is still the header (it was read as a data row,
    so every column became string and Athena would return the header as a row)."""
    root = tmp_path / "orders"
    root.mkdir()
    (root / "a.csv").write_text("id,name,\n1,ann,\n2,bob,\n")
    crawl(str(root), database=glue_db, catalog=glue)
    cols, params = _registered(glue, glue_db, "orders")
    assert cols == [("id", "bigint"), ("name", "string"), ("col2", "string")]
    assert params.get("skip.header.line.count") == "1"


def test_csv_trailing_empty_header_value_needs_an_empty_last_column(
        tmp_path: Path, glue: GlueApiCatalog, glue_db: str) -> None:
    """An empty last header value over a last column that holds data is no header."""
    root = tmp_path / "orders"
    root.mkdir()
    (root / "a.csv").write_text("id,name,\n1,ann,x\n2,bob,y\n")
    crawl(str(root), database=glue_db, catalog=glue)
    cols, params = _registered(glue, glue_db, "orders")
    assert [n for n, _ in cols] == ["col0", "col1", "col2"]
    assert "skip.header.line.count" not in params


def test_csv_header_values_must_be_shorter_than_150_characters(
        tmp_path: Path, glue: GlueApiCatalog, glue_db: str) -> None:
    """Glue: "Except for the last column, every column in a potential header has content that
    is fewer than 150 characters" - a longer first value makes the first row data."""
    root = tmp_path / "notes"
    root.mkdir()
    long_text = "n" * 150
    (root / "a.csv").write_text(f"{long_text},qty\nshort,1\nother,2\n")
    crawl(str(root), database=glue_db, catalog=glue)
    cols, params = _registered(glue, glue_db, "notes")
    assert cols == [("col0", "string"), ("col1", "string")]
    assert "skip.header.line.count" not in params

    # 149 characters, and any length in the last column, still make a header
    ok = tmp_path / "ok"
    ok.mkdir()
    (ok / "a.csv").write_text(f"{'n' * 149},{'q' * 200}\nshort,1\nother,2\n")
    crawl(str(ok), database=glue_db, catalog=glue)
    cols, params = _registered(glue, glue_db, "ok")
    assert cols == [("n" * 149, "string"), ("q" * 200, "bigint")]
    assert params.get("skip.header.line.count") == "1"


def test_a_json_array_file_is_skipped_not_registered_as_csv(tmp_path: Path,
                                                            glue: GlueApiCatalog,
                                                            glue_db: str) -> None:
    """A one-line JSON array splits on ',' like CSV: it was registered as a CSV table of
    string columns (col0 = '[{"id": 1', ...). It is not JSON lines either (Athena's JSON
    SerDes read a line as one record), so the file and its folder are skipped with the reason;
    JSON lines crawled with them still make their table."""
    root = tmp_path / "raw"
    (root / "arrays").mkdir(parents=True)
    (root / "arrays" / "a.json").write_text(
        json.dumps([{"id": 1, "name": "ann"}, {"id": 2, "name": "bob"}]) + "\n")
    (root / "pretty").mkdir()
    (root / "pretty" / "p.json").write_text(json.dumps([{"id": 1}, {"id": 2}], indent=2))
    (root / "lines").mkdir()
    (root / "lines" / "l.json").write_text('{"id": 1}\n{"id": 2}\n')
    report = crawl([str(root / n) for n in ("arrays", "pretty", "lines")], database=glue_db,
                   catalog=glue)
    assert [t.name for t in report.tables] == ["lines"]
    assert glue.list_tables(glue_db) == ["lines"]
    reasons = {s.path: s.reason for s in report.skipped}
    for name in ("arrays/a.json", "pretty/p.json"):
        assert reasons[str(root / name)].startswith("JSON array, not JSON lines"), reasons


def test_csv_values_with_spaces_are_strings_as_glue_does_not_trim(
        tmp_path: Path, glue: GlueApiCatalog, glue_db: str) -> None:
    """Glue's CSV classifier does not trim values before typing them (DisableValueTrimming
    defaults to true), and LazySimpleSerDe reads ' 2' in a bigint column and ' true' in a
    boolean one as NULL: such columns were registered bigint / boolean and read as NULL
    (tests/lakeforge/test_crawler_spark.py reads them back). Columns whose values have no
    surrounding spaces keep their types; a blank value is unknown, like an empty one."""
    root = tmp_path / "spaced"
    root.mkdir()
    (root / "a.csv").write_text("id,amount,flag,score\n1, 2,true,1.5\n2,3, false,  \n")
    crawl(str(root), database=glue_db, catalog=glue)
    cols, _ = _registered(glue, glue_db, "spaced")
    assert cols == [("id", "bigint"), ("amount", "string"), ("flag", "string"),
                    ("score", "double")]


def test_tables_get_glue_crawler_size_parameters(tmp_path: Path, glue: GlueApiCatalog,
                                                 glue_db: str) -> None:
    """Glue's crawler sets objectCount, sizeKey, recordCount and averageRecordSize on the
    tables it writes ("Parameters set on Data Catalog tables by crawler"); they were missing.
    Parquet counts come from the footers, a text file sampled whole is counted, and a
    compressed text file longer than the sample has no count, so the table gets no
    recordCount rather than a wrong or stale one."""
    sales_root = tmp_path / "sales"
    files = [write_parquet(sales_root / f"dt={d}" / "p.parquet", sales(3)) for d in (1, 2)]
    crawl(str(sales_root), database=glue_db, catalog=glue)
    _, params = _registered(glue, glue_db, "sales")
    size = sum(f.stat().st_size for f in files)
    assert {k: params.get(k) for k in ("objectCount", "sizeKey", "recordCount",
                                       "averageRecordSize")} == {
        "objectCount": "2", "sizeKey": str(size), "recordCount": "6",
        "averageRecordSize": str(size // 6)}

    header = tmp_path / "header"
    header.mkdir()
    (header / "h.csv").write_text("id,name\n1,ann\n2,bob\n")
    crawl(str(header), database=glue_db, catalog=glue)
    _, params = _registered(glue, glue_db, "header")
    assert params["recordCount"] == "2"  # the header line is no record

    people = tmp_path / "people"
    people.mkdir()
    csv_file = people / "a.csv.gz"
    csv_file.write_bytes(gzip.compress(b"1,ann\n2,bob\n3,cy\n"))
    crawl(str(people), database=glue_db, catalog=glue, sample_bytes=4096)
    _, params = _registered(glue, glue_db, "people")
    assert (params["objectCount"], params["recordCount"]) == ("1", "3")

    rows = "".join(f"{i},name{i}\n" for i in range(4, 400)).encode()
    (people / "b.csv.gz").write_bytes(gzip.compress(rows))
    crawl(str(people), database=glue_db, catalog=glue, sample_bytes=4096)
    _, params = _registered(glue, glue_db, "people")
    assert params["objectCount"] == "2"
    assert params["sizeKey"] == str(csv_file.stat().st_size + (people / "b.csv.gz").stat().st_size)
    assert "recordCount" not in params and "averageRecordSize" not in params


def test_a_header_only_csv_file_does_not_keep_its_partition_out(tmp_path: Path,
                                                               glue: GlueApiCatalog,
                                                               glue_db: str) -> None:
    """A CSV file holding only the header (what Spark writes with header=true for an empty
    partition of a write) cannot be told from a data row on its own, so it classified as
    header-less and its folder "mixed formats": the partition with its data rows was not
    registered. Beside files with that header it is one of them, with no records; a one-row
    file with another row stays a header-less file (and keeps the folder out)."""
    root = tmp_path / "people"
    (root / "dt=1").mkdir(parents=True)
    (root / "dt=1" / "part-0.csv").write_text("id,name\n1,ann\n2,bob\n")
    (root / "dt=1" / "part-1.csv").write_text("id,name\n")
    (root / "dt=2").mkdir()
    (root / "dt=2" / "part-0.csv").write_text("id,name\n3,cy\n")
    (root / "dt=2" / "part-1.csv").write_text("name,id\n")
    report = crawl(str(root), database=glue_db, catalog=glue)
    cols, params = _registered(glue, glue_db, "people")
    assert cols == [("id", "bigint"), ("name", "string")]
    assert params["skip.header.line.count"] == "1" and params["recordCount"] == "2"
    assert [p.values for p in glue.get_partitions(glue_db, "people")] == [("1",)]
    assert "mix formats" in {s.path: s.reason for s in report.skipped}[str(root / "dt=2")]
