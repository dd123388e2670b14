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
import contextlib
import functools
import gzip
import hashlib
import http.client
import json
import netrc
import os
import queue
import re
import ssl
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

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

CACHE_ENV = "OXWIZARD_INDEX_CACHE"  # where the cache lives (tests point it at a temporary folder)
ACCEPT = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01"
JSON_TYPE = "application/vnd.pypi.simple.v1+json"
TIMEOUT = 15.0  # seconds per connect or read, pip's default --timeout
WORKERS = 8  # requests at once, and connections per host (see _Http._connection)
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
    """One file a source offers: its name, Requires-Python and whether it is yanked; where the page
    says, its URL (absolute, as the page gives it), sha256 and whether its core metadata is served
    beside it (PEP 658/714: ``metadata`` is that file's sha256, ``""`` when the page gives no hash,
    None when it is not served)."""

    filename: str
    requires_python: str | None = None
    yanked: bool = False
    url: str = ""
    sha256: str | None = None
    metadata: str | None = None


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

    def versions(
        self, name: NormalizedName, files: Iterable[IndexFile], floor: Version | None = None
    ) -> list[Version]:
        """The versions of ``files`` this interpreter may install (newer than ``floor`` only, if given)."""
        found: set[Version] = set()
        for f in files:
            if f.yanked or (f.requires_python and not self._python_allows(f.requires_python)):
                continue
            version = self._version(name, f.filename)
            if version is None or (version.is_prerelease and not self.pre):
                continue
            if floor is None or version > floor:
                found.add(version)
        return sorted(found)

    def may_offer_newer(self, listed: Iterable[str], floor: Version) -> bool:
        """Whether a project whose index lists the versions ``listed`` (PEP 700) may have a version
        newer than ``floor`` for this interpreter: False spares reading its files at all."""
        older = _older_than(floor)
        for text in listed:
            if older(text):
                continue
            try:
                version = Version(text)
            except InvalidVersion:
                continue
            if version > floor and (self.pre or not version.is_prerelease):
                return True
        return False

    def _python_allows(self, requires_python: str) -> bool:
        ok = self._python_ok.get(requires_python)
        if ok is None:
            try:
                ok = SpecifierSet(requires_python).contains(Version(self.python_version), prereleases=True)
            except InvalidSpecifier:
                ok = True  # pip ignores a Requires-Python it cannot parse
            self._python_ok[requires_python] = ok
        return ok

    def wheel_fits(self, filename: str) -> bool:
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
                if not self.wheel_fits(filename):
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
    user: str | None = None  # the user name the URL gives, if any (for the keyring)
    password_given: bool = False  # the URL gives a password: as pip, no keyring is asked then
    keyring_lock: threading.Lock = field(default_factory=threading.Lock)
    keyring_asked: bool = False
    keyring_user: str | None = None  # the user the keyring's answer named (``auth`` is then its)

    @property
    def shown(self) -> str:
        return redact_url(self.given or self.url)

    @property
    def cache_id(self) -> str | None:
        """Whose answers the cache keeps apart: the credentials given (a wrong password never reads
        what a right one fetched), or, from a keyring, its user (a keyring's token may change
        from one run to the next: pip's own cache does not tell them apart either)."""
        return f"keyring:{self.keyring_user}" if self.keyring_user is not None else self.auth


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


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
    return url, _basic(user, password or "")


def _local_path(link: str) -> Path | None:
    if link.startswith("file:"):
        return Path(unquote(urlsplit(link).path))
    if "://" not in link:
        return Path(link)
    return None


# -- HTTP ----------------------------------------------------------------------------------------------
class Sink(Protocol):
    """Where :meth:`_Http.get` writes a body as it comes."""

    def restart(self) -> None:
        """Forget what was written (the request is made again)."""

    def write(self, data: bytes) -> object:
        """Take the next part of the body."""


class _Http:
    """GET with kept-alive connections (a pool per host, shared by the threads: a connection
    opened ahead by :meth:`warm` serves whichever thread asks first), TLS as pip is told, proxies."""

    def __init__(self, index: IndexOptions, timeout: float, per_host: int = WORKERS) -> None:
        self.timeout = timeout
        self.per_host = per_host
        self.trusted = {h.split(":")[0] for h in index.trusted_hosts} | set(index.trusted_hosts)
        self.proxy = index.proxy
        self._cert, self._client_cert = index.cert, index.client_cert
        self._idle: dict[tuple[str, str], list[http.client.HTTPConnection]] = {}
        self._count: dict[tuple[str, str], int] = {}  # connections open or opening, per host
        self._opened: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()
        self._released = threading.Condition(self._lock)
        self._contexts: dict[bool, ssl.SSLContext] = {}
        self._context_lock = threading.Lock()

    def _context(self, insecure: bool) -> ssl.SSLContext:
        """The TLS context (verifying, or for a trusted host not), made once when first needed."""
        with self._context_lock:
            context = self._contexts.get(insecure)
            if context is None:
                context = ssl.create_default_context(cafile=None if insecure else self._cert or None)
                if insecure:
                    context.check_hostname = False
                    context.verify_mode = ssl.CERT_NONE
                if self._client_cert:
                    context.load_cert_chain(self._client_cert)
                self._contexts[insecure] = context
            return context

    def warm(self, url: str, count: int) -> None:
        """Open ``count`` connections to ``url``'s host (TCP and TLS) in the background, for the
        requests to come; a connection that cannot be opened is left to the request to report."""
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc)

        def open_one() -> None:
            try:
                conn = self._new(key, parts.hostname or "", parts.port)
            except (OSError, http.client.HTTPException, ValueError):
                self._forget(key)
                return
            try:
                conn.connect()
            except (OSError, http.client.HTTPException, ValueError):
                self._forget(key, conn)
                return
            self._release(key, conn)

        with self._lock:
            count = min(count, self.per_host - self._count.get(key, 0))
            self._count[key] = self._count.get(key, 0) + max(0, count)
        for _ in range(count):
            threading.Thread(target=open_one, daemon=True, name="oxwizard-connect").start()

    def get(
        self, url: str, headers: dict[str, str], sink: Sink | None = None
    ) -> tuple[int, http.client.HTTPMessage, bytes, str]:
        """Status, headers, body (decompressed) and the final URL, redirects followed. With ``sink``,
        a 200's body is written to it as it comes, never held whole (a wheel: hundreds of MB), and
        the body returned is empty; it is asked for without compression."""
        if sink is not None:
            headers = {**headers, "Accept-Encoding": "identity"}
        for _ in range(6):
            status, head, body = self._once(url, headers, sink)
            if status in (301, 302, 303, 307, 308) and head.get("Location"):
                target = urljoin(url, head["Location"])
                if urlsplit(target).netloc != urlsplit(url).netloc:
                    headers = {k: v for k, v in headers.items() if k != "Authorization"}
                url = target
                continue
            encoding = (head.get("Content-Encoding") or "").lower() if sink is None else ""
            if encoding == "gzip":
                body = gzip.decompress(body)
            elif encoding == "deflate":
                body = zlib.decompress(body)
            return status, head, body, url
        raise SourceFailed("too many redirects")

    def _once(
        self, url: str, headers: dict[str, str], sink: Sink | None = None
    ) -> tuple[int, http.client.HTTPMessage, bytes]:
        parts = urlsplit(url)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        key = (parts.scheme, parts.netloc)
        for attempt in (0, 1):
            conn, fresh = self._connection(key, parts.hostname or "", parts.port)
            try:
                conn.request("GET", path, headers={"Accept-Encoding": "gzip", **headers})
                response = conn.getresponse()
                if sink is not None and response.status == 200:
                    sink.restart()  # (a retried request writes it all again)
                    while chunk := response.read(1 << 20):
                        sink.write(chunk)
                    body = b""
                else:
                    body = response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as exc:
                self._forget(key, conn)
                if fresh or attempt:
                    raise SourceFailed(str(exc) or type(exc).__name__) from None
                continue  # a kept-alive connection the server had closed: once more on a new one
            except (OSError, http.client.HTTPException) as exc:
                self._forget(key, conn)
                raise SourceFailed(_why(exc)) from None
            if response.will_close:
                self._forget(key, conn)
            else:
                self._release(key, conn)
            return response.status, response.headers, body
        raise SourceFailed("connection lost")

    def _connection(
        self, key: tuple[str, str], host: str, port: int | None
    ) -> tuple[http.client.HTTPConnection, bool]:
        """An idle kept-alive connection to ``key`` (False), else a new one (True) while fewer
        than ``per_host`` are open, else the first one another request gives back. Indexes and
        proxies limit the connections of one client (one here stalled for seconds past 16)."""
        with self._released:
            while True:
                idle = self._idle.get(key)
                if idle:
                    return idle.pop(), False
                if self._count.get(key, 0) < self.per_host:
                    self._count[key] = self._count.get(key, 0) + 1
                    break
                if not self._released.wait(self.timeout):
                    raise SourceFailed("timed out")
        try:
            return self._new(key, host, port), True
        except BaseException:
            self._forget(key)
            raise

    def _new(self, key: tuple[str, str], host: str, port: int | None) -> http.client.HTTPConnection:
        scheme = key[0]
        proxy = self.proxy
        if not proxy:
            from urllib.request import getproxies, proxy_bypass  # 10 ms of imports, for a connection

            proxy = None if proxy_bypass(host) else getproxies().get(scheme)
        target = (host, port)
        if proxy:
            p = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
            target = (p.hostname or "", p.port)
        conn: http.client.HTTPConnection
        if scheme == "https":
            insecure = host in self.trusted or f"{host}:{port}" in self.trusted
            conn = http.client.HTTPSConnection(
                target[0], target[1], timeout=self.timeout, context=self._context(insecure)
            )
        else:
            conn = http.client.HTTPConnection(target[0], target[1], timeout=self.timeout)
        if proxy:
            conn.set_tunnel(host, port)
        with self._lock:
            self._opened.append(conn)
        return conn

    def _release(self, key: tuple[str, str], conn: http.client.HTTPConnection) -> None:
        """``conn`` is free for the next request to its host."""
        with self._released:
            self._idle.setdefault(key, []).append(conn)
            self._released.notify()

    def _forget(self, key: tuple[str, str], conn: http.client.HTTPConnection | None = None) -> None:
        """``conn`` (or one still to be opened) is gone: closed, and its place free for a new one."""
        if conn is not None:
            conn.close()
        with self._released:
            self._count[key] = max(0, self._count.get(key, 0) - 1)
            self._released.notify()

    def close(self) -> None:
        with self._lock:
            for conn in self._opened:
                conn.close()
            self._opened.clear()
            self._idle.clear()


def _why(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or str(exc)
    return str(reason) or type(exc).__name__


# -- the cache -----------------------------------------------------------------------------------------
class _Cache:
    """Per URL two files, never credentials: the entry (JSON: validators, freshness, the versions
    found per kind of interpreter) and, apart because it can be large, the answer's body as the
    index sent it (read again only when a kind of interpreter not seen yet asks)."""

    def __init__(self, root: Path | None) -> None:
        self.root = root

    def _mark(self, url: str) -> Path | None:
        return self.root / "keyring" / hashlib.sha256(url.encode()).hexdigest() if self.root else None

    def needs_keyring(self, url: str) -> bool:
        """Whether the index at ``url`` took a keyring's credentials in an earlier run."""
        mark = self._mark(url)
        return mark is not None and mark.exists()

    def mark_keyring(self, url: str) -> None:
        """Note (an empty file named by the URL's hash: no credentials) that ``url`` takes a keyring's."""
        mark = self._mark(url)
        if mark is not None:
            with contextlib.suppress(OSError):
                mark.parent.mkdir(parents=True, exist_ok=True)
                mark.touch()

    def _path(self, url: str, auth: str | None, suffix: str = ".json") -> Path | None:
        if self.root is None:
            return None
        key = hashlib.sha256(f"{url}\0{auth or ''}".encode()).hexdigest()
        return self.root / key[:2] / f"{key}{suffix}"

    def load(self, url: str, auth: str | None) -> dict[str, object] | None:
        data = _read_json(self._path(url, auth))
        return data if isinstance(data, dict) else None

    def has_page(self, url: str, auth: str | None, entry: dict[str, object]) -> bool:
        """Whether the body ``entry`` names is stored (its first line only is read)."""
        path, token = self._path(url, auth, ".body"), entry.get("body_id")
        if path is None or not isinstance(token, str):
            return False
        try:
            with path.open("rb") as fh:
                return fh.readline(100).rstrip(b"\n") == token.encode()
        except OSError:
            return False

    def load_page(self, url: str, auth: str | None, entry: dict[str, object]) -> _Page | None:
        """The body ``entry`` names, or None (missing, or from another answer than the entry's)."""
        path, token = self._path(url, auth, ".body"), entry.get("body_id")
        if path is None or not isinstance(token, str):
            return None
        try:
            data = path.read_bytes()
        except OSError:
            return None
        head, _, body = data.partition(b"\n")
        if head != token.encode():
            return None
        kind = entry.get("content_type")
        return _Page(body, kind if isinstance(kind, str) else "")

    def store(self, url: str, auth: str | None, entry: dict[str, object], page: _Page | None = None) -> None:
        """Write ``entry``; with ``page`` (a new answer), its body first."""
        path, body_path = self._path(url, auth), self._path(url, auth, ".body")
        if path is None or body_path is None:
            return
        if page is not None:
            token = uuid.uuid4().hex
            store_bytes(body_path, token.encode() + b"\n" + page.body)
            entry = {**entry, "body_id": token, "content_type": page.kind}
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
    store_bytes(path, json.dumps(entry).encode())


def store_bytes(path: Path, data: bytes) -> None:
    """Write one cache file whole (see :func:`store_json`)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_bytes(data)
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


# -- parsing -------------------------------------------------------------------------------------------
class _Anchors(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.files: list[IndexFile] = []
        self.base = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "a":
            return
        found = dict(attrs)
        href = found.get("href")
        if not href:
            return
        parts = urlsplit(href)
        filename = unquote(parts.path.rsplit("/", 1)[-1])
        sha256 = _fragment_sha256(parts.fragment)
        meta = found.get("data-core-metadata", found.get("data-dist-info-metadata"))
        self.files.append(
            IndexFile(
                filename,
                found.get("data-requires-python") or None,
                "data-yanked" in found,
                _absolute(self.base, href),
                sha256,
                None if meta is None or meta == "false" else _fragment_sha256(meta) or "",
            )
        )


def _fragment_sha256(text: str) -> str | None:
    """The hex sha256 of a ``sha256=HEX`` URL fragment or PEP 658 attribute value, else None."""
    kind, _, value = text.partition("=")
    return value.lower() if kind.lower() == "sha256" and value else None


def parse_html(text: str, base: str = "") -> list[IndexFile]:
    """The files of a PEP 503 page (or a find-links page): anchors, data-requires-python, data-yanked,
    data-core-metadata; URLs resolved against the page's own, ``base``."""
    parser = _Anchors()
    parser.base = base
    parser.feed(text)
    parser.close()
    return parser.files


def parse_json(data: object, base: str = "") -> list[IndexFile]:
    """The files of a PEP 691 JSON project page (URLs resolved against the page's own, ``base``)."""
    files = data.get("files") if isinstance(data, dict) else None
    out = []
    for f in files if isinstance(files, list) else []:
        if isinstance(f, dict) and isinstance(f.get("filename"), str):
            rp, url, hashes = f.get("requires-python"), f.get("url"), f.get("hashes")
            sha256 = hashes.get("sha256") if isinstance(hashes, dict) else None
            meta = f.get("core-metadata", f.get("dist-info-metadata"))
            if isinstance(meta, dict):
                given = meta.get("sha256")
                meta = given.lower() if isinstance(given, str) else ""
            out.append(
                IndexFile(
                    f["filename"],
                    rp if isinstance(rp, str) and rp else None,
                    bool(f.get("yanked")),
                    _absolute(base, url) if isinstance(url, str) else "",
                    sha256.lower() if isinstance(sha256, str) else None,
                    meta if isinstance(meta, str) else ("" if meta else None),
                )
            )
    return out


def _absolute(base: str, url: str) -> str:
    """``url`` (a file's, on a page at ``base``) made absolute, its fragment dropped."""
    if not url.startswith(("https://", "http://")):  # (PyPI's are absolute: no urljoin per file)
        url = urljoin(base, url)
    return url.partition("#")[0]


def listed_versions(body: bytes) -> list[str] | None:
    """The ``versions`` list of a PEP 691 JSON page (PEP 700, API version 1.1), read from the end of
    the page alone when it is the page's last key (as PyPI writes it), else None.

    A page that lists no version newer than the installed one needs no more reading: its files —
    most of the page's bytes (numpy's is 2 MB) — are never parsed."""
    at = body.rfind(b'"versions"')
    if at < 0:
        return None
    tail = body[at + len(b'"versions"') :].decode("utf-8", errors="replace").lstrip()
    if not tail.startswith(":"):
        return None
    tail = tail[1:].lstrip()
    try:
        value, end = _DECODER.raw_decode(tail)
    except ValueError:
        return None
    # the page's last key at the top level: only its closing brace follows (a nested object's
    # would be followed by two)
    if tail[end:].strip() != "}" or not isinstance(value, list):
        return None
    return [v for v in value if isinstance(v, str)]


_DECODER = json.JSONDecoder()
_FILENAME = re.compile(r'"filename"\s*:\s*"([^"\\]*)(["\\])')


def _older_than(floor: Version) -> Callable[[str], bool]:
    """A test of whether a version text is older than ``floor`` by its first release number alone
    (most of a page's versions: far cheaper than parsing each). False: it may be newer."""
    if floor.epoch:
        return lambda text: False
    major = floor.release[0]

    def older(text: str) -> bool:
        head = text.partition(".")[0]
        return head.isascii() and head.isdigit() and int(head) < major

    return older


def shown_version(filename: str) -> str | None:
    """The version a wheel's or an sdist's file name shows, as written (not parsed: a page lists
    hundreds of files and a few distinct versions, each worth parsing once); None for another name."""
    if filename.endswith(".whl"):
        parts = filename.split("-")
        return parts[1] if len(parts) in (5, 6) else None
    if filename.endswith((".tar.gz", ".zip")):
        return filename.removesuffix(".tar.gz").removesuffix(".zip").rpartition("-")[2]
    return None


def newer_files(
    text: str, floor: Version, wheel_fits: Callable[[str], bool] | None = None
) -> list[IndexFile] | None:
    """The files of a PEP 691 JSON page whose version is newer than ``floor`` (and, for wheels,
    that ``wheel_fits``), each file's object decoded alone: the page is scanned for file names,
    and only the few files that count are read whole (numpy lists thousands). None when the page
    is not laid out as expected (the caller then parses it whole)."""
    newer: dict[str, bool] = {}
    older = _older_than(floor)
    out = []
    for match in _FILENAME.finditer(text):
        filename = match.group(1)
        if match.group(2) != '"':
            return None  # escapes in a file name: left to the full parse
        shown = shown_version(filename)
        if shown is None:
            continue  # not a wheel's or an sdist's name: the full parse would skip it too
        ok = newer.get(shown)
        if ok is None:
            try:
                ok = newer[shown] = not older(shown) and Version(shown) > floor
            except InvalidVersion:
                ok = newer[shown] = False
        if not ok or (wheel_fits is not None and filename.endswith(".whl") and not wheel_fits(filename)):
            continue
        found = _file_object(text, match.start(), filename)
        if found is None:
            return None
        out.append(found)
    return out


def _file_object(text: str, at: int, filename: str) -> IndexFile | None:
    """The file object holding the ``"filename"`` key found at ``at``: the nearest opening brace
    before it from which one JSON object decodes that spans ``at`` and names ``filename``."""
    start = at
    for _ in range(8):  # a file object nests an object or two (hashes, core-metadata) at most
        start = text.rfind("{", 0, start)
        if start < 0:
            return None
        try:
            value, end = _DECODER.raw_decode(text, start)
        except ValueError:
            continue
        if end > at and isinstance(value, dict):
            if value.get("filename") != filename:
                return None
            files = parse_json({"files": [value]})
            return files[0] if files else None
    return None


@dataclass(frozen=True)
class _Page:
    """An index's answer for one URL: its body and content type."""

    body: bytes
    kind: str

    @property
    def is_json(self) -> bool:
        return self.kind.split(";")[0].strip().lower() == JSON_TYPE

    def files(self, base: str = "") -> list[IndexFile]:
        text = self.body.decode("utf-8", errors="replace")
        return parse_json(json.loads(text), base) if self.is_json else parse_html(text, base)


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
        for url in index.index_urls():
            self._add(url, "index")
        for link in index.find_links:
            self._add(link, "links")
        self._http: _Http | None = None
        self._http_args = (index, timeout, workers)
        self._warmed = False

    def _add(self, url: str, kind: str) -> None:
        if _local_path(url) is not None:
            kind = "folder" if kind == "links" else "local-index"
            self.sources.append(_Source(url, None, kind))
        else:
            stripped, auth = _split_auth(url)
            parts = urlsplit(url)
            user = unquote(parts.username or "") or None
            given = parts.password is not None
            self.sources.append(_Source(stripped, auth, kind, given=url, user=user, password_given=given))

    @property
    def needs_network(self) -> bool:
        """True when some source is asked over HTTP (the answer may take a while)."""
        return any(s.kind in ("index", "links") for s in self.sources)

    @property
    def errors(self) -> list[str]:
        """One line per source that failed, its URL redacted."""
        return [f"{s.shown}: {s.failed}" for s in self.sources if s.failed]

    def answers(
        self,
        names: Iterable[str],
        candidates: Candidates,
        stopped: Callable[[], bool] | None = None,
        floors: Mapping[str, str] | None = None,
    ) -> Iterator[Answer]:
        """One :class:`Answer` per name, in the order they arrive.

        ``floors`` (name: installed version): only versions newer than it are asked for, and an
        answer holds only those (what ``outdated`` needs; a JSON page listing no newer version is
        not read further). The requests run in daemon threads: a caller that stops listening
        (``stopped()`` turns true, or the generator is closed) returns at once, and a process that
        ends does not wait for an index that is slow to answer."""
        wanted = sorted({canonicalize_name(n) for n in names})
        lows = _floors(floors or {})
        if not self.needs_network:
            for name in wanted:
                yield self._answer(name, candidates, lows.get(name))
            return
        self.warm()
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
                    done.put(self._answer(name, candidates, lows.get(name)))
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

    def warm(self) -> None:
        """Start opening the connections the requests will use (TCP and TLS, in the background),
        once: called as soon as the sources are known, it overlaps the set-up with whatever the
        caller does before asking (reading the environment, imports)."""
        if self._warmed or not self.needs_network:
            return
        self._warmed = True
        http = self._client()
        for url in {s.url for s in self.sources if s.kind == "index"}:
            http.warm(url, self.workers)

    def client(self) -> _Http:
        """The HTTP client the reader's requests share (made on first use)."""
        return self._client()

    def _client(self) -> _Http:
        with self._stats_lock:
            if self._http is None:
                self._http = _Http(*self._http_args)
            return self._http

    def _answer(self, name: NormalizedName, candidates: Candidates, floor: Version | None) -> Answer:
        found: set[Version] = set()
        errors = []
        for source in self.sources:
            try:
                if source.kind == "index":
                    found.update(self._index_versions(source, name, candidates, floor))
                else:
                    found.update(candidates.versions(name, self._files(source, name), floor))
            except SourceFailed as exc:
                errors.append(f"{source.shown}: {exc}")
        if errors:
            return Answer(name, None, "; ".join(errors))
        return Answer(name, sorted(found))

    def project_files(self, name: str) -> list[list[IndexFile]]:
        """Every file each source offers for ``name`` (one list per source, in :attr:`sources`'
        order), pages read through the cache as :meth:`answers` reads them; a source that fails
        raises :class:`SourceFailed`."""
        key = canonicalize_name(name)
        out = []
        for source in self.sources:
            if source.kind != "index":
                out.append(self._files(source, key))
                continue
            if source.failed:
                raise SourceFailed(source.failed)
            url = f"{source.url.rstrip('/')}/{key}/"
            try:
                page = self._read_page(source, url)
            except SourceFailed as exc:
                source.failed = source.failed or str(exc)
                raise
            out.append(_parsed(page, url))
        return out

    def _files(self, source: _Source, name: NormalizedName) -> list[IndexFile]:
        if source.failed:
            raise SourceFailed(source.failed)
        if source.kind == "local-index":
            path = _local_path(source.url)
            assert path is not None
            page = path / name / "index.html"
            try:
                return parse_html(page.read_text(encoding="utf-8", errors="replace"), page.as_uri())
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
                return [IndexFile(p.name, url=p.absolute().as_uri()) for p in path.iterdir()]
            if path.is_file():
                return parse_html(
                    path.read_text(encoding="utf-8", errors="replace"), path.absolute().as_uri()
                )
            return []
        return _parsed(self._read_page(source, source.url), source.url)

    def _read_page(self, source: _Source, url: str) -> _Page:
        """The page at ``url`` through the cache (stored again when new or revalidated)."""
        self._keyring_first(source)
        cached = self.cache.load(url, source.cache_id)
        page, entry, new = self._page(source, url, cached)
        if entry is not None and entry is not cached:
            self.cache.store(url, source.cache_id, entry, page if new else None)
        return page

    def _index_versions(
        self, source: _Source, name: NormalizedName, candidates: Candidates, floor: Version | None
    ) -> list[Version]:
        """The versions one index offers ``name`` for these candidates (newer than ``floor``). A
        fresh cache entry keeps them (per kind of interpreter and floor), so a warm run reads no
        page and parses nothing."""
        url = f"{source.url.rstrip('/')}/{name}/"
        memo_key = candidates.signature if floor is None else f"{candidates.signature}>{floor}"
        self._keyring_first(source)
        cached = self.cache.load(url, source.cache_id)
        if cached is not None and _fresh(cached):
            known = _memo(cached).get(memo_key)
            if isinstance(known, list):
                self._count("from_cache")
                try:
                    return [Version(str(v)) for v in known]
                except InvalidVersion:
                    pass
        if source.failed:
            raise SourceFailed(source.failed)
        try:
            page, entry, new = self._fetch(source, url, cached)
        except SourceFailed as exc:
            source.failed = source.failed or str(exc)  # not asked again in this run
            raise
        memo = {} if new or entry is None else _memo(entry)
        known = memo.get(memo_key)
        found: list[Version] | None = None
        if isinstance(known, list):  # not modified: the same versions as before
            try:
                found = [Version(str(v)) for v in known]
            except InvalidVersion:
                found = None
        if found is None:
            if page is None:  # not modified, and this kind of answer not worked out before
                page, entry, new = self._stored(source, url, entry)
                memo = {} if new or entry is None else memo
            found = self._page_versions(page, url, name, candidates, floor)
        if entry is not None:
            memo = {**memo, memo_key: [str(v) for v in found]}
            self.cache.store(url, source.cache_id, {**entry, "versions": memo}, page if new else None)
        return found

    @staticmethod
    def _page_versions(
        page: _Page, url: str, name: NormalizedName, candidates: Candidates, floor: Version | None
    ) -> list[Version]:
        if floor is not None and page.is_json:
            listed = listed_versions(page.body)
            if listed is not None and not candidates.may_offer_newer(listed, floor):
                return []  # nothing newer listed: the files need no reading
            newer = newer_files(page.body.decode("utf-8", errors="replace"), floor, candidates.wheel_fits)
            if newer is not None:
                return candidates.versions(name, newer, floor)
        return candidates.versions(name, _parsed(page, url), floor)

    def _page(
        self, source: _Source, url: str, cached: dict[str, object] | None
    ) -> tuple[_Page, dict[str, object] | None, bool]:
        """As :meth:`_fetch`, with the stored page read when the index said "not modified"."""
        page, entry, new = self._fetch(source, url, cached)
        if page is None:
            return self._stored(source, url, entry)
        return page, entry, new

    def _stored(
        self, source: _Source, url: str, entry: dict[str, object] | None
    ) -> tuple[_Page, dict[str, object] | None, bool]:
        """The stored page ``entry`` names; asked for again, whole, if it went away meanwhile."""
        page = self.cache.load_page(url, source.cache_id, entry) if entry is not None else None
        if page is not None:
            return page, entry, False
        again, entry, new = self._fetch(source, url, None)
        assert again is not None  # without validators the answer is never "not modified"
        return again, entry, new

    def _fetch(
        self, source: _Source, url: str, cached: dict[str, object] | None
    ) -> tuple[_Page | None, dict[str, object] | None, bool]:
        """The page of ``url`` (None: not modified, the stored one holds; read only if needed:
        :meth:`_stored`), the cache entry to store (None: not to be stored) and whether the page is
        a new answer (to be stored with the entry) rather than the cached one."""
        now = time.time()
        stored = cached is not None and self.cache.has_page(url, source.cache_id, cached)
        if cached is not None and stored and _fresh(cached):
            known = self.cache.load_page(url, source.cache_id, cached)
            if known is not None:
                self._count("from_cache")
                return known, cached, False
            stored = False
        headers = {"Accept": ACCEPT, "User-Agent": "oxwizard"}
        if source.auth:
            headers["Authorization"] = source.auth
        if cached is not None and stored:  # validators only for an answer still at hand
            if isinstance(cached.get("etag"), str):
                headers["If-None-Match"] = str(cached["etag"])
            if isinstance(cached.get("last_modified"), str):
                headers["If-Modified-Since"] = str(cached["last_modified"])
        self._count("requests")
        status, head, body, _final = self._client().get(url, headers)
        if status == 401 and self._keyring_auth(source):  # as pip: its keyring, asked after a 401
            headers["Authorization"] = source.auth or ""
            self._count("requests")
            status, head, body, _final = self._client().get(url, headers)
        entry: dict[str, object] = {
            "url": redact_url(url),
            "fetched": now,
            "max_age": _max_age(head),
            "etag": head.get("ETag"),
            "last_modified": head.get("Last-Modified"),
        }
        page: _Page | None
        if status == 304 and cached is not None and stored:
            self._count("not_modified")
            # the same page: the same versions, and the body already stored
            entry.update(versions=cached.get("versions"), body_id=cached.get("body_id"))
            entry.update(content_type=cached.get("content_type"))
            page, new = None, False
        elif status == 200:
            page, new = _Page(body, head.get("Content-Type") or ""), True
        elif status == 404:
            page, new = _Page(b"", "text/html"), True
        else:
            raise SourceFailed(f"HTTP {status} {head.get('Reason', '')}".strip())
        reusable = entry["max_age"] or entry["etag"] or entry["last_modified"]
        if not reusable or "no-store" in (head.get("Cache-Control") or "").lower():
            return page, None, new  # nothing a later run could reuse or revalidate: not written
        return page, entry, new

    def _keyring_auth(self, source: _Source) -> bool:
        """Whether pip's keyring holds credentials for ``source`` (asked once per run, after its
        first 401); they become the source's from then on."""
        from oxwizard.env.credentials import keyring_credentials

        with source.keyring_lock:
            if not source.keyring_asked and not source.password_given:
                source.keyring_asked = True
                found = keyring_credentials(self.index, source.url, source.user)
                if found is not None:
                    source.auth, source.keyring_user = _basic(*found), found[0]
                    self.cache.mark_keyring(source.url)
            return source.keyring_user is not None

    def _keyring_first(self, source: _Source) -> None:
        """A source that needed the keyring in an earlier run gets its credentials before its first
        request (or cache lookup) of this one, not after a 401 per connection."""
        if source.keyring_user is not None or source.password_given or not self.index.keyring_provider:
            return
        if self.cache.needs_keyring(source.url):
            self._keyring_auth(source)  # waits for an answer another thread is asking for

    def _count(self, what: str) -> None:
        with self._stats_lock:
            setattr(self.stats, what, getattr(self.stats, what) + 1)

    def close(self) -> None:
        if self._http is not None:
            self._http.close()


def _floors(given: Mapping[str, str]) -> dict[str, Version]:
    out: dict[str, Version] = {}
    for name, text in given.items():
        try:
            out[canonicalize_name(name)] = Version(text)
        except InvalidVersion:
            continue  # an installed version pip cannot order: every version is asked for
    return out


def _memo(entry: dict[str, object]) -> dict[str, object]:
    memo = entry.get("versions")
    return dict(memo) if isinstance(memo, dict) else {}


def _parsed(page: _Page, url: str) -> list[IndexFile]:
    try:
        return page.files(url)
    except ValueError as exc:
        raise SourceFailed(f"unreadable answer from {redact_url(url)}: {exc}") from None


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
    floors: Mapping[str, str] | None = None,
    reader: IndexReader | None = None,
) -> tuple[dict[str, Answer], list[str]]:
    """Every name's :class:`Answer` and the errors of the sources that failed (one line each);
    ``floors``: as :meth:`IndexReader.answers`; ``reader``: one made (and warmed) earlier."""
    reader = reader or IndexReader(index)
    out: dict[str, Answer] = {}
    try:
        for answer in reader.answers(names, candidates, floors=floors):
            out[answer.name] = answer
            if on_answer is not None:
                on_answer(answer)
    finally:
        reader.close()
    return out, reader.errors
