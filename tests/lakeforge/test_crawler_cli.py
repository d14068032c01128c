# ruff: noqa: F811 - pytest fixtures imported from test_crawler are parameters here
"""``lakeforge crawl``: report JSON, summary, progress only on a terminal (Glue on moto)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lakeforge.cli import main

pytestmark = pytest.mark.aws


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def _lake(tmp_path: Path) -> Path:
    root = tmp_path / "raw"
    for dt in ("1", "2"):
        (root / "sales" / f"dt={dt}").mkdir(parents=True)
        pq.write_table(pa.table({"id": pa.array([1, None], pa.int64()), "v": ["a", None]}),
                       root / "sales" / f"dt={dt}" / "p.parquet")
    (root / "sales" / "dt=2" / "empty.parquet").write_bytes(b"")
    (root / "sales" / "dt=3").mkdir()
    (root / "sales" / "dt=3" / "bad.parquet").write_bytes(b"PAR1")
    return root


def test_cli_writes_report_json(tmp_path: Path, moto_endpoint: str, glue_db: str,
                                glue: object, capsys: pytest.CaptureFixture[str]) -> None:
    root = _lake(tmp_path)
    out = tmp_path / "out" / "report.json"
    code = main(["crawl", str(root / "sales"), "--database", glue_db, "--catalog", "glue",
                 "--endpoint-url", moto_endpoint, "--region", "us-east-1",
                 "--table-prefix", "raw_", "--report-json", str(out)])
    assert code == 0
    report = json.loads(out.read_text())
    [table] = report["tables"]
    assert {k: table[k] for k in ("name", "location", "format", "partitions_added",
                                  "partitions_already_present")} == {
        "name": "raw_sales", "location": str(root / "sales"), "format": "parquet",
        "partitions_added": 2, "partitions_already_present": 0}
    assert table["columns"] == [{"name": "id", "type": "bigint"}, {"name": "v", "type": "string"}]
    assert table["partition_keys"] == ["dt"]
    skipped = {s["path"]: s["reason"] for s in report["skipped"]}
    assert skipped[str(root / "sales" / "dt=2" / "empty.parquet")] == "empty file (0 bytes)"
    assert "corrupt Parquet footer" in skipped[str(root / "sales" / "dt=3" / "bad.parquet")]
    assert str(root / "sales" / "dt=3") in skipped
    captured = capsys.readouterr()
    assert f"{glue_db}.raw_sales: parquet" in captured.out
    assert "\r" not in captured.err  # not a terminal: no progress

    again = main(["crawl", str(root / "sales"), "--database", glue_db, "--catalog", "glue",
                  "--endpoint-url", moto_endpoint, "--table-prefix", "raw_",
                  "--recrawl", "new-folders-only", "--report-json", "-"])
    assert again == 0
    second = json.loads(capsys.readouterr().out)
    assert second["tables"][0]["partitions_already_present"] == 2
    assert second["tables"][0]["partitions_added"] == 0
    refused = main(["crawl", str(root / "sales"), "--database", glue_db, "--catalog", "glue",
                    "--endpoint-url", moto_endpoint, "--table-prefix", "raw_",
                    "--recrawl", "new-folders-only", "--schema-change", "update"])
    err = capsys.readouterr().err.strip().splitlines()
    assert refused == 2 and len(err) == 1
    assert err[0].startswith("error: recrawl_policy CRAWL_NEW_FOLDERS_ONLY allows only LOG")


def test_cli_progress_on_terminal(tmp_path: Path, moto_endpoint: str, glue_db: str, glue: object,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    root = _lake(tmp_path)
    tty = _Tty()
    monkeypatch.setattr("sys.stderr", tty)
    assert main(["crawl", str(root / "sales"), "--database", glue_db, "--catalog", "glue",
                 "--endpoint-url", moto_endpoint]) == 0
    text = tty.getvalue()
    assert "\robjects listed: 7 " in text and "\robjects read: 3/3 " in text
    assert "\rfolders classified: 3/3 " in text


def test_cli_add_new_columns_only_keeps_a_dropped_column_on_moto(
        tmp_path: Path, moto_endpoint: str, glue_db: str, glue: object,
        capsys: pytest.CaptureFixture[str]) -> None:
    """--add-new-columns-only (Glue's MergeNewColumns) keeps a column gone from the files; the
    default schema update removes it (Glue's "update the table definition")."""
    root = tmp_path / "raw" / "events"
    root.mkdir(parents=True)
    (root / "a.json").write_text('{"id": 1, "old": "x"}\n', encoding="utf-8")
    args = ["crawl", str(root), "--database", glue_db, "--catalog", "glue",
            "--endpoint-url", moto_endpoint, "--region", "us-east-1", "--report-json", "-"]
    assert main(args) == 0
    capsys.readouterr()
    (root / "a.json").write_text('{"id": 1, "new": 2.5}\n', encoding="utf-8")

    assert main([*args, "--add-new-columns-only"]) == 0
    [merged] = json.loads(capsys.readouterr().out)["tables"]
    assert [c["name"] for c in merged["columns"]] == ["id", "old", "new"]

    assert main(args) == 0
    [updated] = json.loads(capsys.readouterr().out)["tables"]
    assert [c["name"] for c in updated["columns"]] == ["id", "new"]


def test_cli_partitions_inherit_from_table_updates_old_partitions_on_moto(
        tmp_path: Path, moto_endpoint: str, glue_db: str, glue: object,
        capsys: pytest.CaptureFixture[str]) -> None:
    """--partitions-inherit-from-table (Glue's InheritFromTable): after a retype, the registered
    partitions take the table's columns; the summary and the report count them."""
    root = tmp_path / "raw" / "t"
    for d in (1, 2):
        (root / f"dt={d}").mkdir(parents=True)
        (root / f"dt={d}" / "a.csv").write_text("1,x\n", encoding="utf-8")
    args = ["crawl", str(root), "--database", glue_db, "--catalog", "glue",
            "--endpoint-url", moto_endpoint, "--region", "us-east-1"]
    assert main(args) == 0
    (root / "dt=1" / "a.csv").write_text("one,x\n", encoding="utf-8")
    out = tmp_path / "report.json"
    capsys.readouterr()
    assert main([*args, "--partitions-inherit-from-table", "--report-json", str(out)]) == 0
    assert f"{glue_db}.t: csv, 2 columns, partitions by [dt]: 0 added, 2 already present, 2 " \
           "updated to the table's schema" in capsys.readouterr().out
    [table] = json.loads(out.read_text())["tables"]
    assert table["partitions_updated"] == 2


def test_cli_errors(tmp_path: Path, moto_endpoint: str, glue_db: str, glue: object,
                    capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["crawl", str(tmp_path / "missing"), "--database", glue_db, "--catalog", "glue",
                 "--endpoint-url", moto_endpoint])
    assert code == 2
    assert "does not exist" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["crawl", str(tmp_path), "--catalog", "glue"])  # --database is required


@pytest.mark.slow
def test_cli_spark_catalog_in_subprocess(tmp_path: Path) -> None:
    """Slow: starts its own Spark (local env, Derby metastore under a temp lake) in a subprocess."""
    import os
    import subprocess
    import sys

    root = _lake(tmp_path)
    out = tmp_path / "report.json"
    env = {**os.environ, "LAKEFORGE_LAKE_ROOT": str(tmp_path / "lake"),
           "PYSPARK_PYTHON": sys.executable, "SPARK_LOCAL_IP": "127.0.0.1"}
    proc = subprocess.run(
        [sys.executable, "-m", "lakeforge.cli", "crawl", str(root / "sales"), "--database",
         "cli_db", "--catalog", "spark", "--env", "local", "--report-json", str(out)],
        env=env, capture_output=True, text=True, timeout=600,
        cwd=str(Path(__file__).resolve().parents[2]),
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    [table] = json.loads(out.read_text())["tables"]
    assert (table["name"], table["partitions_added"]) == ("sales", 2)
    assert "cli_db.sales: parquet" in proc.stdout
