"""What the package sources offer for a project, read directly and concurrently, with an HTTP cache.

The sources are those pip would use (:class:`IndexOptions`, from :mod:`oxwizard.env.pipconfig`):
every index (``index-url``, default ``https://pypi.org/simple``, and each ``extra-index-url``) is
asked through the simple repository API — the JSON form (PEP 691) where the index offers it, the
HTML form (PEP 503) otherwise; ``find-links`` folders are listed locally, ``find-links`` pages
fetched once. Many projects are asked at once (threads, one kept-alive connection per host and
thread), each request with a timeout; an index that fails is not asked again in the same run, and
what it could not answer is reported as unknown, never waited for.

Answers are cached on disk (:func:`cache_dir`) the way HTTP says: within ``Cache-Control: max-age``
no request at all, after it a conditional request (``If-None-Match`` / ``If-Modified-Since``) that a
``304`` answers. Credentials (in the URL, or from ``~/.netrc``) go in an ``Authorization`` header,
never into the cache, a message or a log: URLs are shown through :func:`redact_url`.
"""

from __future__ import annotations

import base64
import functools
import gzip
import hashlib
import http.client
import json
import netrc
import os
import queue
import ssl
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit
from urllib.request import getproxies, proxy_bypass

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.tags import Tag, parse_tag
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from oxwizard.core.redact import redact_url
from oxwizard.env.specs import IndexOptions

PYPI_SIMPLE = "https://pypi.org/simple"
CACHE_ENV = "OXWIZARD_INDEX_CACHE"  # where the cache lives (tests point it at a temporary folder)
ACCEPT = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01"
JSON_TYPE = "application/vnd.pypi.simple.v1+json"
TIMEOUT = 15.0  # seconds per connect or read, pip's default --timeout
WORKERS = 16
UNREACHABLE = "unknown (index unreachable)"


def cache_dir() -> Path:
    """``$OXWIZARD_INDEX_CACHE``, else ``$XDG_CACHE_HOME/oxwizard/index`` (``~/.cache/...``)."""
    given = os.environ.get(CACHE_ENV)
    if given:
        return Path(given)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "oxwizard" / "index"


@dataclass(frozen=True)
class IndexFile:
    """One file a source offers: its name, Requires-Python and whether it is yanked."""

    filename: str
    requires_python: str | None = None
    yanked: bool = False


class SourceFailed(Exception):
    """A source could not be read (connection, timeout, TLS, an HTTP error other than 404)."""


@dataclass
class Answer:
    """What the sources offer for one project: versions a target interpreter may install, or None
    (with ``error``) when a source that could have offered more did not answer."""

    name: NormalizedName
    versions: list[Version] | None
    error: str = ""


@dataclass
class Candidates:
    """Which files count for a target interpreter: its wheel tags and full Python version."""

    tags: set[Tag]
    python_version: str
    pre: bool = False
    # memos (shared by the reader's threads): one answer per distinct tag triple / Requires-Python
    _tag_ok: dict[str, bool] = field(default_factory=dict, repr=False)
    _python_ok: dict[str, bool] = field(default_factory=dict, repr=False)

    @functools.cached_property
    def signature(self) -> str:
        """Which interpreter the answers are for (cache entries keep versions per signature)."""
        text = "\n".join([self.python_version, str(self.pre), *sorted(map(str, self.tags))])
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def versions(self, name: NormalizedName, files: Iterable[IndexFile]) -> list[Version]:
        found: set[Version] = set()
        for f in files:
            if f.yanked or (f.requires_python and not self._python_allows(f.requires_python)):
                continue
            version = self._version(name, f.filename)
            if version is None or (version.is_prerelease and not self.pre):
                continue
            found.add(version)
        return sorted(found)

    def _python_allows(self, requires_python: str) -> bool:
        ok = self._python_ok.get(requires_python)
        if ok is None:
            try:
                ok = SpecifierSet(requires_python).contains(Version(self.python_version), prereleases=True)
            except InvalidSpecifier:
                ok = True  # pip ignores a Requires-Python it cannot parse
            self._python_ok[requires_python] = ok
        return ok

    def _wheel_fits(self, filename: str) -> bool:
        """Whether a wheel's tags fit, asked once per distinct tag triple (numpy has thousands of
        files but a few dozen triples); the file name itself is parsed only for wheels that fit."""
        triple = filename[:-4].rsplit("-", 3)[-3:]
        key = "-".join(triple)
        ok = self._tag_ok.get(key)
        if ok is None:
            try:
                ok = len(triple) == 3 and not parse_tag(key).isdisjoint(self.tags)
            except ValueError:
                ok = False
            self._tag_ok[key] = ok
        return ok

    def _version(self, name: NormalizedName, filename: str) -> Version | None:
        try:
            if filename.endswith(".whl"):
                if not self._wheel_fits(filename):
                    return None
                found, version, _build, _tags = parse_wheel_filename(filename)
            elif filename.endswith((".tar.gz", ".zip")):
                found, version = parse_sdist_filename(filename)
            else:
                return None
        except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
            return None
        return version if found == name else None


# -- the sources ---------------------------------------------------------------------------------------
@dataclass
class _Source:
    url: str  # with credentials stripped
    auth: str | None  # the Authorization header, if any
    kind: str  # "index" (one page per project), "links" (one page for all), "folder" (local)
    failed: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)
    links: dict[str, list[IndexFile]] | None = None  # a find-links page or folder, read once, by name
    given: str = ""  # as configured (with its credentials, if any): shown redacted

    @property
    def shown(self) -> str:
        return redact_url(self.given or self.url)


def _split_auth(url: str) -> tuple[str, str | None]:
    """The URL without user-info, and the Authorization header its user-info or ~/.netrc gives."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"}:
        return url, None
    host = parts.hostname or ""
    user = password = None
    if "@" in parts.netloc:
        info, hostport = parts.netloc.rsplit("@", 1)
        user, _, password = info.partition(":")
        url = urlunsplit((parts.scheme, hostport, parts.path, parts.query, parts.fragment))
        user, password = unquote(user), unquote(password)
    else:
        try:
            found = netrc.netrc().authenticators(host)
        except (OSError, netrc.NetrcParseError):
            found = None
        if found:
            user, password = found[0], found[2]
    if user is None:
        return url, None
    token = base64.b64encode(f"{user}:{password or ''}".encode()).decode()
    return url, f"Basic {token}"


def _local_path(link: str) -> Path | None:
    if link.startswith("file:"):
        return Path(unquote(urlsplit(link).path))
    if "://" not in link:
        return Path(link)
    return None


# -- HTTP ----------------------------------------------------------------------------------------------
class _Http:
    """GET with kept-alive connections (one per host and thread), TLS as pip is told, proxies."""

    def __init__(self, index: IndexOptions, timeout: float) -> None:
        self.timeout = timeout
        self.trusted = {h.split(":")[0] for h in index.trusted_hosts} | set(index.trusted_hosts)
        self.proxy = index.proxy
        self._local = threading.local()
        self._opened: list[http.client.HTTPConnection] = []
        self._opened_lock = threading.Lock()
        self._verified = ssl.create_default_context(cafile=index.cert or None)
        self._insecure = ssl.create_default_context()
        self._insecure.check_hostname = False
        self._insecure.verify_mode = ssl.CERT_NONE
        if index.client_cert:
            for context in (self._verified, self._insecure):
                context.load_cert_chain(index.client_cert)

    def get(self, url: str, headers: dict[str, str]) -> tuple[int, http.client.HTTPMessage, bytes, str]:
        """Status, headers, body (decompressed) and the final URL, redirects followed."""
        for _ in range(6):
            status, head, body = self._once(url, headers)
            if status in (301, 302, 303, 307, 308) and head.get("Location"):
                target = urljoin(url, head["Location"])
                if urlsplit(target).netloc != urlsplit(url).netloc:
                    headers = {k: v for k, v in headers.items() if k != "Authorization"}
                url = target
                continue
            encoding = (head.get("Content-Encoding") or "").lower()
            if encoding == "gzip":
                body = gzip.decompress(body)
            elif encoding == "deflate":
                body = zlib.decompress(body)
            return status, head, body, url
        raise SourceFailed("too many redirects")

    def _once(self, url: str, headers: dict[str, str]) -> tuple[int, http.client.HTTPMessage, bytes]:
        parts = urlsplit(url)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        key = (parts.scheme, parts.netloc)
        for attempt in (0, 1):
            conn, fresh = self._connection(key, parts.hostname or "", parts.port)
            try:
                conn.request("GET", path, headers={"Accept-Encoding": "gzip", **headers})
                response = conn.getresponse()
                body = response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as exc:
                self._drop(key)
                if fresh or attempt:
                    raise SourceFailed(str(exc) or type(exc).__name__) from None
                continue  # a kept-alive connection the server had closed: once more on a new one
            except (OSError, http.client.HTTPException) as exc:
                self._drop(key)
                raise SourceFailed(_why(exc)) from None
            if response.will_close:
                self._drop(key)
            return response.status, response.headers, body
        raise SourceFailed("connection lost")

    def _connection(
        self, key: tuple[str, str], host: str, port: int | None
    ) -> tuple[http.client.HTTPConnection, bool]:
        pool: dict[tuple[str, str], http.client.HTTPConnection] = self._local.__dict__.setdefault("pool", {})
        conn = pool.get(key)
        if conn is not None:
            return conn, False
        scheme = key[0]
        proxy = self.proxy or (None if proxy_bypass(host) else getproxies().get(scheme))
        target = (host, port)
        if proxy:
            p = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
            target = (p.hostname or "", p.port)
        if scheme == "https":
            insecure = host in self.trusted or f"{host}:{port}" in self.trusted
            conn = http.client.HTTPSConnection(
                target[0],
                target[1],
                timeout=self.timeout,
                context=self._insecure if insecure else self._verified,
            )
        else:
            conn = http.client.HTTPConnection(target[0], target[1], timeout=self.timeout)
        if proxy:
            conn.set_tunnel(host, port)
        pool[key] = conn
        with self._opened_lock:
            self._opened.append(conn)
        return conn, True

    def _drop(self, key: tuple[str, str]) -> None:
        pool: dict[tuple[str, str], http.client.HTTPConnection] = self._local.__dict__.get("pool", {})
        conn = pool.pop(key, None)
        if conn is not None:
            conn.close()

    def close(self) -> None:
        with self._opened_lock:
            for conn in self._opened:
                conn.close()
            self._opened.clear()


def _why(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or str(exc)
    return str(reason) or type(exc).__name__


# -- the cache -----------------------------------------------------------------------------------------
class _Cache:
    """Per URL two JSON files, never credentials: the entry (validators, freshness, the versions
    found per kind of interpreter) and, apart because it can be large, the file list it names."""

    def __init__(self, root: Path | None) -> None:
        self.root = root

    def _path(self, url: str, auth: str | None, suffix: str = ".json") -> Path | None:
        if self.root is None:
            return None
        key = hashlib.sha256(f"{url}\0{auth or ''}".encode()).hexdigest()
        return self.root / key[:2] / f"{key}{suffix}"

    def load(self, url: str, auth: str | None) -> dict[str, object] | None:
        data = _read_json(self._path(url, auth))
        return data if isinstance(data, dict) else None

    def load_files(self, url: str, auth: str | None, entry: dict[str, object]) -> list[IndexFile] | None:
        data = _read_json(self._path(url, auth, ".files.json"))
        if not isinstance(data, dict) or data.get("id") != entry.get("files_id"):
            return None  # missing, or from another answer than the entry's
        return _files(data.get("files"))

    def store(
        self, url: str, auth: str | None, entry: dict[str, object], files: list[IndexFile] | None = None
    ) -> None:
        """Write ``entry``; with ``files`` (a new answer), its file list first."""
        path, files_path = self._path(url, auth), self._path(url, auth, ".files.json")
        if path is None or files_path is None:
            return
        if files is not None:
            token = uuid.uuid4().hex
            store_json(files_path, {"id": token, "files": _entries(files)})
            entry = {**entry, "files_id": token}
        store_json(path, entry)


def _read_json(path: Path | None) -> object:
    if path is None:
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def store_json(path: Path, entry: dict[str, object]) -> None:
    """Write one cache entry whole (a reader never sees half of it); a cache that cannot be
    written only costs the next run a request."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(json.dumps(entry), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass


def _fresh(entry: dict[str, object]) -> bool:
    fetched, age = entry.get("fetched"), entry.get("max_age")
    return isinstance(fetched, float | int) and isinstance(age, float | int) and time.time() - fetched < age


def _max_age(head: http.client.HTTPMessage) -> float:
    control = (head.get("Cache-Control") or "").lower()
    directives = [d.strip() for d in control.split(",")]
    if "no-store" in directives or "no-cache" in directives:
        return 0.0
    for d in directives:
        if d.startswith("max-age="):
            try:
                return max(0.0, float(d.split("=", 1)[1]))
            except ValueError:
                return 0.0
    return 0.0


def _entries(files: list[IndexFile]) -> list[list[object]]:
    return [[f.filename, f.requires_python, f.yanked] for f in files]


def _files(raw: object) -> list[IndexFile]:
    out = []
    for item in raw if isinstance(raw, list) else []:
        if isinstance(item, list) and len(item) == 3 and isinstance(item[0], str):
            out.append(IndexFile(item[0], item[1] if isinstance(item[1], str) else None, bool(item[2])))
    return out


# -- parsing -------------------------------------------------------------------------------------------
class _Anchors(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.files: list[IndexFile] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "a":
            return
        found = dict(attrs)
        href = found.get("href")
        if not href:
            return
        filename = unquote(urlsplit(href).path.rsplit("/", 1)[-1])
        self.files.append(
            IndexFile(filename, found.get("data-requires-python") or None, "data-yanked" in found)
        )


def parse_html(text: str) -> list[IndexFile]:
    """The files of a PEP 503 page (or a find-links page): anchors, data-requires-python, data-yanked."""
    parser = _Anchors()
    parser.feed(text)
    parser.close()
    return parser.files


def parse_json(data: object) -> list[IndexFile]:
    """The files of a PEP 691 JSON project page."""
    files = data.get("files") if isinstance(data, dict) else None
    out = []
    for f in files if isinstance(files, list) else []:
        if isinstance(f, dict) and isinstance(f.get("filename"), str):
            rp = f.get("requires-python")
            out.append(
                IndexFile(f["filename"], rp if isinstance(rp, str) and rp else None, bool(f.get("yanked")))
            )
    return out


# -- the reader ----------------------------------------------------------------------------------------
@dataclass
class ReadStats:
    requests: int = 0
    not_modified: int = 0
    from_cache: int = 0


class IndexReader:
    """Asks every configured source for projects, concurrently; see the module's docstring."""

    def __init__(
        self,
        index: IndexOptions,
        *,
        cache: Path | None = None,
        use_cache: bool = True,
        timeout: float = TIMEOUT,
        workers: int = WORKERS,
    ) -> None:
        self.index = index
        self.workers = workers
        self.cache = _Cache((cache or cache_dir()) if use_cache else None)
        self.stats = ReadStats()
        self._stats_lock = threading.Lock()
        self.sources: list[_Source] = []
        if not index.no_index:
            for url in [index.index_url or PYPI_SIMPLE, *index.extra_index_urls]:
                self._add(url, "index")
        for link in index.find_links:
            self._add(link, "links")
        self._http: _Http | None = None
        self._http_args = (index, timeout)

    def _add(self, url: str, kind: str) -> None:
        if _local_path(url) is not None:
            kind = "folder" if kind == "links" else "local-index"
            self.sources.append(_Source(url, None, kind))
        else:
            stripped, auth = _split_auth(url)
            self.sources.append(_Source(stripped, auth, kind, given=url))

    @property
    def needs_network(self) -> bool:
        """True when some source is asked over HTTP (the answer may take a while)."""
        return any(s.kind in ("index", "links") for s in self.sources)

    @property
    def errors(self) -> list[str]:
        """One line per source that failed, its URL redacted."""
        return [f"{s.shown}: {s.failed}" for s in self.sources if s.failed]

    def answers(
        self, names: Iterable[str], candidates: Candidates, stopped: Callable[[], bool] | None = None
    ) -> Iterator[Answer]:
        """One :class:`Answer` per name, in the order they arrive.

        The requests run in daemon threads: a caller that stops listening (``stopped()`` turns true,
        or the generator is closed) returns at once, and a process that ends does not wait for an
        index that is slow to answer."""
        wanted = sorted({canonicalize_name(n) for n in names})
        if not self.needs_network:
            for name in wanted:
                yield self._answer(name, candidates)
            return
        todo: queue.SimpleQueue[NormalizedName] = queue.SimpleQueue()
        done: queue.SimpleQueue[Answer] = queue.SimpleQueue()
        for name in wanted:
            todo.put(name)
        quit_ = threading.Event()

        def work() -> None:
            while not quit_.is_set():
                try:
                    name = todo.get_nowait()
                except queue.Empty:
                    return
                try:
                    done.put(self._answer(name, candidates))
                except Exception as exc:  # noqa: BLE001 - reported as that name's answer, never lost
                    done.put(Answer(name, None, f"{type(exc).__name__}: {exc}"))

        for _ in range(max(1, min(self.workers, len(wanted)))):
            threading.Thread(target=work, daemon=True, name="oxwizard-index").start()
        try:
            for _ in wanted:
                while True:
                    if stopped is not None and stopped():
                        return
                    try:
                        answer = done.get(timeout=0.1)
                        break
                    except queue.Empty:
                        continue
                yield answer
        finally:
            quit_.set()

    def _answer(self, name: NormalizedName, candidates: Candidates) -> Answer:
        found: set[Version] = set()
        errors = []
        for source in self.sources:
            try:
                if source.kind == "index":
                    found.update(self._index_versions(source, name, candidates))
                else:
                    found.update(candidates.versions(name, self._files(source, name)))
            except SourceFailed as exc:
                errors.append(f"{source.shown}: {exc}")
        if errors:
            return Answer(name, None, "; ".join(errors))
        return Answer(name, sorted(found))

    def _files(self, source: _Source, name: NormalizedName) -> list[IndexFile]:
        if source.failed:
            raise SourceFailed(source.failed)
        if source.kind == "local-index":
            path = _local_path(source.url)
            assert path is not None
            page = path / name / "index.html"
            try:
                return parse_html(page.read_text(encoding="utf-8", errors="replace"))
            except OSError:
                return []
        if source.kind in ("folder", "links"):
            with source.lock:
                if source.links is None and not source.failed:
                    try:
                        source.links = _by_name(self._read_links(source))
                    except SourceFailed as exc:
                        source.failed = str(exc)
                        raise
                if source.failed:
                    raise SourceFailed(source.failed)
            return (source.links or {}).get(name, [])
        raise AssertionError(f"not a source of files: {source.kind}")

    def _read_links(self, source: _Source) -> list[IndexFile]:
        path = _local_path(source.url)
        if path is not None:
            if path.is_dir():
                return [IndexFile(p.name) for p in path.iterdir()]
            if path.is_file():
                return parse_html(path.read_text(encoding="utf-8", errors="replace"))
            return []
        files, entry, new_files = self._fetch(source, source.url, self.cache.load(source.url, source.auth))
        if entry is not None:
            self.cache.store(source.url, source.auth, entry, new_files)
        return files

    def _index_versions(self, source: _Source, name: NormalizedName, candidates: Candidates) -> list[Version]:
        """The versions one index offers ``name`` for these candidates. A fresh cache entry keeps
        them (per kind of interpreter), so a warm run reads no file list and parses nothing."""
        url = f"{source.url.rstrip('/')}/{name}/"
        cached = self.cache.load(url, source.auth)
        if cached is not None and _fresh(cached):
            memo = cached.get("versions")
            known = memo.get(candidates.signature) if isinstance(memo, dict) else None
            if isinstance(known, list):
                self._count("from_cache")
                try:
                    return [Version(str(v)) for v in known]
                except InvalidVersion:
                    pass
        if source.failed:
            raise SourceFailed(source.failed)
        try:
            files, entry, new_files = self._fetch(source, url, cached)
        except SourceFailed as exc:
            source.failed = source.failed or str(exc)  # not asked again in this run
            raise
        found = candidates.versions(name, files)
        if entry is not None:
            memo = entry.get("versions")
            memo = dict(memo) if isinstance(memo, dict) else {}
            memo[candidates.signature] = [str(v) for v in found]
            self.cache.store(url, source.auth, {**entry, "versions": memo}, new_files)
        return found

    def _fetch(
        self, source: _Source, url: str, cached: dict[str, object] | None
    ) -> tuple[list[IndexFile], dict[str, object] | None, list[IndexFile] | None]:
        """The files of ``url``, the cache entry to store (None: not to be stored) and, when the
        answer is new, its files to store with it."""
        now = time.time()
        known = self.cache.load_files(url, source.auth, cached) if cached is not None else None
        if cached is not None and known is not None and _fresh(cached):
            self._count("from_cache")
            return known, cached, None
        headers = {"Accept": ACCEPT, "User-Agent": "oxwizard"}
        if source.auth:
            headers["Authorization"] = source.auth
        if cached is not None and known is not None:  # validators only for an answer still at hand
            if isinstance(cached.get("etag"), str):
                headers["If-None-Match"] = str(cached["etag"])
            if isinstance(cached.get("last_modified"), str):
                headers["If-Modified-Since"] = str(cached["last_modified"])
        if self._http is None:
            with source.lock:
                if self._http is None:
                    self._http = _Http(*self._http_args)
        self._count("requests")
        status, head, body, final = self._http.get(url, headers)
        entry: dict[str, object] = {
            "url": redact_url(url),
            "fetched": now,
            "max_age": _max_age(head),
            "etag": head.get("ETag"),
            "last_modified": head.get("Last-Modified"),
        }
        if status == 304 and cached is not None and known is not None:
            self._count("not_modified")
            # the same files: the same versions, and the file list already stored
            entry.update(versions=cached.get("versions"), files_id=cached.get("files_id"))
            files, new_files = known, None
        elif status in (200, 404):
            files = []
            if status == 200:
                kind = (head.get("Content-Type") or "").split(";")[0].strip().lower()
                text = body.decode("utf-8", errors="replace")
                try:
                    files = parse_json(json.loads(text)) if kind == JSON_TYPE else parse_html(text)
                except ValueError as exc:
                    raise SourceFailed(f"unreadable answer from {redact_url(final)}: {exc}") from None
            new_files = files
        else:
            raise SourceFailed(f"HTTP {status} {head.get('Reason', '')}".strip())
        reusable = entry["max_age"] or entry["etag"] or entry["last_modified"]
        if not reusable or "no-store" in (head.get("Cache-Control") or "").lower():
            return files, None, None  # nothing a later run could reuse or revalidate: not written
        return files, entry, new_files

    def _count(self, what: str) -> None:
        with self._stats_lock:
            setattr(self.stats, what, getattr(self.stats, what) + 1)

    def close(self) -> None:
        if self._http is not None:
            self._http.close()


def _by_name(files: list[IndexFile]) -> dict[str, list[IndexFile]]:
    """A find-links page or folder's files by project name (parsed once, not once per project)."""
    out: dict[str, list[IndexFile]] = {}
    for f in files:
        try:
            if f.filename.endswith(".whl"):
                name = parse_wheel_filename(f.filename)[0]
            elif f.filename.endswith((".tar.gz", ".zip")):
                name = parse_sdist_filename(f.filename)[0]
            else:
                continue
        except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
            continue
        out.setdefault(name, []).append(f)
    return out


def read_versions(
    index: IndexOptions,
    names: Iterable[str],
    candidates: Candidates,
    on_answer: Callable[[Answer], None] | None = None,
) -> tuple[dict[str, Answer], list[str]]:
    """Every name's :class:`Answer` and the errors of the sources that failed (one line each)."""
    reader = IndexReader(index)
    out: dict[str, Answer] = {}
    try:
        for answer in reader.answers(names, candidates):
            out[answer.name] = answer
            if on_answer is not None:
                on_answer(answer)
    finally:
        reader.close()
    return out, reader.errors
