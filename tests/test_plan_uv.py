"""A plan for an environment uv installs into is uv's own resolution (issue 14: "or uv's when driving
uv"): uv's dry run decides the changes, and each new version's file, sha256, requirements and
Requires-Python come from the sources (PEP 658 metadata, local wheels), or from pip's report for
exactly those versions when the sources do not describe them. Real uv, real venvs, real wheels, and a
simple index served on 127.0.0.1."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import DemoFactory
from packaging.requirements import Requirement
from packaging.tags import Tag
from packaging.version import Version
from simple_index import SimpleIndex, serve

from oxwizard.demo.sandbox import DemoSandbox
from oxwizard.env.environment import Environment, find_uv
from oxwizard.env.index import IndexFile, parse_html, parse_json
from oxwizard.env.plan import Plan, compute_plan
from oxwizard.env.specs import IndexOptions
from oxwizard.env.uv_plan import best_file, resolution_message, too_old

pytestmark = pytest.mark.skipif(find_uv() is None, reason="uv is not installed (a dev dependency)")

# Runs `oxwizard ARGV` in this interpreter and lists the command lines of the dry runs it started.
_SCRIPT = """
import contextlib, io, json, os, subprocess, sys
lines = []
real_init = subprocess.Popen.__init__
def init(self, args, *a, **k):
    if "--dry-run" in args:
        lines.append(list(args))
    real_init(self, args, *a, **k)
subprocess.Popen.__init__ = init
out = io.StringIO()
with contextlib.redirect_stdout(out):
    from oxwizard.cli import main
    code = main(sys.argv[1:])
print(json.dumps({"code": code, "out": out.getvalue(), "dry_runs": lines}))
"""


def _plan(sandbox: DemoSandbox, *argv: str) -> tuple[int, str, list[list[str]]]:
    where = ["--env", str(sandbox.venv), "--find-links", str(sandbox.wheelhouse), "--no-index"]
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT, "plan", *argv, *where],
        capture_output=True, text=True, timeout=300, check=False, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    return answer["code"], answer["out"], answer["dry_runs"]


def _changes(plan: Plan) -> list[dict[str, object]]:
    return [c.model_dump() for c in plan.changes]


def test_uv_resolves_the_plan_and_it_says_what_pips_would(demo_template: DemoSandbox) -> None:
    code, out, runs = _plan(demo_template, "oxzep7", "--json", "--installer", "uv")
    assert code == 0, out
    by_uv = Plan.model_validate_json(out)
    # uv's dry run made the plan: the only dry run, and no pip anywhere in it
    assert [Path(r[0]).name for r in runs] == ["uv"] and "--upgrade-package=oxzep7" in runs[0]
    assert by_uv.installer == "uv"
    assert [(c.name, c.from_version, c.to_version, c.kind, c.requested) for c in by_uv.changes] == [
        ("oxzep7", "1.4.2", "2.0.0", "upgrade", True),
        ("oxzep7-core", None, "2.0.0", "new", False),
    ]
    wheel = demo_template.wheelhouse / "oxzep7-2.0.0-py3-none-any.whl"
    change = by_uv.changes[0]
    assert change.sha256 == hashlib.sha256(wheel.read_bytes()).hexdigest()
    assert change.source == wheel.as_uri()
    assert any(r.startswith("oxzep7-core") for r in change.requires)  # read from the wheel itself

    code, out, runs = _plan(demo_template, "oxzep7", "--json", "--installer", "pip")
    assert code == 0 and [r[1:3] for r in runs] == [["-m", "pip"]]
    by_pip = Plan.model_validate_json(out)
    # every detail of every change, the pip check verdicts and the pins are the same as pip's
    assert _changes(by_uv) == _changes(by_pip)
    assert by_uv.pinned == by_pip.pinned == ["oxzep7==2.0.0", "oxzep7-core==2.0.0"]
    assert (by_uv.pip_check_before, by_uv.pip_check_after) == (
        by_pip.pip_check_before,
        by_pip.pip_check_after,
    )


def test_a_uv_plan_that_cannot_resolve_says_why_in_one_line(demo_template: DemoSandbox) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "oxwizard", "plan", "oxzep7==9.9", "--installer", "uv", "--env",
         str(demo_template.venv), "--find-links", str(demo_template.wheelhouse), "--no-index"],
        capture_output=True, text=True, timeout=300, check=False, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("oxwizard: error: cannot resolve: ") and "oxzep7==9.9" in line


def test_a_uv_plan_predicts_the_conflict_and_finds_the_target_that_clears_it(
    conflict_template: DemoSandbox,
) -> None:
    env = Environment.open(conflict_template.venv)
    env.use_installer("uv", "--installer uv")
    index = IndexOptions(find_links=[str(conflict_template.wheelhouse)], no_index=True)
    plan = compute_plan(env, [Requirement("libb==2.0")], index)
    assert plan.installer == "uv"
    assert plan.pip_check_after == ["liba 1.0 has requirement libb<2, but you have libb 2.0."]
    # the trials are uv's dry runs too: adding liba lets uv move it to 2.0
    assert [(r.add, [(m.name, m.to_version) for m in r.moves]) for r in plan.resolutions] == [
        (["liba"], [("liba", "2.0")])
    ]


@pytest.fixture
def fresh(
    demo: DemoFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[DemoSandbox, Environment]:
    """A demo sandbox of its own, opened, with an empty index cache (nothing kept from before)."""
    monkeypatch.setenv("OXWIZARD_INDEX_CACHE", str(tmp_path / "index-cache"))
    sandbox = demo()
    return sandbox, Environment.open(sandbox.venv)


@pytest.mark.parametrize("formats", ["json", "html"])
def test_a_uv_plan_takes_files_and_metadata_from_the_index_and_reads_them_once(
    fresh: tuple[DemoSandbox, Environment], formats: str
) -> None:
    sandbox, env = fresh
    env.use_installer("uv", "--installer uv")
    with serve(SimpleIndex(sandbox.wheelhouse, formats=formats, complete=True, max_age=600)) as index:
        options = IndexOptions(index_url=index.url)
        plan = compute_plan(env, [Requirement("oxzep7")], options)
        assert [(c.name, c.to_version) for c in plan.changes] == [
            ("oxzep7", "2.0.0"),
            ("oxzep7-core", "2.0.0"),
        ]
        for change in plan.changes:
            wheel = f"{change.name.replace('-', '_')}-2.0.0-py3-none-any.whl"
            assert change.sha256 == index.sha256_of(wheel)  # as the index gives it
            assert change.source == index.url.removesuffix("/simple") + f"/files/{wheel}"
            assert change.index == index.url
        assert any(r.startswith("oxzep7-core") for r in plan.changes[0].requires)  # its PEP 658 metadata
        ours = sorted(p for who, p in index.agents if who == "oxwizard")
        assert ours == [  # each page and metadata file once; no wheel
            "/files/oxzep7-2.0.0-py3-none-any.whl.metadata",
            "/files/oxzep7_core-2.0.0-py3-none-any.whl.metadata",
            "/simple/oxzep7-core/",
            "/simple/oxzep7/",
        ]
        assert max(n for (who, _), n in index.agents.items() if who == "oxwizard") == 1

        index.reset()
        again = compute_plan(env, [Requirement("oxzep7")], options)
        assert _changes(again) == _changes(plan)
        # oxwizard keeps the metadata files (by their sha256) and the pages (max-age): it asks for
        # nothing again, and never for a wheel (uv asks what it asks)
        assert not [p for who, p in index.agents if who == "oxwizard"]
        assert {who for who, _ in index.agents} == {"uv"}


@pytest.mark.parametrize("hashes", [True, False], ids=["pages-with-sha256", "pages-without"])
def test_without_metadata_on_the_index_pip_describes_the_versions_uv_picked(
    fresh: tuple[DemoSandbox, Environment], hashes: bool
) -> None:
    sandbox, env = fresh
    with serve(SimpleIndex(sandbox.wheelhouse, core_metadata=False, complete=hashes)) as index:
        options = IndexOptions(index_url=index.url)
        env.use_installer("pip", "--installer pip")
        by_pip = compute_plan(env, [Requirement("oxzep7")], options)
        env.use_installer("uv", "--installer uv")
        index.reset()
        by_uv = compute_plan(env, [Requirement("oxzep7")], options)
        assert any(who == "pip" for who, _ in index.agents)  # pip read the wheels uv picked
        index.reset()
        again = compute_plan(env, [Requirement("oxzep7")], options)
        # what pip said of a wheel is kept under its sha256: when the page gives the sha256 of the
        # file uv picks, that is the very wheel pip described, and no pip runs the second time
        assert any(who == "pip" for who, _ in index.agents) is not hashes
    assert by_uv.installer == "uv" and [c.name for c in by_uv.changes] == ["oxzep7", "oxzep7-core"]
    assert _changes(by_uv) == _changes(by_pip) == _changes(again)  # requirements, sha256, source: all there


# -- the sources' files, read as uv chooses among them --------------------------------------------------
def test_index_pages_give_each_files_url_sha256_and_metadata() -> None:
    [json_file] = parse_json(
        {"files": [{"filename": "a-1.0-py3-none-any.whl", "url": "../../files/a-1.0-py3-none-any.whl#x",
                    "hashes": {"sha256": "AB12"}, "core-metadata": {"sha256": "CD34"}}]},
        "https://host/simple/a/",
    )  # fmt: skip
    assert (json_file.url, json_file.sha256, json_file.metadata) == (
        "https://host/files/a-1.0-py3-none-any.whl", "ab12", "cd34"
    )  # fmt: skip
    [html_file, bare] = parse_html(
        '<a href="../../files/a-1.0.tar.gz#sha256=EF56" data-dist-info-metadata="true">a-1.0.tar.gz</a>'
        '<a href="https://cdn/a-1.1.zip">a-1.1.zip</a>',
        "https://host/simple/a/",
    )
    assert (html_file.url, html_file.sha256, html_file.metadata) == (
        "https://host/files/a-1.0.tar.gz",
        "ef56",
        "",
    )
    assert (bare.url, bare.sha256, bare.metadata) == ("https://cdn/a-1.1.zip", None, None)


def test_the_file_uv_installs_is_the_best_fitting_wheel_not_yanked_from_the_source_asked_first() -> None:
    rank = {Tag("cp311", "cp311", "manylinux_2_17_x86_64"): 0, Tag("py3", "none", "any"): 1}
    first = [IndexFile("a-2.0-py3-none-any.whl", url="first"), IndexFile("a-2.0.tar.gz", url="first")]
    second = [
        IndexFile("a-2.0-cp311-cp311-manylinux_2_17_x86_64.whl", url="second"),
        IndexFile("a-2.0-cp312-cp312-manylinux_2_17_x86_64.whl", url="second"),
        IndexFile("a-1.0-cp311-cp311-manylinux_2_17_x86_64.whl", url="second"),
    ]
    assert best_file([first, second], [0, 1], "a", Version("2.0"), rank) == second[0]  # the better tag
    assert best_file([first, second], [0, 1], "a", Version("1.0"), rank) == second[2]  # that version only
    same = [IndexFile("a-2.0-py3-none-any.whl", url="other")]
    assert best_file([first, same], [1, 0], "a", Version("2.0"), rank) == same[0]  # a tie: asked first
    yanked = [IndexFile("a-2.0-cp311-cp311-manylinux_2_17_x86_64.whl", yanked=True)]
    assert best_file([first, yanked], [0, 1], "a", Version("2.0"), rank) == first[0]
    only_sdist = [IndexFile("a-3.0.tar.gz"), IndexFile("a-3.0-cp39-cp39-win32.whl")]
    assert best_file([only_sdist], [0], "a", Version("3.0"), rank) == only_sdist[0]  # no wheel fits
    assert best_file([only_sdist], [0], "a", Version("4.0"), rank) is None


def test_a_private_index_is_read_with_its_credentials_which_never_reach_the_plan(
    demo: DemoFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OXWIZARD_INDEX_CACHE", str(tmp_path / "index-cache"))  # nothing kept from before
    sandbox = demo()
    env = Environment.open(sandbox.venv)
    env.use_installer("uv", "--installer uv")
    with serve(SimpleIndex(sandbox.wheelhouse, complete=True, auth=("alice", "s3cret"))) as index:
        plan = compute_plan(
            env, [Requirement("oxzep7")], IndexOptions(index_url=index.url.replace("//", "//alice:s3cret@"))
        )
        assert (
            index.statuses[401] == 0
            and index.agents[("oxwizard", "/simple/oxzep7/")] == 1
            and index.agents[("oxwizard", "/files/oxzep7-2.0.0-py3-none-any.whl.metadata")] == 1
        )
    assert [(c.name, c.to_version) for c in plan.changes] == [("oxzep7", "2.0.0"), ("oxzep7-core", "2.0.0")]
    assert plan.changes[0].index == index.url.replace("//", "//****@")
    assert "s3cret" not in plan.model_dump_json()


def test_uvs_refusals_read_as_a_plan_error_or_as_a_uv_too_old_for_json() -> None:
    refused = (
        "error: No solution found when resolving dependencies\n"
        "  cause: Because there is no version of rich==99 and you require rich==99, we can conclude"
        " that your requirements are unsatisfiable.\n"
    )
    assert resolution_message(refused) == (
        "cannot resolve: Because there is no version of rich==99 and you require rich==99, we can"
        " conclude that your requirements are unsatisfiable."
    )
    assert not too_old(refused)
    # a cause that goes on over indented lines is kept whole; a hint is not the reason
    two = (
        "error: No solution found when resolving dependencies\n"
        "  cause: Because flask==3.1.0 depends on werkzeug>=3.1 and you require flask==3.1.0, we can"
        " conclude that you require werkzeug>=3.1.\n"
        "         And because you require werkzeug<3, we can conclude that your requirements are"
        " unsatisfiable.\n"
        "  hint: Pre-releases are available for werkzeug\n"
    )
    assert resolution_message(two) == (
        "cannot resolve: Because flask==3.1.0 depends on werkzeug>=3.1 and you require flask==3.1.0, we"
        " can conclude that you require werkzeug>=3.1. And because you require werkzeug<3, we can"
        " conclude that your requirements are unsatisfiable."
    )
    # clap's words for an option this uv does not know: the plan is then pip's, as before uv's own
    old = "error: unexpected argument '--output-format' found\n\nUsage: uv pip install [OPTIONS]\n"
    assert too_old(old)


def test_many_changes_are_described_with_one_request_at_a_time(
    demo_template: DemoSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A plan of every outdated target (9 changes, one of them new) describes each change from the
    wheelhouse, also with one request at a time (a wait for a project's files holds no slot, so
    the one slot cannot be held by work that waits for work needing it)."""
    import threading

    import oxwizard.env.uv_plan as uv_plan

    monkeypatch.setattr(uv_plan, "THREADS", 1)
    env = Environment.open(demo_template.venv)
    env.use_installer("uv", "--installer uv")
    index = IndexOptions(find_links=[str(demo_template.wheelhouse)], no_index=True)
    names = ["alpha", "beta", "delta", "gamma", "humbleconf", "oxzep7", "quillpen", "ziprow"]
    done: list[Plan] = []
    worker = threading.Thread(
        target=lambda: done.append(compute_plan(env, [Requirement(n) for n in names], index, suggest=False)),
        daemon=True,
    )
    worker.start()
    worker.join(120)
    assert done, "the plan never ended"
    assert len(done[0].changes) == 9 and all(c.sha256 and c.source for c in done[0].changes)
