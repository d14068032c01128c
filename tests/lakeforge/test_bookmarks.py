"""lakeforge.bookmarks: list_data_files on local folders whose names a URI parser would cut
(Hive-escaped partition values, '#', '?', ' ') and the spelling of the URIs bookmarks keep.
(The bookmark state machine itself: tests/lakeforge/test_state_bookmarks_locks.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from lakeforge.bookmarks import FileEntry, JobBookmarks, list_data_files
from lakeforge.paths import escape_partition_value
from lakeforge.state import LocalStateStore


@pytest.mark.parametrize("folder", [f"country={escape_partition_value('a/b')}", "hash#x",
                                    "q?x", "sp ace", "pct%41"])
def test_list_data_files_takes_local_folder_names_literally(tmp_path: Path, folder: str) -> None:
    (tmp_path / folder).mkdir()
    (tmp_path / folder / "f.csv").write_text("a\n1\n")
    (tmp_path / folder / "_SUCCESS").write_text("")
    files = list_data_files(str(tmp_path / folder))
    assert [(f.path, f.size) for f in files] == [(str(tmp_path / folder / "f.csv"), 4)]
    assert [f.path for f in list_data_files(str(tmp_path))] == [
        str(tmp_path / folder / "f.csv")]
    # a file:// URI names the same folder
    assert list_data_files(f"file://{tmp_path / folder}") == files


def test_list_data_files_of_a_relative_path_lists_absolute_paths(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "raw" / "c").mkdir(parents=True)
    (tmp_path / "raw" / "c" / "part-0.json").write_text("{}\n")
    monkeypatch.chdir(tmp_path)
    assert [f.path for f in list_data_files("raw/c")] == [str(tmp_path / "raw/c/part-0.json")]
    assert [f.path for f in list_data_files("raw/c/part-0.json")] == [
        str(tmp_path / "raw/c/part-0.json")]
    assert list_data_files("raw/none") == []


@pytest.mark.parametrize(("saved", "listed"), [("s3a", "s3"), ("s3", "s3a"), ("s3n", "s3a")])
def test_a_file_bookmarked_under_one_s3_spelling_is_not_new_under_another(
        tmp_path: Path, saved: str, listed: str) -> None:
    store = LocalStateStore(tmp_path / "bookmarks")
    old = [FileEntry(f"{saved}://lake/raw/orders/a.csv", 8, 1000),
           FileEntry(f"{saved}://lake/raw/orders/b.csv", 8, 1000)]
    marks = JobBookmarks(store, "j")
    assert marks.select("orders", old) == old
    marks.commit("r1")
    again = JobBookmarks(store, "j")
    new = FileEntry(f"{listed}://lake/raw/orders/c.csv", 3, 2000)
    changed = FileEntry(f"{listed}://lake/raw/orders/b.csv", 9, 3000)
    listing = [FileEntry(f"{listed}://lake/raw/orders/a.csv", 8, 1000), changed, new]
    assert again.select("orders", listing) == [changed, new]
    again.commit("r2")
    # one entry per file, in the one spelling (an older spelling's entry is replaced)
    files = JobBookmarks(store, "j").document()["contexts"]["orders"]["files"]  # type: ignore
    assert sorted(files) == [f"s3://lake/raw/orders/{n}.csv" for n in "abc"]
    assert files["s3://lake/raw/orders/b.csv"]["run_id"] == "r2"
    assert files["s3://lake/raw/orders/a.csv"]["run_id"] == "r1"
    paused = JobBookmarks(store, "j", option="job-bookmark-pause", from_run="r1", to_run="r2")
    assert paused.select("orders", listing) == [changed, new]
