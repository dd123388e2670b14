"""Credentials never leave the process: every URL form a user may pass is masked."""

from __future__ import annotations

import pytest

from oxwizard.core.redact import redact_text, redact_url
from oxwizard.env.specs import IndexOptions
from oxwizard.runbook.model import Decision, Evidence

SECRETS = ["s3cr3t-token", "hunter2", "p%40ss%3Aw0rd", "ghp_abc123", "deploy"]

CASES = [
    ("https://s3cr3t-token@pypi.example.com/simple", "https://****@pypi.example.com/simple"),
    ("https://alice:hunter2@pypi.example.com/simple/", "https://****@pypi.example.com/simple/"),
    ("https://al%40ce:p%40ss%3Aw0rd@host.example:8443/s?x=1", "https://****@host.example:8443/s?x=1"),
    ("https://bob:hunter2@ss@host.example/simple", "https://****@host.example/simple"),
    ("git+https://ghp_abc123@github.com/org/repo.git@v1.0", "git+https://****@github.com/org/repo.git@v1.0"),
    ("git+ssh://deploy:hunter2@git.example.com/org/repo", "git+ssh://****@git.example.com/org/repo"),
]


@pytest.mark.parametrize(("url", "expected"), CASES)
def test_redact_url_masks_userinfo(url: str, expected: str) -> None:
    assert redact_url(url) == expected


@pytest.mark.parametrize(("url", "expected"), CASES)
def test_redact_text_masks_urls_inside_free_text(url: str, expected: str) -> None:
    text = f"ERROR: could not fetch {url} (401)\nretrying {url}"
    out = redact_text(text)
    assert out == f"ERROR: could not fetch {expected} (401)\nretrying {expected}"
    for secret in SECRETS:
        assert secret not in out


def test_urls_without_credentials_are_unchanged() -> None:
    for url in [
        "https://pypi.org/simple",
        "file:///tmp/wheelhouse",
        "/tmp/wheelhouse",
        "git+https://h/o/r@v1",
    ]:
        assert redact_url(url) == url
        assert redact_text(f"see {url}") == f"see {url}"


def test_index_options_redacted_masks_every_url() -> None:
    opts = IndexOptions.build(
        index_url="https://alice:hunter2@pypi.example.com/simple",
        extra_index_urls=["https://s3cr3t-token@extra.example.com/simple"],
        find_links=["https://deploy:p%40ss%3Aw0rd@files.example.com/wheels/"],
    )
    # The real values still reach the installer ...
    assert "https://alice:hunter2@pypi.example.com/simple" in opts.pip_args()
    red = opts.redacted()
    dumped = red.model_dump_json() + opts.describe()
    for secret in SECRETS:
        assert secret not in dumped
    assert red.index_url == "https://****@pypi.example.com/simple"
    assert red.extra_index_urls == ["https://****@extra.example.com/simple"]
    assert red.find_links == ["https://****@files.example.com/wheels/"]


def test_evidence_and_commit_messages_are_redacted() -> None:
    ev = Evidence(
        command=["pip", "install", "--index-url", "https://alice:hunter2@pypi.example.com/simple", "x"],
        exit_code=1,
        detail="401 from https://s3cr3t-token@pypi.example.com/simple/x/",
    )
    text = ev.model_dump_json()
    for secret in SECRETS:
        assert secret not in text
    assert "https://****@pypi.example.com/simple" in ev.command  # type: ignore[operator]
    d = Decision(step="plan", question="q", answer="from https://alice:hunter2@h.example/simple", evidence=ev)
    assert d.commit_message() == "plan: from https://****@h.example/simple"
