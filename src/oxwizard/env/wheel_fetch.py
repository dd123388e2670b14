"""A plan's wheels fetched in-process, the way :mod:`oxwizard.env.index` reads the sources.

The API impact reads each new version's wheel. pip's dry run already said where it is (the plan's
``Change.source``, redacted, and its sha256), so there is no need to start ``pip download`` (its
start-up alone costs more than fetching a mid-size wheel): the URL is fetched with the same HTTP
client as the index pages (TLS, ``--cert``, ``--client-cert``, ``--trusted-host``, proxies), several
at once, and checked against the plan's sha256. The credentials come from the configured source on
the same host (its user-info) or ``~/.netrc`` — never from the redacted URL, never written anywhere.

Each wheel is written to a file as it comes (and hashed on the way), never held whole in memory: a
plan of an ML environment names wheels of hundreds of MB, several at once.

What this cannot fetch (a source needing a keyring, an answer other than 200) is left to
``pip download``; a wheel whose sha256 is not the plan's is not read at all (said, in the impact's
limits). With ``--no-index`` only hosts of ``--find-links`` are asked, as pip would.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit, urlunsplit

from oxwizard.core.redact import redact_text
from oxwizard.env.index import TIMEOUT, Sink, SourceFailed, _Http, _split_auth
from oxwizard.env.specs import IndexOptions

MAX_THREADS = 8


@dataclass
class Fetched:
    """Where one wheel was written, or why it could not be fetched (redacted)."""

    path: Path | None
    error: str = ""
    final: bool = False  # the source answered with other bytes than the plan's: pip is not asked either


def _netloc(url: str) -> str:
    """``host:port`` as written, without user-info."""
    return urlsplit(url).netloc.rpartition("@")[2].lower()


def fetchable_url(index: IndexOptions, source: str) -> str | None:
    """The URL to fetch a plan's ``source`` from (its user-info mask dropped), or None when pip must
    fetch it: not an http(s) wheel, or ``--no-index`` and not on a ``--find-links`` host."""
    parts = urlsplit(source)
    if parts.scheme not in ("http", "https") or not parts.path.endswith(".whl") or not parts.hostname:
        return None
    host = _netloc(source)
    if index.no_index and host not in {_netloc(link) for link in index.find_links if "://" in link}:
        return None
    return urlunsplit((parts.scheme, host, parts.path, parts.query, ""))


def _auth(index: IndexOptions, url: str) -> str | None:
    """The Authorization header for ``url``: a configured source's user-info on that host, else netrc."""
    host = _netloc(url)
    for configured in [index.index_url or "", *index.extra_index_urls, *index.find_links]:
        if "@" in urlsplit(configured).netloc and _netloc(configured) == host:
            return _split_auth(configured)[1]
    return _split_auth(url)[1]


def get(http: _Http, index: IndexOptions, url: str, sink: Sink | None = None) -> tuple[int, bytes]:
    """``url``'s status and body (see :meth:`oxwizard.env.index._Http.get` for ``sink``), with the
    credentials :func:`_auth` finds for it, sent as a header, never in the URL."""
    headers = {"User-Agent": "oxwizard"}
    auth = _auth(index, url)
    if auth:
        headers["Authorization"] = auth
    parts = urlsplit(url)
    if "@" in parts.netloc:  # (a page may name files with user-info in their URL)
        url = urlunsplit((parts.scheme, _netloc(url), parts.path, parts.query, ""))
    status, _, body, _ = http.get(url, headers, sink)
    return status, body


def fetch_wheels(
    index: IndexOptions, wanted: Iterable[tuple[str, str | None]], folder: Path, *, timeout: float = TIMEOUT
) -> list[Fetched]:
    """Each (URL from :func:`fetchable_url`, expected sha256 or None) fetched into ``folder``,
    concurrently, in order."""
    items = list(wanted)
    if not items:
        return []
    try:
        http = _Http(index, timeout)
    except (OSError, ValueError) as exc:  # an unreadable --cert or --client-cert: pip will say why
        return [Fetched(None, redact_text(str(exc)))] * len(items)
    try:
        with ThreadPoolExecutor(min(MAX_THREADS, len(items)), thread_name_prefix="oxwizard-wheel") as pool:
            return list(
                pool.map(lambda n: _fetch_one(http, index, *items[n], folder / f"{n}.whl"), range(len(items)))
            )
    finally:
        http.close()


def _fetch_one(http: _Http, index: IndexOptions, url: str, sha256: str | None, path: Path) -> Fetched:
    try:
        with path.open("w+b") as file:
            sink = _Hashing(file)
            status, _ = get(http, index, url, sink)
    except SourceFailed as exc:
        return Fetched(None, redact_text(str(exc)))
    except Exception as exc:  # noqa: BLE001 - any failure here only sends the wheel to pip
        return Fetched(None, redact_text(f"{type(exc).__name__}: {exc}"))
    if status != 200:
        return Fetched(None, f"HTTP {status}")
    got = sink.digest.hexdigest()
    if sha256 and got != sha256.lower():
        return Fetched(
            None, f"the wheel served differs from the plan's (sha256 {got[:12]}…, not {sha256[:12]}…)", True
        )
    return Fetched(path)


class _Hashing:
    """A body written to ``file`` as it comes, hashed on the way (:class:`oxwizard.env.index.Sink`)."""

    def __init__(self, file: BinaryIO) -> None:
        self.file = file
        self.digest = hashlib.sha256()

    def restart(self) -> None:
        self.file.seek(0)
        self.file.truncate()
        self.digest = hashlib.sha256()

    def write(self, data: bytes) -> object:
        self.digest.update(data)
        return self.file.write(data)
