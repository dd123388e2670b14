"""Upgrade targets and index options: plain PEP 508 requirements only, refused before pip runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from oxwizard.core.errors import InvalidSpec, UsageError
from oxwizard.env.specs import IndexOptions, parse_spec, parse_specs, spec_text


@pytest.mark.parametrize(
    ("text", "normalised"),
    [
        ("oxzep7", "oxzep7"),
        ("oxzep7==2.0.0", "oxzep7==2.0.0"),
        ("oxzep7>=1.5,<2", "oxzep7<2,>=1.5"),
        ("  oxzep7 ~= 1.4  ", "oxzep7~=1.4"),
        ("oxzep7[extra]==1.0", "oxzep7[extra]==1.0"),
    ],
)
def test_valid_specs_parse(text: str, normalised: str) -> None:
    assert spec_text(parse_spec(text)) == normalised


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("--index-url=http://x", "looks like an option"),
        ("-e .", "looks like an option"),
        ("oxzep7==notaversion", "'notaversion' is not a valid version"),
        ("oxzep7>=1.0,<zz", "'zz' is not a valid version"),
        ("oxzep7==", "no version after '=='"),
        ("oxzep7=1.0", "'=1.0' is not a version constraint"),
        ("oxzep7; rm -rf /", "character ';' is not allowed"),
        ("oxzep7 && echo", "character '&' is not allowed"),
        ("oxzep7$(id)", "character '$' is not allowed"),
        ("oxzep7 @ https://h/x.whl", "URLs and direct references are not upgrade targets"),
        ("https://alice:hunter2@h.example/x.whl", "URLs and direct references"),
        ("", "empty package spec"),
        ("oxzep7 foo", "invalid package spec"),
    ],
)
def test_invalid_specs_are_one_line_errors(text: str, reason: str) -> None:
    with pytest.raises(InvalidSpec) as info:
        parse_spec(text)
    message = str(info.value)
    assert reason in message
    assert "\n" not in message
    assert info.value.exit_code == 2
    assert "hunter2" not in message


def test_same_package_twice_and_no_spec_are_refused() -> None:
    with pytest.raises(InvalidSpec, match="named twice"):
        parse_specs(["oxzep7==1.5.0", "OXZEP7>=2"])
    with pytest.raises(InvalidSpec, match="no package spec"):
        parse_specs([])
    assert [r.name for r in parse_specs(["oxzep7", "humbleconf"])] == ["oxzep7", "humbleconf"]


def test_index_options_become_separate_installer_arguments(tmp_path: Path) -> None:
    opts = IndexOptions.build(
        index_url="https://pypi.example.com/simple",
        extra_index_urls=["https://extra.example.com/simple"],
        find_links=[str(tmp_path)],
    )
    assert opts.pip_args() == [
        "--index-url",
        "https://pypi.example.com/simple",
        "--extra-index-url",
        "https://extra.example.com/simple",
        "--find-links",
        str(tmp_path.resolve()),
    ]
    offline = IndexOptions.build(
        index_url="https://pypi.example.com/simple", find_links=[str(tmp_path)], no_index=True
    )
    assert offline.pip_args() == ["--no-index", "--find-links", str(tmp_path.resolve())]
    assert offline.describe() == f"no index, wheelhouse {tmp_path.resolve()}"


def test_sources_that_differ_are_described_differently() -> None:
    """A replay refused because the sources differ prints both descriptions: every setting
    ``sources()`` compares is in them, the trusted hosts too (else two identical lists are printed)."""
    plain = IndexOptions.build(extra_index_urls=["http://user:s3cret@127.0.0.1:8917/simple"])
    trusting = plain.model_copy(update={"trusted_hosts": ["127.0.0.1"]})
    assert plain.sources() != trusting.sources()
    assert (
        trusting.describe()
        == "default index, extra http://****@127.0.0.1:8917/simple, trusted host 127.0.0.1"
    )
    assert plain.describe() != trusting.describe()


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"index_url": "--trusted-host=evil"}, "invalid --index-url value"),
        ({"index_url": "ftp://h/simple"}, "expected an http(s) or file URL"),
        ({"index_url": "https://h/a b"}, "invalid --index-url value"),
        ({"extra_index_urls": ["-x"]}, "invalid --extra-index-url value"),
        ({"find_links": ["/definitely/not/here"]}, "--find-links folder not found"),
        ({"find_links": ["--pre"]}, "invalid --find-links value"),
    ],
)
def test_bad_index_options_are_refused(kwargs: dict[str, object], reason: str) -> None:
    with pytest.raises(UsageError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        IndexOptions.build(**kwargs)  # type: ignore[arg-type]


def test_bad_index_url_error_never_shows_the_password() -> None:
    with pytest.raises(UsageError) as info:
        IndexOptions.build(index_url="ftp://alice:hunter2@h.example/simple")
    assert "hunter2" not in str(info.value)
    assert "ftp://****@h.example/simple" in str(info.value)


def test_prefix_match_wildcard_is_a_valid_target() -> None:
    assert str(parse_spec("oxzep7==1.*")) == "oxzep7==1.*"
