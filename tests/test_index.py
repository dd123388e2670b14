"""``outdated`` read straight from an index: a real simple repository on 127.0.0.1 (JSON and HTML),
compared with ``pip list --outdated`` against the same server; the HTTP cache; failures."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name
from simple_index import SimpleIndex, closed_port, serve
from test_environment import tiny_wheel
from test_plan import make_venv

from oxwizard.core import proc
from oxwizard.env.environment import Environment
from oxwizard.env.index import IndexReader
from oxwizard.env.outdated import candidates_for, outdated_report
from oxwizard.env.specs import IndexOptions

YANKED = "big-3.0.0-py3-none-any.whl"
OLD_PYTHON_ONLY = "mid-1.4.0-py3-none-any.whl"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A venv (big 1.4.2, mid 1.2.0, tiny 0.3.1, fresh 1.0.0, local-only 1.0) and what the index
    offers: newer versions, a yanked one, one for Pythons < 3.0 only and a pre-release."""
    root = tmp_path_factory.mktemp("index")
    installed, served = root / "installed", root / "served"
    for name, version in [("big", "1.4.2"), ("mid", "1.2.0"), ("tiny", "0.3.1"), ("fresh", "1.0.0"),
                          ("local-only", "1.0")]:  # fmt: skip
        tiny_wheel(installed, name, version)
    for name, version in [("big", "1.4.2"), ("big", "1.5.0"), ("big", "2.0.0"), ("big", "2.1.0rc1"),
                          ("big", "3.0.0"), ("mid", "1.2.0"), ("mid", "1.3.0"), ("mid", "1.4.0"),
                          ("tiny", "0.3.1"), ("tiny", "0.3.2"), ("fresh", "1.0.0")]:  # fmt: skip
        tiny_wheel(served, name, version)
    venv = make_venv(root, installed, "big", "mid", "tiny", "fresh", "local-only")
    return venv, served


@pytest.fixture(autouse=True)
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("OXWIZARD_INDEX_CACHE", str(cache))
    return cache


@pytest.fixture
def index(world: tuple[Path, Path]) -> Iterator[SimpleIndex]:
    with serve(SimpleIndex(world[1], yanked={YANKED}, requires_python={OLD_PYTHON_ONLY: "<3.0"})) as served:
        yield served


def pips_rows(venv: Path, url: str, *more: str) -> dict[str, str]:
    """``pip list --outdated`` in the venv against ``url`` only: {name: latest}."""
    argv = [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "list", "--outdated",
            "--format=json", "--no-cache-dir", "--index-url", url, *more]  # fmt: skip
    done = proc.run(argv, env=proc.pip_environment(), timeout=120)
    assert done.ok, done.stderr
    return {canonicalize_name(r["name"]): r["latest_version"] for r in json.loads(done.stdout)}


def ours(venv: Path, url: str, **kw: object) -> dict[str, str]:
    report = outdated_report(Environment.open(venv), IndexOptions.build(index_url=url), **kw)  # type: ignore[arg-type]
    assert report.errors == [] and report.unanswered == []
    return {r.name: r.latest for r in report.rows}


@pytest.mark.parametrize("formats", ["json", "json-1.0", "json-odd", "html"])
def test_same_rows_as_pip_from_json_and_html_pages(
    world: tuple[Path, Path], index: SimpleIndex, formats: str
) -> None:
    index.formats = formats
    expected = {"big": "2.0.0", "mid": "1.3.0", "tiny": "0.3.2"}  # not the yanked 3.0.0, not 1.4.0 (<3.0)
    assert ours(world[0], index.url) == expected
    kind = "application/vnd.pypi.simple.v1+json" if formats.startswith("json") else "text/html"
    assert set(index.served) == {kind}
    assert pips_rows(world[0], index.url) == expected
    # pre-releases only when asked, as pip's --pre
    assert ours(world[0], index.url, pre=True)["big"] == "2.1.0rc1"
    assert pips_rows(world[0], index.url, "--pre")["big"] == "2.1.0rc1"


def test_second_run_is_served_from_the_cache(world: tuple[Path, Path], index: SimpleIndex) -> None:
    venv = world[0]
    assert ours(venv, index.url)["big"] == "2.0.0"
    assert index.statuses[200] == 4 and index.statuses[404] == 1  # local-only is not on the index
    index.reset()
    assert ours(venv, index.url)["big"] == "2.0.0"  # max-age 0: asked again, answered 304
    assert index.statuses == {304: 4, 404: 1}
    index.max_age = 600
    ours(venv, index.url)  # stores the new freshness
    index.reset()
    started = time.perf_counter()
    assert ours(venv, index.url) == {"big": "2.0.0", "mid": "1.3.0", "tiny": "0.3.2"}
    assert index.requests == 1  # only the 404 (not cached as fresh); the rest within max-age
    assert time.perf_counter() - started < 1.0


def test_at_most_eight_connections_to_an_index_kept_alive_across_threads(
    world: tuple[Path, Path], index: SimpleIndex
) -> None:
    """Indexes and proxies limit how many connections one client may hold (one proxy stalled every
    connection past 16 for seconds): 40 projects are asked at most 8 at a time, over at most 8
    connections, each reused by whichever thread is free."""
    index.delay = 0.02  # every worker busy at once
    reader = IndexReader(IndexOptions.build(index_url=index.url))
    names = ["big", "mid", "tiny", *(f"absent-{n}" for n in range(37))]
    answers = {a.name: a for a in reader.answers(names, candidates_for(Environment.open(world[0])))}
    reader.close()
    assert [str(v) for v in answers["big"].versions or []] == ["1.4.2", "1.5.0", "2.0.0"]  # no floor: all
    assert len(answers) == 40 and all(a.versions is not None for a in answers.values())
    assert index.requests == 40
    assert index.most_open <= 8 and index.connections <= 8


def test_credentials_are_sent_and_never_shown_or_cached(
    world: tuple[Path, Path], index: SimpleIndex, own_cache: Path
) -> None:
    index.auth = ("ann", "s3cret-token")
    good = index.url.replace("http://", "http://ann:s3cret-token@")
    assert ours(world[0], good)["big"] == "2.0.0"
    stored = "".join(p.read_text() for p in own_cache.rglob("*.json"))
    assert "s3cret-token" not in stored and "127.0.0.1" in stored
    bad = index.url.replace("http://", "http://ann:wrong-token@")
    report = outdated_report(Environment.open(world[0]), IndexOptions.build(index_url=bad))
    assert report.errors and "HTTP 401" in report.errors[0]
    assert "wrong-token" not in " ".join(report.errors + [u.error for u in report.unanswered])


def test_unreachable_index_in_the_cli(world: tuple[Path, Path]) -> None:
    url = f"http://ann:s3cret@127.0.0.1:{closed_port()}/simple"
    argv = [
        sys.executable,
        "-m",
        "oxwizard",
        "outdated",
        "--env",
        str(world[0]),
        "--isolated",
        "--index-url",
        url,
    ]
    started = time.perf_counter()
    out = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert time.perf_counter() - started < 20
    assert out.returncode == 1
    assert "cannot read http://****@127.0.0.1" in out.stderr and "s3cret" not in out.stderr + out.stdout
    lines = {ln.split()[0]: ln for ln in out.stdout.splitlines()[1:]}
    assert set(lines) == {"big", "fresh", "local-only", "mid", "tiny"}
    assert all("unknown (index unreachable)" in ln for ln in lines.values())
    data = json.loads(subprocess.run([*argv, "--json"], capture_output=True, text=True, timeout=60).stdout)
    assert {d["name"]: d["latest"] for d in data} == dict.fromkeys(lines)


def test_a_slow_index_times_out_instead_of_hanging(world: tuple[Path, Path], index: SimpleIndex) -> None:
    index.delay = 0.6
    reader = IndexReader(IndexOptions.build(index_url=index.url), timeout=0.2)
    started = time.perf_counter()
    answers = list(reader.answers(["big", "mid", "tiny"], candidates_for(Environment.open(world[0]))))
    reader.close()
    assert time.perf_counter() - started < 30  # bounded by the timeout, not a hang
    assert [a.versions for a in answers] == [None, None, None]
    assert reader.errors == [f"{index.url}: timed out"]


def test_pips_configuration_is_read_once_until_it_changes(
    world: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from oxwizard.env.pipconfig import effective_index

    venv = world[0]
    site = venv / "pip.conf"
    monkeypatch.setenv("PIP_CONFIG_FILE", str(venv / "user.conf"))  # absent: a file that may appear
    probes: list[list[str]] = []
    real_run = proc.run

    def counting(argv: list[str], **kw: object) -> proc.Completed:
        if any("create_command" in a for a in argv):  # pip's configuration probe
            probes.append(argv)
        return real_run(argv, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(proc, "run", counting)
    env = Environment.open(venv)
    try:
        site.write_text("[global]\nindex-url = https://one.example.invalid/simple\n")
        assert effective_index(env, IndexOptions()).index_url == "https://one.example.invalid/simple"
        assert effective_index(env, IndexOptions()).index_url == "https://one.example.invalid/simple"
        assert len(probes) == 1  # the second answer came from the cache
        site.write_text("[global]\nindex-url = https://two.example.invalid/simple\n")
        assert effective_index(env, IndexOptions()).index_url == "https://two.example.invalid/simple"
        (venv / "user.conf").write_text("[global]\nextra-index-url = https://three.example.invalid/s\n")
        assert effective_index(env, IndexOptions()).extra_index_urls == ["https://three.example.invalid/s"]
        monkeypatch.setenv("PIP_INDEX_URL", "https://four.example.invalid/simple")
        assert effective_index(env, IndexOptions()).index_url == "https://four.example.invalid/simple"
        assert len(probes) == 4
    finally:
        site.unlink(missing_ok=True)
        (venv / "user.conf").unlink(missing_ok=True)
