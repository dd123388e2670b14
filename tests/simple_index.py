"""A small simple repository (PEP 503 HTML and PEP 691 JSON) on 127.0.0.1, for hermetic index tests.

It serves the files of one folder under ``/simple/NAME/`` with ETag and Cache-Control, answers
``If-None-Match`` with 304, serves each wheel's METADATA beside it (PEP 658), can mark files yanked
or give them a Requires-Python, can require basic auth, can delay its answers, and counts what it
was asked.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import threading
import time
import zipfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from packaging.utils import canonicalize_name, parse_sdist_filename, parse_wheel_filename

JSON_TYPE = "application/vnd.pypi.simple.v1+json"


@dataclass
class SimpleIndex:
    folder: Path
    formats: str = "json"  # JSON (API 1.1, as PyPI) when asked for, else HTML; "json-1.0", "json-odd", "html"
    max_age: int = 0
    yanked: set[str] = field(default_factory=set)
    requires_python: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    gate: threading.Event | None = None  # when given, every answer waits until it is set (at most 30 s)
    auth: tuple[str, str] | None = None
    statuses: Counter[int] = field(default_factory=Counter)
    paths: Counter[str] = field(default_factory=Counter)  # what was asked for, by path
    agents: Counter[tuple[str, str]] = field(default_factory=Counter)  # (User-Agent's product, path)
    complete: bool = False  # each file's sha256 (JSON "hashes", HTML #sha256=), HTML data-core-metadata too
    core_metadata: bool = True  # serve each wheel's METADATA beside it (PEP 658) and say so
    served: Counter[str] = field(default_factory=Counter)  # content types of the 200s
    url: str = ""
    connections: int = 0  # connections accepted
    open_now: int = 0
    most_open: int = 0  # connections open at once, at most
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())

    def reset(self) -> None:
        self.statuses.clear()
        self.paths.clear()
        self.agents.clear()
        self.served.clear()

    def files_of(self, name: str) -> list[str]:
        out = []
        for path in sorted(self.folder.iterdir()):
            try:
                if path.name.endswith(".whl"):
                    found = parse_wheel_filename(path.name)[0]
                else:
                    found = parse_sdist_filename(path.name)[0]
            except ValueError:
                continue
            if found == name:
                out.append(path.name)
        return out

    def metadata_of(self, wheel: str) -> bytes | None:
        """The METADATA inside ``wheel`` (served as ``WHEEL.metadata``, PEP 658), None for other files."""
        if not self.core_metadata or not wheel.endswith(".whl") or not (self.folder / wheel).is_file():
            return None
        with zipfile.ZipFile(self.folder / wheel) as z:
            name = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA") and n.count("/") == 1)
            return z.read(name)

    def _core_metadata(self, f: str) -> dict[str, object]:
        data = self.metadata_of(f)
        return {} if data is None else {"core-metadata": {"sha256": hashlib.sha256(data).hexdigest()}}

    def page(self, name: str, as_json: bool) -> bytes:
        files = self.files_of(name)
        if as_json:
            data: dict[str, object] = {
                "meta": {"api-version": "1.0"},
                "name": name,
                "files": [
                    {
                        **self._core_metadata(f),  # an object before the name, as PyPI
                        "filename": f,
                        "url": f"../../files/{f}",
                        "hashes": {"sha256": self.sha256_of(f)} if self.complete else {},
                        "requires-python": self.requires_python.get(f),
                        "yanked": f in self.yanked,
                    }
                    for f in files
                ],
            }
            if self.formats in ("json", "json-odd"):  # API 1.1 (PEP 700): every version listed
                data["meta"] = {"api-version": "1.1"}
                data["versions"] = sorted({_version_of(f) for f in files})
            if self.formats == "json-odd":  # another layout: keys reversed, compact, an escape in a name
                odd = {k: data[k] for k in sorted(data, reverse=True)}
                text = json.dumps(odd, separators=(",", ":"))
                return text.replace("big-2.0.0-py3-none-any.whl", "big-2.0.0-py3-none-any\\u002ewhl").encode()
            return json.dumps(data, sort_keys=True).encode()  # PyPI's layout: keys sorted
        links = []
        for f in files:
            attrs = f'href="../../files/{f}"'
            data = self.metadata_of(f)
            if self.complete:
                attrs = f'href="../../files/{f}#sha256={self.sha256_of(f)}"'
            if self.complete and data is not None:
                attrs += f' data-core-metadata="sha256={hashlib.sha256(data).hexdigest()}"'
            if f in self.requires_python:
                attrs += f' data-requires-python="{html.escape(self.requires_python[f])}"'
            if f in self.yanked:
                attrs += ' data-yanked=""'
            links.append(f"<a {attrs}>{f}</a><br/>")
        return f"<!DOCTYPE html><html><body>{''.join(links)}</body></html>".encode()

    def sha256_of(self, filename: str) -> str:
        return hashlib.sha256((self.folder / filename).read_bytes()).hexdigest()


def _version_of(filename: str) -> str:
    if filename.endswith(".whl"):
        return str(parse_wheel_filename(filename)[1])
    return str(parse_sdist_filename(filename)[1])


def _handler(index: SimpleIndex) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            with index._lock:
                index.connections += 1
                index.open_now += 1
                index.most_open = max(index.most_open, index.open_now)

        def finish(self) -> None:
            with index._lock:
                index.open_now -= 1
            super().finish()

        def log_message(self, format: str, *args: object) -> None:
            pass

        def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
            index.statuses[status] += 1
            self.send_response(status)
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_HEAD(self) -> None:
            """A file's size only (no ranges offered: a client that wanted one fetches it whole)."""
            parts = [p for p in self.path.split("?")[0].split("/") if p]
            path = index.folder / parts[-1] if parts else index.folder
            if len(parts) == 2 and parts[0] == "files" and path.is_file():
                self.send_response(200)
                self.send_header("Content-Length", str(path.stat().st_size))
                self.end_headers()
            else:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()

        def do_GET(self) -> None:
            with index._lock:
                index.paths[self.path.split("?")[0]] += 1
                agent = (self.headers.get("User-Agent") or "").split("/")[0].split()[0:1]
                index.agents[(agent[0] if agent else "", self.path.split("?")[0])] += 1
            if index.delay:
                time.sleep(index.delay)
            if index.gate is not None:
                index.gate.wait(30)
            if index.auth is not None:
                token = base64.b64encode(f"{index.auth[0]}:{index.auth[1]}".encode()).decode()
                if self.headers.get("Authorization") != f"Basic {token}":
                    self._send(401, b"", {"WWW-Authenticate": 'Basic realm="index"'})
                    return
            parts = [p for p in self.path.split("?")[0].split("/") if p]
            if len(parts) == 2 and parts[0] == "files" and (index.folder / parts[1]).is_file():
                self._send(
                    200, (index.folder / parts[1]).read_bytes(), {"Content-Type": "application/octet-stream"}
                )
                return
            if len(parts) == 2 and parts[0] == "files" and parts[1].endswith(".metadata"):
                data = index.metadata_of(parts[1].removesuffix(".metadata"))
                if data is not None:
                    self._send(200, data, {"Content-Type": "application/octet-stream"})
                    return
            if len(parts) != 2 or parts[0] != "simple":
                self._send(404)
                return
            name = canonicalize_name(parts[1])
            if parts[1] != name:
                self._send(301, b"", {"Location": f"/simple/{name}/"})
                return
            if not index.files_of(name):
                self._send(404)
                return
            as_json = index.formats.startswith("json") and JSON_TYPE in (self.headers.get("Accept") or "")
            body = index.page(name, as_json)
            etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
            headers = {"ETag": etag, "Cache-Control": f"max-age={index.max_age}, public"}
            if self.headers.get("If-None-Match") == etag:
                self._send(304, b"", headers)
                return
            kind = JSON_TYPE if as_json else "text/html"
            index.served[kind] += 1
            self._send(200, body, {**headers, "Content-Type": kind})

    return Handler


@contextmanager
def serve(index: SimpleIndex) -> Iterator[SimpleIndex]:
    """Run ``index`` on a free port of 127.0.0.1; ``index.url`` is its ``/simple`` URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(index))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    index.url = f"http://127.0.0.1:{server.server_address[1]}/simple"
    try:
        yield index
    finally:
        server.shutdown()
        server.server_close()


def closed_port() -> int:
    """A port on 127.0.0.1 nothing listens on (bound, then released)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
