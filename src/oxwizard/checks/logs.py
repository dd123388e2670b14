"""Error logs: matches of a pattern written after a mark (the baseline), with rotation handled.

A mark remembers each file's size and inode. Later, what was appended since is read; when the file
was rotated (inode changed, or it shrank) the tail of the rotated file (``NAME.1``) after the mark
and the whole new file are read. A missing file is a clear failed status, never a crash.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

from oxwizard.checks.result import CheckResult, LogMark
from oxwizard.core.config import ChecksConfig

_STAMP = re.compile(r"^\s*[\d\-/T:.,+Z ]+\s+")


def mark_logs(project: Path, config: ChecksConfig) -> list[LogMark]:
    marks = []
    for rel in config.log_files:
        path = project / rel
        try:
            st = path.stat()
        except OSError:
            marks.append(LogMark(path=rel, exists=False))
            continue
        marks.append(LogMark(path=rel, exists=True, size=st.st_size, inode=st.st_ino))
    return marks


def _new_text(project: Path, mark: LogMark | None, rel: str) -> str | None:
    path = project / rel
    try:
        st = path.stat()
    except OSError:
        return None
    if mark is None or not mark.exists:
        return path.read_text(encoding="utf-8", errors="replace")
    rotated = st.st_ino != mark.inode or st.st_size < mark.size
    chunks = []
    if rotated:
        old = Path(f"{path}.1")
        if old.exists() and old.stat().st_ino == mark.inode:
            with old.open("rb") as fh:
                fh.seek(mark.size)
                chunks.append(fh.read().decode("utf-8", "replace"))
        with path.open("rb") as fh:
            chunks.append(fh.read().decode("utf-8", "replace"))
    else:
        with path.open("rb") as fh:
            fh.seek(mark.size)
            chunks.append(fh.read().decode("utf-8", "replace"))
    return "".join(chunks)


def scan_logs(project: Path, config: ChecksConfig, marks: list[LogMark] | None) -> CheckResult:
    if not config.log_files:
        return CheckResult(name="error-logs", status="skip", summary="no log-files configured")
    started = time.monotonic()
    try:
        pattern = re.compile(config.log_pattern)
    except re.error as exc:
        return CheckResult(
            name="error-logs", status="fail", summary=f"log-pattern is not a valid regex: {exc}"
        )
    by_path = {m.path: m for m in marks or []}
    matches: list[str] = []
    missing = []
    for rel in config.log_files:
        text = _new_text(project, by_path.get(rel), rel)
        if text is None:
            missing.append(rel)
            continue
        matches += [f"{rel}: {_STAMP.sub('', ln).strip()}" for ln in text.splitlines() if pattern.search(ln)]
    distinct = sorted(set(matches))
    numbers = {
        "matches": float(len(matches)),
        "distinct": float(len(distinct)),
        "missing": float(len(missing)),
    }
    details = {"new_errors": distinct, "missing": missing}
    since = "since the baseline" if marks else "in the whole file"
    if missing:
        summary = f"log file missing: {', '.join(missing)}"
        status = "fail"
    elif len(matches) > config.log_threshold:
        summary = f"{len(matches)} new matches {since} (limit {config.log_threshold}): {distinct[0]}"
        status = "fail"
    else:
        summary = f"{len(matches)} new matches {since} in {len(config.log_files)} file(s)"
        status = "pass"
    return CheckResult(
        name="error-logs",
        status=status,
        summary=summary,
        numbers=numbers,
        duration=time.monotonic() - started,
        details=details,
    )


__all__ = ["mark_logs", "scan_logs"]
