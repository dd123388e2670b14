"""What the user asks for: upgrade targets (PEP 508 requirements) and index options.

Targets are parsed with :mod:`packaging`; anything that is not a plain requirement (options, URLs,
shell metacharacters, markers) is refused before pip is ever called. Index options are validated
and turned into installer arguments here, so no other module builds them by hand.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, Specifier
from packaging.utils import canonicalize_name
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from oxwizard.core.errors import InvalidSpec, UsageError
from oxwizard.core.redact import redact_text, redact_url

# Shell metacharacters have no place in a requirement; '*' stays allowed for prefix matches (==1.*).
_FORBIDDEN = set("|&$`\\;\n\r\t'\"(){}?")


def parse_spec(text: str) -> Requirement:
    """Parse one upgrade target, or raise :class:`InvalidSpec` with a one-line reason."""
    shown = redact_text(text)
    stripped = text.strip()
    if not stripped:
        raise InvalidSpec("empty package spec")
    if stripped.startswith("-"):
        raise InvalidSpec(f"invalid package spec {shown!r}: looks like an option, not a package")
    if "://" in stripped or "@" in stripped:
        raise InvalidSpec(
            f"invalid package spec {shown!r}: URLs and direct references are not upgrade targets"
        )
    bad = sorted(set(stripped) & _FORBIDDEN)
    if bad:
        raise InvalidSpec(f"invalid package spec {shown!r}: character {bad[0]!r} is not allowed")
    try:
        req = Requirement(stripped)
    except InvalidRequirement as exc:
        reason = _bad_version(stripped) or str(exc).splitlines()[0]
        raise InvalidSpec(f"invalid package spec {shown!r}: {reason}") from None
    if req.marker is not None or req.url is not None:
        raise InvalidSpec(f"invalid package spec {shown!r}: markers are not allowed in targets")
    return req


_NAME_THEN_CLAUSES = re.compile(r"^\s*[A-Za-z0-9][A-Za-z0-9._-]*\s*(\[[^\]]*\])?\s*(?P<clauses>[<>=!~].*)$")
_CLAUSE = re.compile(r"^\s*(?P<op>===|==|!=|~=|<=|>=|<|>)\s*(?P<version>.*?)\s*$")


def _bad_version(text: str) -> str | None:
    """A readable reason when a clause names a version that PEP 440 cannot parse."""
    match = _NAME_THEN_CLAUSES.match(text)
    if match is None:
        return None
    for clause in match.group("clauses").split(","):
        part = _CLAUSE.match(clause)
        if part is None:
            return f"{clause.strip()!r} is not a version constraint (expected e.g. '==2.0.0' or '>=1.5,<2')"
        try:
            Specifier(f"{part.group('op')}{part.group('version')}")
        except InvalidSpecifier:
            if not part.group("version"):
                return f"no version after {part.group('op')!r}"
            return f"{part.group('version')!r} is not a valid version"
    return None


def parse_specs(texts: list[str]) -> list[Requirement]:
    """Parse several targets; the same package twice is refused."""
    if not texts:
        raise InvalidSpec("no package spec given")
    reqs = [parse_spec(t) for t in texts]
    seen: set[str] = set()
    for req in reqs:
        name = canonicalize_name(req.name)
        if name in seen:
            raise InvalidSpec(f"package {name!r} is named twice")
        seen.add(name)
    return reqs


def spec_text(req: Requirement) -> str:
    """The normalised form passed to installers (name first: never an option)."""
    return str(req)


class SourceOrigin(BaseModel):
    """Where one effective package-source setting came from (its value redacted)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    option: str  # pip's option name: index-url, extra-index-url, find-links, no-index, constraint, ...
    value: str  # redacted
    origin: str  # "--find-links", "PIP_FIND_LINKS", "/etc/pip.conf [global]"

    def describe(self) -> str:
        return f"{self.option} {self.value} (from {self.origin})"


# The options oxwizard carries from pip's configuration to every pip and uv child, in pip's names.
PYPI_SIMPLE = "https://pypi.org/simple"  # pip's index when none is configured

CARRIED = ("index-url", "extra-index-url", "find-links", "no-index", "constraint", "pre", "trusted-host",
           "cert", "client-cert", "proxy")  # fmt: skip


class IndexOptions(BaseModel):
    """Where packages come from. Stored redacted in runbooks (see :meth:`redacted`).

    Built from oxwizard's flags merged with pip's own configuration (files and ``PIP_*``, see
    :mod:`oxwizard.env.pipconfig`) unless ``isolated``; every child (pip or uv) gets these explicitly
    and reads no configuration of its own. ``origins`` says where each setting came from.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    index_url: str | None = None
    extra_index_urls: list[str] = Field(default_factory=list)
    find_links: list[str] = Field(default_factory=list)
    no_index: bool = False
    constraints: list[str] = Field(default_factory=list)
    pre: bool = False
    trusted_hosts: list[str] = Field(default_factory=list)
    cert: str | None = None
    client_cert: str | None = None
    proxy: str | None = None
    isolated: bool = False  # pip's configuration files and PIP_* were not read (--isolated)
    origins: list[SourceOrigin] = Field(default_factory=list)
    # This host's keyring (see with_keyring): never read from a runbook nor written to one
    _keyring: tuple[str, str] | None = PrivateAttr(default=None)  # (provider, program)

    @classmethod
    def build(
        cls,
        index_url: str | None = None,
        extra_index_urls: list[str] | None = None,
        find_links: list[str] | None = None,
        no_index: bool = False,
        *,
        isolated: bool = False,
    ) -> IndexOptions:
        """Validate user-given options; local find-links become absolute paths."""
        if index_url is not None:
            _check_url(index_url, "--index-url")
        for url in extra_index_urls or []:
            _check_url(url, "--extra-index-url")
        links: list[str] = []
        for link in find_links or []:
            if link.startswith("-") or not link.strip():
                raise UsageError(f"invalid --find-links value {redact_text(link)!r}")
            if "://" in link:
                _check_url(link, "--find-links")
                links.append(link)
            else:
                path = Path(link).expanduser().resolve()
                if not path.exists():
                    raise UsageError(f"--find-links folder not found: {path}")
                links.append(str(path))
        origins = (
            [SourceOrigin(option="index-url", value=redact_url(index_url), origin="--index-url")]
            if index_url
            else []
        )
        origins += [
            SourceOrigin(option="extra-index-url", value=redact_url(u), origin="--extra-index-url")
            for u in extra_index_urls or []
        ]
        origins += [
            SourceOrigin(option="find-links", value=redact_url(u), origin="--find-links") for u in links
        ]
        if no_index:
            origins.append(SourceOrigin(option="no-index", value="true", origin="--no-index"))
        return cls(
            index_url=index_url,
            extra_index_urls=list(extra_index_urls or []),
            find_links=links,
            no_index=no_index,
            isolated=isolated,
            origins=origins,
        )

    def with_keyring(self, provider: str | None, program: str | None) -> IndexOptions:
        """These options with the keyring pip would ask for an index's password: its
        ``--keyring-provider`` ("auto" resolved as an interactive pip would: ``import`` when its
        interpreter imports keyring, else ``subprocess`` for a keyring program on PATH) and the
        program that asks it (that interpreter, or the keyring program). A private attribute: a
        runbook can neither hold nor set a program to run; a replay reads pip's configuration again."""
        out = self.model_copy()
        out._keyring = (provider, program) if provider in ("import", "subprocess") and program else None
        return out

    @property
    def keyring_provider(self) -> str | None:
        """``import`` or ``subprocess`` (pip's ``--keyring-provider``), None: no keyring to ask."""
        return self._keyring[0] if self._keyring else None

    @property
    def keyring_program(self) -> str | None:
        return self._keyring[1] if self._keyring else None

    def index_urls(self) -> list[str]:
        """The indexes asked (pip's default when none is set), none with ``no_index``."""
        if self.no_index:
            return []
        return [self.index_url or PYPI_SIMPLE, *self.extra_index_urls]

    @property
    def given(self) -> bool:
        """True when any source is set (by a flag or by pip's configuration)."""
        return self.sources() != IndexOptions().sources()

    def pip_args(self, keyring: bool = True) -> list[str]:
        """Arguments for pip, each option with its value as separate items.

        Valid for every pip verb that reaches an index (install, download, index versions).
        ``--keyring-provider`` (see :attr:`keyring_provider`; pip's children never prompt, and pip
        does not ask its keyring without a prompt unless told which one to use) unless ``keyring``
        is false: for a tool that takes pip's sources but not its general options."""
        args: list[str] = []
        if keyring and self.keyring_provider and not self.no_index:
            args += ["--keyring-provider", self.keyring_provider]
        if self.no_index:
            args.append("--no-index")
        if self.index_url and not self.no_index:
            args += ["--index-url", self.index_url]
        if not self.no_index:
            for url in self.extra_index_urls:
                args += ["--extra-index-url", url]
        for link in self.find_links:
            args += ["--find-links", link]
        for host in self.trusted_hosts:
            args += ["--trusted-host", host]
        for flag, value in (
            ("--cert", self.cert),
            ("--client-cert", self.client_cert),
            ("--proxy", self.proxy),
        ):
            if value:
                args += [flag, value]
        return args

    def resolve_args(self) -> list[str]:
        """:meth:`pip_args` plus what changes a resolution (constraints, pre-releases): for the plan."""
        args = self.pip_args()
        for path in self.constraints:
            args += ["--constraint", path]
        if self.pre:
            args.append("--pre")
        return args

    def uv_args(self) -> list[str]:
        """The same sources for ``uv pip`` (which reads uv.toml and ``UV_*``, never pip.conf).

        ``--no-config`` keeps uv's own configuration out (the children's environment has no
        source-related ``UV_*`` either, see :func:`oxwizard.core.proc.uv_environment`); pip looks at every
        index for the best match, so uv is told to do the same."""
        args = ["--no-config"]
        if self.keyring_provider == "subprocess" and not self.no_index:
            args += ["--keyring-provider", "subprocess"]  # the keyring program pip would ask (uv's only kind)
        if self.no_index:
            args.append("--no-index")
        else:
            if self.index_url:
                args += ["--index-url", self.index_url]
            for url in self.extra_index_urls:
                args += ["--extra-index-url", url]
            if self.extra_index_urls:
                args += ["--index-strategy", "unsafe-best-match"]
        for link in self.find_links:
            args += ["--find-links", link]
        for host in self.trusted_hosts:
            args += ["--allow-insecure-host", host]
        return args

    def uv_environ(self) -> dict[str, str]:
        """What uv takes from the environment only: the CA bundle, the client certificate, the proxy."""
        out: dict[str, str] = {}
        if self.cert:
            out["SSL_CERT_FILE"] = self.cert
        if self.client_cert:
            out["SSL_CLIENT_CERT"] = self.client_cert
        if self.proxy:
            out["HTTPS_PROXY"] = out["HTTP_PROXY"] = self.proxy
        return out

    def sources(self) -> tuple[object, ...]:
        """The settings that decide what is installed (not where they came from): for comparisons."""
        return (self.index_url, tuple(self.extra_index_urls), tuple(self.find_links), self.no_index,
                tuple(self.constraints), self.pre, tuple(self.trusted_hosts))  # fmt: skip

    def redacted(self) -> IndexOptions:
        """The same options with credentials masked: the only form that is ever stored."""
        return self.model_copy(
            update={
                "index_url": redact_url(self.index_url) if self.index_url else None,
                "extra_index_urls": [redact_url(u) for u in self.extra_index_urls],
                "find_links": [redact_url(u) for u in self.find_links],
                "proxy": redact_url(self.proxy) if self.proxy else None,
                "origins": [o.model_copy(update={"value": redact_text(o.value)}) for o in self.origins],
            }
        )

    def describe(self) -> str:
        r = self.redacted()
        parts = []
        if r.no_index:
            parts.append("no index")
        elif r.index_url:
            parts.append(f"index {r.index_url}")
        else:
            parts.append("default index")
        if not r.no_index:
            parts += [f"extra {u}" for u in r.extra_index_urls]
        parts += [f"wheelhouse {u}" for u in r.find_links]
        parts += [f"constraints {c}" for c in r.constraints]
        parts += [f"trusted host {h}" for h in r.trusted_hosts]  # compared by sources(): said too
        if r.pre:
            parts.append("pre-releases")
        return ", ".join(parts)

    def origin_lines(self) -> list[str]:
        """One line per setting taken from pip's configuration or a flag, with where it came from."""
        if not self.origins:
            return [
                "pip's defaults" + (" (--isolated: pip's configuration not read)" if self.isolated else "")
            ]
        lines = [o.describe() for o in self.redacted().origins]
        if self.isolated:
            lines.append("--isolated: pip's configuration files and PIP_* not read")
        return lines


def _check_url(url: str, flag: str) -> None:
    shown = redact_url(url)
    if url.startswith("-") or not url.strip() or any(c.isspace() for c in url):
        raise UsageError(f"invalid {flag} value {shown!r}")
    scheme = urlsplit(url).scheme
    if scheme not in {"http", "https", "file"}:
        raise UsageError(f"invalid {flag} value {shown!r}: expected an http(s) or file URL")
