"""lakeforge.io: input checks and small-file helpers on a local folder (plain path or file://)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lakeforge.errors import InputPathError
from lakeforge.io import (
    delete_dir,
    list_files,
    list_subdirs,
    read_text,
    require_input_path,
    uri_exists,
    write_text,
)


def test_write_and_read_text_create_parents_and_keep_unicode(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "note.json"
    write_text(str(target), '{"name": "Zoë"}')
    assert target.read_text(encoding="utf-8") == '{"name": "Zoë"}'
    assert read_text(f"file://{target}") == '{"name": "Zoë"}'
    write_text(str(target), "")  # overwrite with an empty file
    assert read_text(str(target)) == ""


def test_read_text_of_a_missing_file_fails(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_text(str(tmp_path / "absent.txt"))


def test_uri_exists_for_files_folders_and_missing(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "f.txt").write_text("x")
    assert uri_exists(str(tmp_path / "d"))
    assert uri_exists(f"file://{tmp_path / 'f.txt'}")
    assert not uri_exists(str(tmp_path / "absent"))


def test_list_subdirs_and_files_skip_hidden_and_filter_suffix(tmp_path: Path) -> None:
    for rel in ["v=1/part-0.parquet", "v=1/_SUCCESS", "v=2/x/part-1.parquet",
                "v=2/.part-1.parquet.crc", "top.parquet", "notes.txt"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("")
    assert list_subdirs(str(tmp_path)) == ["v=1", "v=2"]
    assert list_subdirs(str(tmp_path / "absent")) == []
    assert [Path(p).relative_to(tmp_path).as_posix()
            for p in list_files(str(tmp_path), ".parquet")] == [
        "top.parquet", "v=1/part-0.parquet", "v=2/x/part-1.parquet"]
    assert len(list_files(str(tmp_path))) == 4
    assert list_files(str(tmp_path / "absent")) == []


def test_delete_dir_removes_everything_below(tmp_path: Path) -> None:
    (tmp_path / "v" / "k=1").mkdir(parents=True)
    (tmp_path / "v" / "k=1" / "part.parquet").write_text("")
    delete_dir(str(tmp_path / "v"))
    assert not (tmp_path / "v").exists()
    assert uri_exists(str(tmp_path))
    with pytest.raises(FileNotFoundError):
        delete_dir(str(tmp_path / "v"))


def test_require_input_path(tmp_path: Path) -> None:
    with pytest.raises(InputPathError, match="does not exist"):
        require_input_path(str(tmp_path / "absent"), "raw path")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "_SUCCESS").write_text("")
    with pytest.raises(InputPathError, match="raw path .* is an empty folder"):
        require_input_path(str(tmp_path / "empty"), "raw path")
    (tmp_path / "empty" / "data.csv").write_text("a\n1\n")
    assert require_input_path(str(tmp_path / "empty")) == str(tmp_path / "empty")
    # other cluster schemes are left to Spark (s3:// is listed: tests/lakeforge/test_io_s3.py)
    assert require_input_path("hdfs://nn/never/checked") == "hdfs://nn/never/checked"


def test_list_files_and_require_input_path_skip_hidden_folders(tmp_path: Path) -> None:
    root = tmp_path / "_lake_under_a_hidden_name"  # only components below the root count
    for rel in ["dt=1/part-0.parquet", "dt=1/_temporary/0/part-9.parquet",
                ".spark-staging-1/dt=2/part-8.parquet", "_c=1/part-1.parquet"]:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("")
    assert [Path(p).relative_to(root).as_posix() for p in list_files(str(root), ".parquet")] == [
        "_c=1/part-1.parquet", "dt=1/part-0.parquet"]
    # a write in progress (the fault points watch it): files inside hidden folders count,
    # hidden file names still do not
    (root / "dt=1" / "_temporary" / "0" / "_SUCCESS").write_text("")
    assert [Path(p).relative_to(root).as_posix()
            for p in list_files(str(root), hidden_folders=True)] == [
        ".spark-staging-1/dt=2/part-8.parquet", "_c=1/part-1.parquet",
        "dt=1/_temporary/0/part-9.parquet", "dt=1/part-0.parquet"]
    (tmp_path / "staged" / "_temporary" / "0").mkdir(parents=True)
    (tmp_path / "staged" / "_temporary" / "0" / "part-0.csv").write_text("a\n1\n")
    with pytest.raises(InputPathError, match="staged is an empty folder"):
        require_input_path(str(tmp_path / "staged"))


def test_write_text_replaces_a_local_file_whole(tmp_path: Path, monkeypatch) -> None:
    """A reader sees the old file or the new one: the text goes to a hidden temporary file in
    the same folder, renamed over the old one; a failed write leaves the old file and no
    temporary file behind."""
    import os

    from lakeforge.io import write_text

    target = tmp_path / "site" / "index.html"
    write_text(str(target), "old")
    assert target.read_text() == "old"

    def refuse(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError, match="disk full"):
        write_text(str(target), "new")
    monkeypatch.undo()
    assert target.read_text() == "old" and os.listdir(target.parent) == ["index.html"]
    write_text(str(target), "new")
    assert target.read_text() == "new" and os.listdir(target.parent) == ["index.html"]
