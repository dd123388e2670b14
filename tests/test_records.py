"""Hashing installed files: what verification of a checkpoint and of a rollback rests on."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from oxwizard.core.errors import UnsafePath
from oxwizard.safety.records import EnvPaths, hash_many, record_files, sha256_file


def test_hash_many_equals_hashlib_for_small_big_and_empty_files_and_marks_what_cannot_be_read(
    tmp_path: Path,
) -> None:
    files = {
        "empty": b"",
        "small.py": b"VALUE = 1\n",
        "exactly-one-mib.bin": b"x" * (1 << 20),  # the size at which hashing moves to the pool
        "big.so": os.urandom(3 * (1 << 20) + 17),
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    (tmp_path / "folder").mkdir()
    paths = [str(tmp_path / n) for n in files] + [str(tmp_path / "missing"), str(tmp_path / "folder")]
    digests = hash_many(paths)
    assert digests[: len(files)] == [hashlib.sha256(d).hexdigest() for d in files.values()]
    assert digests[len(files) :] == [None, None]
    assert [sha256_file(p) for p in paths[: len(files)]] == digests[: len(files)]


def test_a_symlink_is_hashed_as_its_link_text_never_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("secret", encoding="utf-8")
    link = tmp_path / "link"
    link.symlink_to(outside)
    dangling = tmp_path / "dangling"
    dangling.symlink_to(tmp_path / "nowhere")
    expected = [f"symlink:{outside}", f"symlink:{tmp_path / 'nowhere'}"]
    assert hash_many([str(link), str(dangling)]) == expected
    assert [sha256_file(link), sha256_file(dangling)] == expected


def test_a_changed_byte_changes_the_digest(tmp_path: Path) -> None:
    paths = []
    for i in range(300):  # more than one batch
        path = tmp_path / f"m{i}.py"
        path.write_text(f"X = {i}\n", encoding="utf-8")
        paths.append(str(path))
    before = hash_many(paths)
    Path(paths[123]).write_text("X = 124\n", encoding="utf-8")
    after = hash_many(paths)
    assert [i for i, (a, b) in enumerate(zip(before, after, strict=True)) if a != b] == [123]


def _files(tmp_path: Path, count: int) -> list[str]:
    paths = []
    for i in range(count):
        path = tmp_path / f"d{i % 7}" / f"m{i}.py"
        path.parent.mkdir(exist_ok=True)
        path.write_text(f"X = {i}\n" + "# pad\n" * (i % 13), encoding="utf-8")
        paths.append(str(path))
    return paths


def test_many_files_hash_the_same_in_a_process_with_threads_and_without(tmp_path: Path) -> None:
    """Enough files for the second half to go to a forked child when the process has no other thread;
    with a thread running everything is hashed here. Both must give every file's own digest, also for
    a big file, a symlink, a missing file and a changed byte in the child's half."""
    paths = _files(tmp_path, 3000)
    (tmp_path / "big.so").write_bytes(os.urandom((1 << 20) + 5))
    (tmp_path / "link").symlink_to(tmp_path / "d0")
    paths[2100:2100] = [str(tmp_path / "big.so"), str(tmp_path / "link"), str(tmp_path / "missing")]
    expected = [
        "symlink:" + os.readlink(p) if os.path.islink(p) else hashlib.sha256(Path(p).read_bytes()).hexdigest()
        for p in paths
        if os.path.lexists(p)
    ]
    expected.insert(2102, None)  # type: ignore[arg-type]

    # a fresh interpreter has no other thread: there the child's half is hashed in a forked child
    # (on a machine with more than one core, which _can_fork() reports)
    code = (
        "import json, sys; from oxwizard.safety import records; paths = json.load(sys.stdin); "
        "print(json.dumps([records._can_fork(), records.hash_many(paths)]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], input=json.dumps(paths), capture_output=True, text=True
    )
    forked, digests = json.loads(done.stdout)
    assert forked == (len(os.sched_getaffinity(0)) > 1)
    assert digests == expected
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert hash_many(paths) == expected
    finally:
        stop.set()
        other.join()
    Path(paths[2900]).write_text("X = -1\n", encoding="utf-8")
    after = hash_many(paths)
    assert [i for i, (a, b) in enumerate(zip(expected, after, strict=True)) if a != b] == [2900]


def test_expected_sizes_never_hide_a_file_that_grew_or_shrank(tmp_path: Path) -> None:
    """With the manifest's sizes a file of that size is read once; any other size is read whole, so the
    digest is always the whole file's."""
    paths = _files(tmp_path, 4)
    sizes = [os.path.getsize(p) for p in paths]
    before = hash_many(paths, sizes)
    assert before == [sha256_file(p) for p in paths]
    with open(paths[1], "ab") as grown:
        grown.write(b"# appended after the checkpoint\n")
    Path(paths[2]).write_bytes(b"")
    after = hash_many(paths, sizes)
    assert after == [sha256_file(p) for p in paths]
    assert [a == b for a, b in zip(before, after, strict=True)] == [True, False, False, True]


def test_a_fifo_or_a_device_where_a_file_should_be_is_unreadable_not_a_hang(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    assert hash_many([str(fifo)], [10]) == [None]
    assert hash_many([str(fifo)]) == [None]
    assert hash_many(["/dev/zero"], [10]) == [None]  # a device that never ends
    assert hash_many(["/dev/zero"]) == [None]


def test_record_files_leaves_out_only_plain_paths_under_folders_moved_whole(tmp_path: Path) -> None:
    site = tmp_path / "lib" / "site-packages"
    info = site / "pkg-2.0.dist-info"
    info.mkdir(parents=True)
    rows = [
        "pkg/__init__.py,sha256=AAAA,1",
        "pkg/sub/mod.py,sha256=AAAA,1",
        "pkg/../outside_pkg.py,sha256=AAAA,1",  # normalises out of pkg/: kept and checked
        "pkg/./x.py,,",
        "pkg_extra.py,sha256=AAAA,1",
        "../../bin/tool,sha256=AAAA,1",
        "pkg-2.0.dist-info/RECORD,,",
    ]
    (info / "RECORD").write_text("\n".join(rows) + "\n", encoding="utf-8")
    paths = EnvPaths(tmp_path)
    drop = (str(site / "pkg") + os.sep,)
    kept = [os.path.relpath(p, tmp_path) for p in record_files(paths, info, drop=drop)]
    assert kept == [
        "lib/site-packages/outside_pkg.py",
        "lib/site-packages/pkg/x.py",
        "lib/site-packages/pkg_extra.py",
        "bin/tool",
        "lib/site-packages/pkg-2.0.dist-info/RECORD",
    ]
    # the same with a quoted field somewhere (parsed row by row, same answer)
    (info / "RECORD").write_text("\n".join([*rows, '"pkg/with,comma.py",,']) + "\n", encoding="utf-8")
    assert [os.path.relpath(p, tmp_path) for p in record_files(paths, info, drop=drop)] == kept
    (info / "RECORD").write_text("pkg/../../../../../etc/passwd,,\n", encoding="utf-8")
    with pytest.raises(UnsafePath):
        record_files(paths, info, drop=drop)
