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
from pydantic import BaseModel, ConfigDict, Field

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


class IndexOptions(BaseModel):
    """Where packages come from. Stored redacted in runbooks (see :meth:`redacted`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    index_url: str | None = None
    extra_index_urls: list[str] = Field(default_factory=list)
    find_links: list[str] = Field(default_factory=list)
    no_index: bool = False

    @classmethod
    def build(
        cls,
        index_url: str | None = None,
        extra_index_urls: list[str] | None = None,
        find_links: list[str] | None = None,
        no_index: bool = False,
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
        return cls(
            index_url=index_url,
            extra_index_urls=list(extra_index_urls or []),
            find_links=links,
            no_index=no_index,
        )

    def pip_args(self) -> list[str]:
        """Arguments for pip or ``uv pip``, each option with its value as separate items."""
        args: list[str] = []
        if self.no_index:
            args.append("--no-index")
        if self.index_url and not self.no_index:
            args += ["--index-url", self.index_url]
        if not self.no_index:
            for url in self.extra_index_urls:
                args += ["--extra-index-url", url]
        for link in self.find_links:
            args += ["--find-links", link]
        return args

    def redacted(self) -> IndexOptions:
        """The same options with credentials masked: the only form that is ever stored."""
        return IndexOptions(
            index_url=redact_url(self.index_url) if self.index_url else None,
            extra_index_urls=[redact_url(u) for u in self.extra_index_urls],
            find_links=[redact_url(u) for u in self.find_links],
            no_index=self.no_index,
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
        parts += [f"extra {u}" for u in r.extra_index_urls]
        parts += [f"wheelhouse {u}" for u in r.find_links]
        return ", ".join(parts)


def _check_url(url: str, flag: str) -> None:
    shown = redact_url(url)
    if url.startswith("-") or not url.strip() or any(c.isspace() for c in url):
        raise UsageError(f"invalid {flag} value {shown!r}")
    scheme = urlsplit(url).scheme
    if scheme not in {"http", "https", "file"}:
        raise UsageError(f"invalid {flag} value {shown!r}: expected an http(s) or file URL")
