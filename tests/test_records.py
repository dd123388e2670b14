"""Hashing installed files: what verification of a checkpoint and of a rollback rests on."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from oxwizard.records import hash_many, sha256_file


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
