"""API impact before install: the names a new version removes, changes or deprecates, joined with who
uses them (the project's code and the installed dependents), on the real demo and on real wheels."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from simple_index import SimpleIndex, serve
from test_plan import make_venv

from oxwizard.checks.api_impact import (
    Tree,
    api_impact,
    compare,
    compare_all,
    find_uses,
    new_trees,
    tree_from_record,
)
from oxwizard.checks.risk import assess
from oxwizard.demo.sandbox import DemoSandbox
from oxwizard.demo.wheels import build_wheel
from oxwizard.env.api_report import ApiImpact
from oxwizard.env.environment import Environment
from oxwizard.env.plan import Plan, compute_plan
from oxwizard.env.specs import IndexOptions, parse_specs
from oxwizard.runbook.model import load_runbook


def offline(demo: DemoSandbox) -> IndexOptions:
    return IndexOptions.build(find_links=[str(demo.wheelhouse)], no_index=True)


def planned(demo: DemoSandbox, spec: str, cache: Path) -> Plan:
    env = Environment.open(demo.venv)
    plan = compute_plan(env, parse_specs([spec]), offline(demo))
    plan.api_impact = api_impact(env, plan, offline(demo), demo.project, cache=cache)
    return plan


@pytest.fixture(scope="module")
def plan_20(demo_template: DemoSandbox, tmp_path_factory: pytest.TempPathFactory) -> Plan:
    return planned(demo_template, "oxzep7==2.0.0", tmp_path_factory.mktemp("api-cache"))


def impact_of(
    tmp_path: Path, house: Path, installed: list[str], target: str, files: dict[str, str]
) -> ApiImpact:
    """The API impact of upgrading a venv of ``installed`` to ``target`` (specs, by spaces; from
    ``house``, no index), for a project of ``files`` (path -> text)."""
    venv = make_venv(tmp_path, house, *installed)
    project = tmp_path / "project"
    for rel, text in files.items():
        (project / rel).parent.mkdir(parents=True, exist_ok=True)
        (project / rel).write_text(text)
    env = Environment.open(venv)
    index = IndexOptions.build(find_links=[str(house)], no_index=True)
    plan = compute_plan(env, parse_specs(target.split()), index, suggest=False)
    return api_impact(env, plan, index, project, cache=tmp_path / "cache")


def uses_of(plan: Plan) -> set[tuple[str, str, int, str, str, str]]:
    assert plan.api_impact is not None
    return {(u.user, u.file, u.line, u.name, u.change, u.kind) for u in plan.api_impact.uses}


def test_2_0_0_names_the_removed_names_and_the_projects_and_the_plugins_uses(plan_20: Plan) -> None:
    impact = plan_20.api_impact
    assert impact is not None
    assert {(c.kind, c.what, c.path) for c in impact.changes} == {
        ("removed", "module", "oxzep7.fmt"),
        ("removed", "function", "oxzep7.legacy_parse"),
    }
    fmt = impact.change("oxzep7.fmt")
    assert fmt is not None and fmt.moved_to == "oxzep7.formatting"  # same functions, new module
    assert {
        ("", "demoapp/app.py", 24, "oxzep7.fmt.render", "oxzep7.fmt", "removed"),  # inside try/except
        ("", "demoapp/app.py", 33, "oxzep7.legacy_parse", "oxzep7.legacy_parse", "removed"),  # attribute
        ("oxzep7-plugin", "oxzep7_plugin/__init__.py", 1, "oxzep7.fmt.render", "oxzep7.fmt", "removed"),
    } <= uses_of(plan_20)
    assert impact.not_checked == []
    # it is part of the plan: its digest covers it
    assert plan_20.digest() != plan_20.model_copy(update={"api_impact": None}).digest()


def test_1_5_0_predicts_only_the_deprecation_with_its_use(demo_template: DemoSandbox, tmp_path: Path) -> None:
    plan = planned(demo_template, "oxzep7==1.5.0", tmp_path)
    assert plan.api_impact is not None
    assert [(c.kind, c.path) for c in plan.api_impact.changes] == [("deprecated", "oxzep7.legacy_parse")]
    assert "will be removed in oxzep7 2.0" in plan.api_impact.changes[0].detail  # the warning's text
    assert ("", "demoapp/app.py", 33, "oxzep7.legacy_parse", "oxzep7.legacy_parse", "deprecated") in uses_of(
        plan
    )
    assert plan.api_impact.breaking_uses == []
    risk = assess(plan)
    assert not any("removed or changed" in r for r in risk.reasons)
    # said (it breaks with a later version), not weighed: the same level as without the impact
    assert any(
        r.startswith("2 use(s) of names deprecated: demoapp/app.py:33 uses oxzep7.legacy_parse")
        for r in risk.reasons
    ), risk.reasons
    assert risk.level == assess(plan.model_copy(update={"api_impact": None})).level


def test_risk_weighs_a_removed_name_in_use_as_high(plan_20: Plan) -> None:
    without = assess(plan_20.model_copy(update={"api_impact": None}))
    risk = assess(plan_20)
    assert without.level != "high"
    assert risk.level == "high"
    assert any(
        "removed or changed incompatibly: demoapp/app.py:24 uses oxzep7.fmt.render" in r for r in risk.reasons
    )


def test_plan_command_lists_each_use_with_file_and_line(demo_template: DemoSandbox, tmp_path: Path) -> None:
    argv = [sys.executable, "-m", "oxwizard", "plan", "oxzep7==2.0.0", "--env", str(demo_template.venv)]
    argv += [
        "--project",
        str(demo_template.project),
        "--no-index",
        "--find-links",
        str(demo_template.wheelhouse),
    ]
    env = {**os.environ, "OXWIZARD_CACHE_DIR": str(tmp_path)}
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False, env=env)
    assert done.returncode == 0, done.stderr
    lines = [line.strip() for line in done.stdout.splitlines()]
    assert (
        "demoapp/app.py:24 uses oxzep7.fmt.render — "
        "module oxzep7.fmt removed in 2.0.0 (now oxzep7.formatting?)"
    ) in lines
    assert (
        "oxzep7_plugin/__init__.py:1 (installed oxzep7-plugin 1.0.0) uses oxzep7.fmt.render — "
        "module oxzep7.fmt removed in 2.0.0 (now oxzep7.formatting?)"
    ) in lines
    assert (
        "demoapp/app.py:33 uses oxzep7.legacy_parse — function oxzep7.legacy_parse removed in 2.0.0" in lines
    )
    assert any(p.name.startswith("oxzep7-2.0.0-") for p in (tmp_path / "api").iterdir())  # cached


def test_the_recorded_runbook_holds_the_impact(recorded_20: tuple[DemoSandbox, Path]) -> None:
    _, path = recorded_20
    runbook = load_runbook(path)  # validates the plan's digest, api_impact included
    assert ("", "demoapp/app.py", 24, "oxzep7.fmt.render", "oxzep7.fmt", "removed") in uses_of(runbook.plan)
    risk = next(d for d in runbook.decisions if d.step == "risk")
    assert risk.answer.startswith("high risk")
    assert risk.evidence is not None and "demoapp/app.py:24 uses oxzep7.fmt.render" in risk.evidence.detail


def test_uses_through_aliases_attributes_and_literal_dynamic_access_and_the_limits() -> None:
    source = """\
import os
import oxzep7 as ox
import oxzep7.fmt
from oxzep7 import fmt as f, parse
from other import thing
try:
    from oxzep7.fmt import render
except ImportError:
    render = None

def go(name):
    import importlib
    ox.legacy_parse("a")
    f.render([])
    oxzep7.fmt.render([])
    getattr(ox, "legacy_parse")
    getattr(ox, name)
    importlib.import_module("oxzep7.fmt")
    importlib.import_module(name)
    thing.legacy_parse
from oxzep7.cli import *
"""
    uses, limits = find_uses(source, {"oxzep7"}, filename="m.py")
    assert {(u.line, u.name) for u in uses} == {
        (2, "oxzep7"),
        (3, "oxzep7.fmt"),
        (4, "oxzep7.fmt"),
        (4, "oxzep7.parse"),
        (7, "oxzep7.fmt.render"),
        (13, "oxzep7.legacy_parse"),
        (14, "oxzep7.fmt.render"),
        (15, "oxzep7.fmt.render"),
        (16, "oxzep7.legacy_parse"),
        (18, "oxzep7.fmt"),
    }
    assert sorted(limits) == [
        "m.py:17: getattr(oxzep7, …) with a computed name",
        "m.py:19: importlib.import_module(…) with a computed module name",
        "m.py:21: from oxzep7.cli import * (names from it not followed)",
    ]


def _tree(folder: Path, wheel: Path) -> Tree:
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(folder)
        names = archive.namelist()
        return tree_from_record(folder, [(n, hashlib.sha256(archive.read(n)).hexdigest()) for n in names])


def test_signatures_decorators_warning_subclasses_and_compiled_modules(tmp_path: Path) -> None:
    old_files = {
        "sig/__init__.py": "def call(a, b, c=1):\n    pass\n\n\ndef keep(x):\n    pass\n\n\n"
        "def old_style(x):\n    pass\n\n\nclass Thing:\n    pass\n\n\nOLD = 1\nGONE = 2\n"
        "\n\ndef fast(x, fastpath=None):\n    pass\n",
        "sig/_speed.cpython-311-x86_64-linux-gnu.so": b"\x7fELF",
    }
    marker = tmp_path / "imported"
    new_files = {
        "sig/__init__.py": f"open({str(marker)!r}, 'w').close()  # never run: nothing new is imported\n"
        "import warnings\nfrom typing_extensions import deprecated\n\n\n"
        "class SigDeprecation(DeprecationWarning):\n    pass\n\n\n"
        "def call(a, *, d):\n    pass\n\n\n"
        "@deprecated('use call')\ndef keep(x):\n    pass\n\n\n"
        "def old_style(x):\n"
        "    warnings.warn('old_style goes', SigDeprecation)\n\n\n"
        "class Thing:\n    def __init__(self):\n"
        "        warnings.warn('no more', category=DeprecationWarning)\n\n\n"
        "def fast(x, fastpath=None):\n    if fastpath is not None:\n"
        "        warnings.warn('fastpath is deprecated', DeprecationWarning)\n\n\n"
        "def __getattr__(name):\n    if name == 'OLD':\n"
        "        warnings.warn('OLD is deprecated', DeprecationWarning)\n        return 1\n"
        "    raise AttributeError(name)\n",
        "sig/_speed.cpython-311-x86_64-linux-gnu.so": b"\x7fELF",
    }
    old = _tree(tmp_path / "old", build_wheel(tmp_path / "w", "sig", "1.0", old_files))
    new = _tree(tmp_path / "new", build_wheel(tmp_path / "w", "sig", "2.0", new_files))
    changes, limits = compare("sig", "2.0", old, new)
    found = {(c.kind, c.path, c.detail) for c in changes}
    assert (
        "signature",
        "sig.call",
        "parameter 'b' removed; parameter 'c' removed; required parameter 'd' added",
    ) in found
    assert ("deprecated", "sig.keep", "marked @deprecated") in found
    assert ("deprecated", "sig.old_style", "old_style goes") in found  # a DeprecationWarning subclass
    assert ("deprecated", "sig.Thing", "no more") in found  # warned in __init__: the class
    assert ("deprecated", "sig.OLD", "still served by sig.__getattr__, with a deprecation warning") in found
    assert ("removed", "sig.GONE", "") in found  # not served by __getattr__: gone
    # one way of calling it warns, not every call: the parameter is deprecated, not the function
    assert [(c.kind, c.detail, [p.name for p in c.parameters]) for c in changes if c.path == "sig.fast"] == [
        ("deprecated", "parameter 'fastpath' deprecated: fastpath is deprecated", ["fastpath"])
    ]
    assert limits == [
        "compiled modules of sig (sig._speed): their API is not read",
        "sig.__getattr__ serves deprecated names: those not spelled out are not read",
    ]
    assert not marker.exists()


def test_a_lost_base_class_is_named_as_written(tmp_path: Path) -> None:
    """The detail names the base the class lost, not griffe's objects (and no temporary path)."""
    head = "import collections\n\n\nclass Base:\n    pass\n\n\n"
    old_wheel = build_wheel(tmp_path / "w", "sig", "1.0", {
        "sig/__init__.py": head + "class Child(Base, collections.OrderedDict):\n    pass\n",
    })  # fmt: skip
    new_wheel = build_wheel(tmp_path / "w", "sig", "2.0", {
        "sig/__init__.py": head + "class Child(collections.OrderedDict):\n    pass\n",
    })  # fmt: skip
    changes, _ = compare("sig", "2.0", _tree(tmp_path / "old", old_wheel), _tree(tmp_path / "new", new_wheel))
    assert [c.sentence() for c in changes] == ["class sig.Child changed in 2.0: base class Base removed"]


def test_a_kind_change_names_the_old_kind_and_a_class_kept_under_its_old_name_is_no_change(
    tmp_path: Path,
) -> None:
    """numpy 2's ``bool_ = bool``: still a class for every caller, not "changed: now an attribute"
    (pandas 2.0 has 292 uses of such names); a class that became a plain value is said as such."""
    old_wheel = build_wheel(tmp_path / "w", "sig", "1.0", {
        "sig/__init__.py": "class Flag:\n    pass\n\n\nclass Mode:\n    pass\n\n\ndef make():\n    pass\n",
    })  # fmt: skip
    new_wheel = build_wheel(tmp_path / "w", "sig", "2.0", {
        "sig/__init__.py": "class flag:\n    pass\n\n\nFlag = flag\nMode = 3\n\n\nclass make:\n    pass\n",
    })  # fmt: skip
    changes, _ = compare("sig", "2.0", _tree(tmp_path / "old", old_wheel), _tree(tmp_path / "new", new_wheel))
    assert sorted(c.sentence() for c in changes) == [
        "class sig.Mode changed in 2.0: now an attribute",
        "function sig.make changed in 2.0: now a class",
    ]


def test_an_attribute_naming_a_module_that_becomes_that_module_is_no_change(tmp_path: Path) -> None:
    """numpy 1.26's stub said ``rec = records``; numpy 2 has a module ``numpy.rec``: ``np.rec.fromarrays``
    works in both (pandas uses it). An attribute naming a function that becomes a module is a change."""
    old_wheel = build_wheel(tmp_path / "w", "sig", "1.0", {
        "sig/__init__.py": "from sig import _records\n\n\ndef make():\n    pass\n\n\n"
        "rec = _records\nbuild = make\n",
        "sig/_records.py": "def fromarrays():\n    pass\n",
    })  # fmt: skip
    new_wheel = build_wheel(tmp_path / "w", "sig", "2.0", {
        "sig/__init__.py": "def make():\n    pass\n",
        "sig/rec/__init__.py": "def fromarrays():\n    pass\n",
        "sig/build/__init__.py": "def make():\n    pass\n",
    })  # fmt: skip
    changes, _ = compare("sig", "2.0", _tree(tmp_path / "old", old_wheel), _tree(tmp_path / "new", new_wheel))
    assert sorted(c.sentence() for c in changes) == ["attribute sig.build changed in 2.0: now a module"]


def test_an_alias_of_a_parameterised_class_that_becomes_a_class_is_no_change(tmp_path: Path) -> None:
    """numpy 1.26's stub said ``float64 = floating[_64Bit]``, numpy 2.4's says ``class float64``: the
    same class for ``np.float64(...)`` (pandas 2.0 has 124 uses). An alias of something else that
    becomes a class is a change."""
    head = "from typing import Callable, Generic, TypeVar\n\n_T = TypeVar('_T')\n\n\n"
    old_wheel = build_wheel(tmp_path / "w", "sig", "1.0", {
        "sig/__init__.pyi": head + "class floating(Generic[_T]): ...\n\n\nclass _64Bit: ...\n\n\n"
        "float64 = floating[_64Bit]\nhandler = Callable[..., int]\n",
        "sig/__init__.py": "",
    })  # fmt: skip
    new_wheel = build_wheel(tmp_path / "w", "sig", "2.0", {
        "sig/__init__.pyi": head + "class floating(Generic[_T]): ...\n\n\nclass _64Bit: ...\n\n\n"
        "class float64(floating[_64Bit]): ...\n\n\nclass handler: ...\n",
        "sig/__init__.py": "",
    })  # fmt: skip
    changes, _ = compare("sig", "2.0", _tree(tmp_path / "old", old_wheel), _tree(tmp_path / "new", new_wheel))
    assert sorted(c.sentence() for c in changes) == ["attribute sig.handler changed in 2.0: now a class"]


def test_a_lost_base_no_caller_sees_is_no_change(tmp_path: Path) -> None:
    """numpy 2's ``errstate`` lost ``Generic[...]`` (a stub's, for type checkers) and
    ``contextlib.ContextDecorator``, whose ``__call__`` it now defines: 55 uses in pandas 2.0 were
    reported. A mixin whose method is gone, an exception and an abstract class stay changes."""
    head = "import contextlib\nfrom typing import Generic, TypeVar\n\n_T = TypeVar('_T')\n\n\n"
    ctx = "    def __enter__(self):\n        pass\n\n    def __exit__(self, *exc):\n        pass\n\n"
    old_wheel = build_wheel(tmp_path / "w", "sig", "1.0", {
        "sig/__init__.py": head + "class errstate(Generic[_T], contextlib.ContextDecorator):\n" + ctx
        + "\nclass Deco(Generic[_T], contextlib.ContextDecorator):\n" + ctx
        + "\nclass Ctx(Generic[_T], contextlib.AbstractContextManager):\n" + ctx
        + "\nclass Oops(ValueError, KeyError):\n    pass\n",
    })  # fmt: skip
    new_wheel = build_wheel(tmp_path / "w", "sig", "2.0", {
        "sig/__init__.py": head + "class errstate:\n" + ctx
        + "    def __call__(self, func):\n        return func\n\n"
        + "\nclass Deco:\n" + ctx + "\nclass Ctx:\n" + ctx + "\nclass Oops(KeyError):\n    pass\n",
    })  # fmt: skip
    changes, _ = compare("sig", "2.0", _tree(tmp_path / "old", old_wheel), _tree(tmp_path / "new", new_wheel))
    assert sorted(c.sentence() for c in changes) == [
        "class sig.Ctx changed in 2.0: base class contextlib.AbstractContextManager removed",
        "class sig.Deco changed in 2.0: base class contextlib.ContextDecorator removed",
        "class sig.Oops changed in 2.0: base class ValueError removed",
    ]


def test_a_class_that_stops_spelling_out_object_has_not_changed(tmp_path: Path) -> None:
    """``class Retry(object)`` -> ``class Retry:`` (urllib3 1.26 -> 2): the same class in Python 3,
    not "base class object removed" for every use; a real base lost beside it is still named."""
    old_wheel = build_wheel(tmp_path / "w", "sig", "1.0", {
        "sig/__init__.py": "class Base:\n    pass\n\n\nclass Retry(object):\n    pass\n\n\n"
        "class Both(Base, object):\n    pass\n",
    })  # fmt: skip
    new_wheel = build_wheel(tmp_path / "w", "sig", "2.0", {
        "sig/__init__.py": "class Base:\n    pass\n\n\nclass Retry:\n    pass\n\n\nclass Both:\n    pass\n",
    })  # fmt: skip
    changes, _ = compare("sig", "2.0", _tree(tmp_path / "old", old_wheel), _tree(tmp_path / "new", new_wheel))
    assert [c.sentence() for c in changes] == ["class sig.Both changed in 2.0: base class Base removed"]


def test_a_wheel_not_on_disk_is_downloaded_and_then_read_from_the_cache(
    plan_20: Plan, demo_template: DemoSandbox, tmp_path: Path
) -> None:
    env = Environment.open(demo_template.venv)
    change = plan_20.change_for("oxzep7")
    assert change is not None
    remote = change.model_copy(update={"source": "https://example.invalid/oxzep7-2.0.0-py3-none-any.whl"})
    gone = change.model_copy(update={"to_version": "9.9.9", "sha256": None, "source": ""})
    notes: list[str] = []
    cache = tmp_path / "cache"
    trees = new_trees(env, [remote, gone], offline(demo_template), cache, notes)
    assert sorted(trees) == ["oxzep7"] and trees["oxzep7"].tops == ["oxzep7"]
    assert len(notes) == 1 and notes[0].startswith("oxzep7 9.9.9: no wheel to read (")
    # the second time nothing is downloaded: the sources come from the cache, even with no source at all
    again = new_trees(env, [remote], IndexOptions.build(no_index=True), cache, notes)
    assert (again["oxzep7"].root / "oxzep7" / "formatting.py").is_file()
    assert json.loads((again["oxzep7"].root.parent / "tree.json").read_text())["tops"] == ["oxzep7"]


def test_a_wheel_on_an_index_is_fetched_in_process_with_the_sources_credentials(
    plan_20: Plan, demo_template: DemoSandbox, tmp_path: Path
) -> None:
    """The plan names the wheel's URL on a private index (basic auth): the API impact fetches that
    one file itself, credentials from the configured index, no ``pip download`` (which would first
    ask for the project's page, and without credentials first)."""
    env = Environment.open(demo_template.venv)
    with serve(SimpleIndex(demo_template.wheelhouse, auth=("ann", "s3cret"))) as served:
        host = served.url.removeprefix("http://")
        index = IndexOptions.build(index_url=f"http://ann:s3cret@{host}")
        plan = compute_plan(env, parse_specs(["oxzep7==2.0.0"]), index, suggest=False)
        change = plan.change_for("oxzep7")
        assert change is not None and change.source.startswith("http://") and "s3cret" not in change.source
        served.reset()
        impact = api_impact(env, plan, index, demo_template.project, cache=tmp_path)
        assert served.statuses == Counter({200: 1}) and not served.served  # the wheel alone, no page
        assert impact == plan_20.api_impact
        # a wheel that is not the one the plan resolved (its sha256 differs) is not read, by pip neither
        served.reset()
        other = change.model_copy(update={"sha256": "0" * 64})
        changed = plan.model_copy(update={"changes": [other if c is change else c for c in plan.changes]})
        impact = api_impact(env, changed, index, demo_template.project, cache=tmp_path / "other")
        assert served.statuses == Counter({200: 1}) and impact.changes == [] and impact.uses == []
        assert [n.split(" (sha256")[0] for n in impact.not_checked] == [
            "oxzep7 2.0.0: no wheel to read (the wheel served differs from the plan's"
        ]
        # a client certificate that cannot be read: not a crash; on a plain-http index no TLS is set
        # up (the index reader loads certificates only for https), so the wheel is still read
        broken = index.model_copy(update={"client_cert": str(tmp_path / "missing.pem")})
        impact = api_impact(env, plan, broken, demo_template.project, cache=tmp_path / "broken")
        assert impact == plan_20.api_impact and impact.not_checked == plan_20.api_impact.not_checked


def test_a_second_plan_reuses_the_comparison_without_the_wheel(
    plan_20: Plan, demo_template: DemoSandbox, tmp_path: Path
) -> None:
    env = Environment.open(demo_template.venv)
    doing: list[str] = []  # what the wizard's plan pane shows meanwhile
    first = api_impact(
        env, plan_20, offline(demo_template), demo_template.project, cache=tmp_path, said=doing.append
    )
    assert doing == [
        "API impact: fetching the new version of oxzep7",
        "API impact: comparing oxzep7 1.4.2 with 2.0.0 (1 of 1)",
    ]
    for folder in tmp_path.iterdir():  # the unpacked wheels go; the comparisons stay
        if folder.name != "diff":
            shutil.rmtree(folder)
    nowhere = plan_20.model_copy(
        update={"changes": [c.model_copy(update={"source": ""}) for c in plan_20.changes]}
    )
    again = api_impact(
        env,
        nowhere,
        IndexOptions.build(no_index=True),
        demo_template.project,
        cache=tmp_path,
        said=doing.append,
    )
    assert again == first and again.breaking_uses
    assert len(doing) == 2  # nothing fetched nor compared the second time: nothing said


def test_a_namespace_package_shared_with_another_distribution_is_not_reported_removed(tmp_path: Path) -> None:
    """google/ holds protobuf's modules and another distribution's: only protobuf's are compared."""
    site = tmp_path / "site"
    other = build_wheel(
        tmp_path / "w", "googleapis", "1.0", {"google/api/__init__.py": "def annotate():\n    pass\n"}
    )
    zipfile.ZipFile(other).extractall(site)
    old = _tree(
        site, build_wheel(tmp_path / "w", "protobuf", "1.0", {"google/protobuf/__init__.py": "X = 1\n"})
    )
    new_wheel = build_wheel(tmp_path / "w", "protobuf", "2.0", {"google/protobuf/__init__.py": "Y = 1\n"})
    new = _tree(tmp_path / "new", new_wheel)
    assert old.tops == new.tops == ["google.protobuf"]
    changes, limits = compare("protobuf", "2.0", old, new)
    assert [(c.kind, c.path) for c in changes] == [("removed", "google.protobuf.X")]
    assert limits == []


def test_private_modules_and_bundled_test_suites_are_not_reported(tmp_path: Path) -> None:
    """sig 2.0 drops a private module's public-looking function, its bundled tests (but one) and
    conftest, and makes parse need a keyword: only parse is reported, with the project's use of it."""
    house = tmp_path / "house"
    build_wheel(house, "sig", "1.0", {
        "sig/__init__.py": "def parse(text):\n    return []\n",
        "sig/_impl.py": "class Engine:\n    def run(self, a):\n        pass\n",
        "sig/tests/__init__.py": "",
        "sig/tests/test_sig.py": "def test_parse():\n    pass\n",
        "sig/conftest.py": "def fixture_a():\n    pass\n",
    })  # fmt: skip
    build_wheel(house, "sig", "2.0", {
        "sig/__init__.py": "def parse(text, *, strict):\n    return []\n",
        "sig/_impl.py": "class Engine:\n    def run(self):\n        pass\n",
        "sig/tests/test_other.py": "def test_other():\n    pass\n",
    })  # fmt: skip
    impact = impact_of(
        tmp_path, house, ["sig==1.0"], "sig==2.0", {"pkg/use.py": "import sig\n\nsig.parse('a')\n"}
    )
    assert [(c.kind, c.path) for c in impact.changes] == [("signature", "sig.parse")]
    assert [impact.use_line(u) for u in impact.uses] == [
        "pkg/use.py:3 uses sig.parse — function sig.parse changed in 2.0: required parameter 'strict' added",
    ]
    # the cache keeps the sources read, not the bundled test suites (pandas ships 1100 test files)
    (src,) = (tmp_path / "cache").glob("sig-2.0-*/src")
    assert sorted(p.relative_to(src).as_posix() for p in src.rglob("*.py")) == [
        "sig/__init__.py",
        "sig/_impl.py",
    ]


def test_a_cache_that_cannot_be_written_is_said_and_the_plan_goes_on(
    plan_20: Plan, demo_template: DemoSandbox, tmp_path: Path
) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")
    env = Environment.open(demo_template.venv)
    impact = api_impact(env, plan_20, offline(demo_template), demo_template.project, cache=blocked)
    assert impact.changes == [] and impact.uses == []
    assert [n.split(" (")[0] for n in impact.not_checked] == ["oxzep7 2.0.0: its wheel could not be read"]


def test_a_fetched_wheel_is_written_to_a_file_and_checked_against_the_plans_sha256(
    demo_template: DemoSandbox, tmp_path: Path
) -> None:
    """Wheels are written to files as they come (never held whole: an ML plan names wheels of
    hundreds of MB, several at once), each checked against the plan's sha256."""
    import hashlib

    from oxwizard.env.wheel_fetch import fetch_wheels

    wheel = demo_template.wheelhouse / "oxzep7-2.0.0-py3-none-any.whl"
    sha256 = hashlib.sha256(wheel.read_bytes()).hexdigest()
    with serve(SimpleIndex(demo_template.wheelhouse)) as served:
        url = served.url.removesuffix("/simple") + f"/files/{wheel.name}"
        index = IndexOptions.build(index_url=served.url)
        good, other = fetch_wheels(index, [(url, sha256), (url, "0" * 64)], tmp_path)
    assert good.path is not None and good.path.parent == tmp_path
    assert good.path.read_bytes() == wheel.read_bytes()
    assert other.path is None and other.final and "differs from the plan's" in other.error


def test_a_dependents_uses_are_read_once_per_installed_version(
    demo: Callable[[], DemoSandbox], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a real environment, a popular target's dependents hold thousands of files: their uses are
    read again only when the dependent is installed again (here: another build of the plugin that no
    longer uses the removed module, but ships a test suite that does: not read)."""
    import oxwizard.checks.api_impact as module

    sandbox = demo()
    env = Environment.open(sandbox.venv)
    plan = compute_plan(env, parse_specs(["oxzep7==2.0.0"]), offline(sandbox))
    parsed: list[str] = []
    real = module.find_uses

    def counted(
        source: str, tops: set[str], *, filename: str = "<file>", **more: Any
    ) -> tuple[list[Any], list[str]]:
        parsed.append(filename)
        return real(source, tops, filename=filename, **more)

    monkeypatch.setattr(module, "find_uses", counted)
    plugin_use = ("oxzep7-plugin", "oxzep7_plugin/__init__.py", 1, "oxzep7.fmt.render", "oxzep7.fmt",
                  "removed")  # fmt: skip

    first = api_impact(env, plan, offline(sandbox), sandbox.project, cache=tmp_path)
    assert plugin_use in uses_of(plan.model_copy(update={"api_impact": first}))
    assert "oxzep7_plugin/__init__.py (oxzep7-plugin)" in parsed
    parsed.clear()
    again = api_impact(env, plan, offline(sandbox), sandbox.project, cache=tmp_path)
    assert again == first
    assert not any("(oxzep7-plugin)" in name for name in parsed)  # from the cache
    assert "demoapp/app.py" in parsed  # the project's own files are read each time

    rebuilt = tmp_path / "rebuilt"
    build_wheel(rebuilt, "oxzep7-plugin", "1.0.0",
                {"oxzep7_plugin/__init__.py": "from oxzep7.formatting import render\n",
                 # a test suite it ships still uses the old module: not imported when the plugin runs
                 "oxzep7_plugin/tests/test_show.py": "from oxzep7.fmt import render\n"},
                requires=["oxzep7>=1.4"])  # fmt: skip
    done = subprocess.run(
        [str(sandbox.python), "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--force-reinstall",
         "--find-links", str(rebuilt), "oxzep7-plugin==1.0.0"], capture_output=True, text=True, check=False,
        env={**os.environ, "PIP_CONFIG_FILE": os.devnull},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    env.refresh()
    parsed.clear()
    third = api_impact(env, plan, offline(sandbox), sandbox.project, cache=tmp_path)
    assert "oxzep7_plugin/__init__.py (oxzep7-plugin)" in parsed  # another installation: read again
    assert "oxzep7_plugin/tests/test_show.py (oxzep7-plugin)" not in parsed
    assert not [u for u in third.uses if u.user == "oxzep7-plugin"]


def test_several_distributions_are_compared_in_worker_processes_with_the_same_result(tmp_path: Path) -> None:
    """The first plan of many large upgrades spends its time in griffe: two are compared at once,
    each in a process of its own, and what they find is what one process finds."""
    from oxwizard.env.plan import Change

    work = []
    for name in ("alpha", "beta", "gamma"):
        old = build_wheel(tmp_path / "w", name, "1.0", {
            f"{name}/__init__.py": "def keep(a):\n    pass\n\n\ndef gone():\n    pass\n",
        })  # fmt: skip
        new = build_wheel(tmp_path / "w", name, "2.0", {f"{name}/__init__.py": "def keep(a, b):\n    pass\n"})
        change = Change(name=name, from_version="1.0", to_version="2.0", kind="upgrade", impact="major")
        work.append((change, _tree(tmp_path / name / "old", old), _tree(tmp_path / name / "new", new)))
    said: list[str] = []
    apart = {c.name: found for c, found in compare_all(work, said.append, workers=2)}
    here = {c.name: found for c, found in compare_all(work, workers=1)}
    assert apart == here
    assert sorted(ch.sentence() for ch in apart["beta"][0]) == [
        "function beta.gone removed in 2.0",
        "function beta.keep changed in 2.0: required parameter 'b' added",
    ]
    assert said[0] == "API impact: comparing 3 distributions, 2 at a time"
    done = [line.split() for line in said[1:]]  # "API impact: compared NAME 1.0 with 2.0 (k of 3)"
    assert sorted(words[3] for words in done) == ["alpha", "beta", "gamma"]
    assert [" ".join(words[:3] + words[4:]) for words in done] == [
        f"API impact: compared 1.0 with 2.0 ({k} of 3)" for k in (1, 2, 3)
    ]


_ENGINE_1 = """\
class Connection:
    def execute(self, statement, *multiparams):
        pass


class Engine:
    def execute(self, statement):
        pass

    def connect(self) -> "Connection":
        return Connection()

    def dispose(self):
        pass


def create_engine(url):
    return Engine()
"""
_ENGINE_2 = """\
from typing import Optional


class Connection:
    def execute(self, statement, parameters=None):
        pass


class Engine:
    def connect(self) -> Optional[Connection]:
        return Connection()

    def dispose(self):
        pass


def create_engine(url) -> Engine:
    return Engine()
"""
_PROJECT = """\
import eng
from eng import Engine, create_engine, quote

engine = create_engine("x")


def module_value():
    engine.execute("a")


def typed(e: Engine):
    e.execute("b")
    with e.connect() as conn:
        conn.execute("c", {"x": 1}, {"x": 2})
    e.dispose()


def chained():
    eng.create_engine("y").execute("d")


class Repo:
    def __init__(self):
        self.engine = create_engine("z")

    def run(self):
        self.engine.execute("e")


def unannotated(engine):
    engine.execute("f")


def rebound():
    conn = create_engine("q")
    conn = object()
    conn.execute("g")


quote("x")
Engine.execute


class Pooled(Engine):
    size = 1

    def run(self):
        self.execute("h")
        self.size

    @classmethod
    def build(cls):
        cls.execute


Pooled().execute("i")
"""


def test_uses_through_re_exports_and_through_values_kept_from_calls_and_annotations(tmp_path: Path) -> None:
    """SQLAlchemy 2.0's kind of break: ``Engine.execute`` is gone, and projects reach it as
    ``from sqlalchemy.engine import Engine`` (defined in ``.base``) or on the engine that
    ``create_engine`` returned, annotated ``-> Engine`` only in the new version. Followed: re-exports,
    a value kept in a name (module level too), on ``self``, by a parameter's annotation, through a
    ``with``, on a call's result, and on a class of the project's derived from the package's (``self``,
    ``cls``; not what the class defines itself; in the project's other files too); not followed: an
    unannotated parameter, a name bound to two things. A function that moved to another module but
    is still exported is no use of a removed name."""
    house = tmp_path / "house"
    build_wheel(house, "eng", "1.0", {
        "eng/__init__.py": "from .base import Engine, create_engine\nfrom .helpers import *\n",
        "eng/base.py": _ENGINE_1,
        "eng/helpers.py": "__all__ = ['quote']\n\n\ndef quote(s):\n    return s\n",
    })  # fmt: skip
    build_wheel(house, "eng", "2.0", {
        "eng/__init__.py": "from .base import Engine, create_engine\nfrom ._text import quote\n",
        "eng/base.py": _ENGINE_2,
        "eng/helpers.py": "def unquote(s):\n    return s\n",
        "eng/_text.py": "def quote(s):\n    return s\n",
    })  # fmt: skip
    venv = make_venv(tmp_path, house, "eng==1.0")
    project = tmp_path / "project"
    project.mkdir()
    (project / "app.py").write_text(_PROJECT)
    (project / "svc.py").write_text("from app import Pooled\n\n\ndef go(p: Pooled):\n    p.execute('j')\n")
    env = Environment.open(venv)
    index = IndexOptions.build(find_links=[str(house)], no_index=True)
    plan = compute_plan(env, parse_specs(["eng==2.0"]), index, suggest=False)
    impact = api_impact(env, plan, index, project, cache=tmp_path / "cache")
    assert {(c.kind, c.path) for c in impact.changes} >= {
        ("removed", "eng.base.Engine.execute"),
        ("signature", "eng.base.Connection.execute"),
        ("removed", "eng.helpers.quote"),
    }
    assert [(u.line, u.name, u.change) for u in impact.uses] == [
        (8, "eng.create_engine().execute", "eng.base.Engine.execute"),
        (12, "eng.Engine().execute", "eng.base.Engine.execute"),
        (14, "eng.Engine().connect().execute", "eng.base.Connection.execute"),
        (19, "eng.create_engine().execute", "eng.base.Engine.execute"),
        (27, "eng.create_engine().execute", "eng.base.Engine.execute"),
        (41, "eng.Engine.execute", "eng.base.Engine.execute"),
        (48, "eng.Engine().execute", "eng.base.Engine.execute"),
        (53, "eng.Engine.execute", "eng.base.Engine.execute"),
        (56, "eng.Engine().execute", "eng.base.Engine.execute"),
        (5, "eng.Engine().execute", "eng.base.Engine.execute"),  # svc.py: Pooled imported from app
    ]
    assert impact.use_line(impact.uses[2]) == (
        "app.py:14 uses eng.Engine().connect().execute — function eng.base.Connection.execute changed "
        "in 2.0: parameter 'multiparams' removed"
    )
    # what each module binds is kept per file content; a kept reading that cannot be read is read
    # again from the files (and kept again), and the next plan reads none of the files
    for kept in (tmp_path / "cache" / "names").glob("*.json"):
        kept.write_text(json.dumps({sha: {"bound": 1} for sha in json.loads(kept.read_text())}))
    assert api_impact(env, plan, index, project, cache=tmp_path / "cache").uses == impact.uses
    for base in (tmp_path / "cache").glob("eng-2.0-*/src/eng/base.py"):
        base.write_text("this is not Python\n")
    assert api_impact(env, plan, index, project, cache=tmp_path / "cache").uses == impact.uses


def test_re_exports_are_read_in_any_source_encoding_and_beside_any_function_body(tmp_path: Path) -> None:
    """A package module is read for what it binds without its functions' bodies: one in Latin-1
    (its coding line), one whose function body CPython's parser refuses (nested too deep), a class
    whose methods say what they return. Each re-export still leads to the changed name. A version
    griffe cannot read at all (its package's ``__init__`` in Latin-1) is said, not passed over."""
    house = tmp_path / "house"
    latin = b"# -*- coding: latin-1 -*-\n# caf\xe9\n"
    compat = latin + b"from .core import run as legacy_run\n\n\ndef h():\n    return 1\n"
    deep = "def nested():\n    return " + "(" * 300 + "1" + ")" * 300 + "\n\n\nfrom .core import run as go\n"
    for version, params in (("1.0", "a, b"), ("2.0", "a")):
        build_wheel(house, "lat", version, {
            "lat/__init__.py": "from .core import Client, run\n",
            "lat/core.py": "class Client:\n    def session(self) -> 'Session':\n        return 1\n\n\n"
            f"class Session:\n    def get(self, {params}):\n        pass\n\n\ndef run({params}):\n    pass\n",
            "lat/compat.py": compat,
            "lat/deep.py": deep,
        })  # fmt: skip
        build_wheel(house, "enc", version, {
            "enc/__init__.py": latin + f"def run({params}):\n    pass\n".encode(),
        })  # fmt: skip
    app = (
        "from lat import Client, run\nfrom lat.compat import legacy_run\nfrom lat.deep import go\n"
        "run(1, 2)\nlegacy_run(1, 2)\ngo(1, 2)\nClient().session().get(1, 2)\nrun(1)\n"
    )
    impact = impact_of(tmp_path, house, ["lat==1.0", "enc==1.0"], "lat==2.0 enc==2.0", {"app.py": app})
    assert [(u.line, u.name, u.change) for u in impact.uses] == [
        (4, "lat.run", "lat.core.run"),
        (5, "lat.compat.legacy_run", "lat.core.run"),
        (6, "lat.deep.go", "lat.core.run"),
        (7, "lat.Client().session().get", "lat.core.Session.get"),
    ]
    assert "enc (installed) enc: not read" in impact.not_checked


def test_a_method_that_returns_self_keeps_the_class_it_is_called_on(tmp_path: Path) -> None:
    """SQLAlchemy 2.0's and pydantic 2's builders are annotated ``-> Self``: ``query().filter(…)`` is
    still the query (a subclass's instance stays the subclass's), so ``.values()`` on it, which the
    new version removes, is a use; ``.first()``, still there, is not."""
    house = tmp_path / "house"
    for version, extra in (("1.0", "    def values(self):\n        return []\n\n"), ("2.0", "")):
        build_wheel(house, "qb", version, {
            "qb/__init__.py": "from typing import Self\n\n\nclass Query:\n"
            f"    def filter(self, x) -> Self:\n        return self\n\n{extra}"
            "    def first(self):\n        return None\n\n\n"
            "class Counted(Query):\n    def count(self):\n        return 0\n\n\n"
            "def query() -> Query:\n    return Query()\n\n\n"
            "def counted() -> Counted:\n    return Counted()\n",
        })  # fmt: skip
    app = (
        "from qb import counted, query\n\nquery().filter(1).values()\nquery().filter(1).first()\n"
        "counted().filter(2).filter(3).values()\ncounted().filter(2).count()\n"
    )
    impact = impact_of(tmp_path, house, ["qb==1.0"], "qb==2.0", {"app.py": app})
    assert [(u.line, u.name, u.change) for u in impact.uses] == [
        (3, "qb.query().filter().values", "qb.Query.values"),
        (5, "qb.counted().filter().filter().values", "qb.Counted.values"),  # griffe: inherited, removed
    ]


def test_an_upgrade_that_changes_no_name_reads_no_use(tmp_path: Path) -> None:
    """A new version whose API only grows: nothing to join, so neither the plan nor the next one
    (its comparison kept) lists what of the project's or a dependent's uses could not be read (a
    computed ``getattr``): noise about a change that is not there. The next plan reads no use."""
    house = tmp_path / "house"
    build_wheel(house, "calm", "1.0", {"calm/__init__.py": "def run():\n    pass\n"})
    build_wheel(
        house, "calm", "1.1", {"calm/__init__.py": "def run():\n    pass\n\n\ndef walk():\n    pass\n"}
    )
    computed = "import calm\n\nname = 'r' + 'un'\ngetattr(calm, name)()\n"
    build_wheel(house, "calmdep", "1.0", {"calmdep/__init__.py": computed}, requires=["calm"])
    first = impact_of(tmp_path, house, ["calm==1.0", "calmdep==1.0"], "calm==1.1", {"app.py": computed})
    assert (first.changes, first.uses, first.not_checked) == ([], [], [])
    uses = tmp_path / "cache" / "uses"
    shutil.rmtree(uses, ignore_errors=True)
    env = Environment.open(tmp_path / "venv")
    index = IndexOptions.build(find_links=[str(house)], no_index=True)
    plan = compute_plan(env, parse_specs(["calm==1.1"]), index, suggest=False)
    again = api_impact(env, plan, index, tmp_path / "project", cache=tmp_path / "cache")
    assert (again.changes, again.uses, again.not_checked) == ([], [], [])
    assert not uses.exists(), "the kept comparison found no change: no dependent's file was read"


def test_a_type_variable_s_bound_is_what_a_call_annotated_with_it_returns(tmp_path: Path) -> None:
    """SQLAlchemy's ``Session = sessionmaker(engine)``, then ``s = Session()``: ``sessionmaker.__call__``
    returns ``_S``, a ``TypeVar`` bound to ``Session``; a function annotated with an unbound one is not
    followed (what it returns depends on its arguments)."""
    house = tmp_path / "house"
    for version, extra in (("1.0", "    def legacy(self):\n        pass\n\n"), ("2.0", "")):
        build_wheel(house, "tv", version, {
            "tv/__init__.py": "from .maker import Session, anything, sessionmaker\n",
            "tv/maker.py": "import typing\nfrom typing import Generic, TypeVar\n\n\nclass Session:\n"
            f"    def execute(self, stmt):\n        pass\n\n{extra}\n"
            "_S = TypeVar('_S', bound='Session')\n_T = typing.TypeVar('_T')\n\n\n"
            "class sessionmaker(Generic[_S]):\n    def __call__(self, **kw) -> _S:\n        pass\n\n\n"
            "def anything(x: _T) -> _T:\n    return x\n",
        })  # fmt: skip
    app = (
        "from tv import Session, anything, sessionmaker\n\nmaker = sessionmaker()\ns = maker()\n"
        "s.legacy()\ns.execute('x')\nanything(Session()).legacy\n"
    )
    impact = impact_of(tmp_path, house, ["tv==1.0"], "tv==2.0", {"app.py": app})
    assert [(u.line, u.name, u.change) for u in impact.uses] == [
        (5, "tv.sessionmaker()().legacy", "tv.maker.Session.legacy"),
    ]


def test_a_future_warning_deprecates_and_a_method_a_base_class_deprecates_is_used_through_the_subclass(
    tmp_path: Path,
) -> None:
    """pandas 2.2's kind of deprecation: ``NDFrame.swapaxes`` warns a ``FutureWarning`` (Python's
    category for deprecations meant for end users), and projects call it on a ``DataFrame``. A helper
    that warns for others (``warn_alias_replacement``) is not itself deprecated."""
    house = tmp_path / "house"
    for version, warn in (("1.0", ""), ("2.0", "warnings.warn('deprecated', FutureWarning)\n")):
        build_wheel(house, "fw", version, {
            "fw/__init__.py": "import warnings\n\n\nclass Base:\n    def old(self):\n"
            f"        {warn}        return 1\n\n    def keep(self):\n        return 2\n\n\n"
            "class Frame(Base):\n    pass\n\n\ndef frame() -> Frame:\n    return Frame()\n\n\n"
            f"def legacy():\n    {warn}    return 0\n\n\ndef warn_soon(msg):\n    {warn}    return msg\n",
        })  # fmt: skip
    app = "from fw import Frame, frame, legacy, warn_soon\n\nframe().old()\nFrame().keep()\nlegacy()\n"
    impact = impact_of(tmp_path, house, ["fw==1.0"], "fw==2.0", {"app.py": app + "warn_soon('x')\n"})
    assert sorted(c.path for c in impact.changes if c.kind == "deprecated") == ["fw.Base.old", "fw.legacy"]
    assert [(u.line, u.name, u.change) for u in impact.uses] == [
        (1, "fw.legacy", "fw.legacy"),  # called by its bare name: the import is the use
        (3, "fw.frame().old", "fw.Base.old"),
    ]


def test_a_deprecated_parameter_is_a_use_only_where_the_call_passes_it(tmp_path: Path) -> None:
    """pandas 2.2's ``fillna(method=…)``, ``read_csv(delim_whitespace=…)``, ``Series(fastpath=…)``:
    ``if PARAM is not DEFAULT:`` then a deprecation warning. A call that passes it (by keyword or by
    position, ``self`` counted) is a use; one that does not is not, nor one with ``**kwargs`` (what
    it passes is not known); a warning under any other condition (``isinstance(data, dict)``) is a
    way of calling, left to the tests' warnings."""
    house = tmp_path / "house"
    for version, warn in (("1.0", "pass  # "), ("2.0", "")):
        build_wheel(house, "dp", version, {
            "dp/__init__.py": "import warnings\n\n\ndef fill(x, method=None):\n    if method is not None:\n"
            f"        {warn}warnings.warn('method is deprecated', FutureWarning)\n    return x\n\n\n"
            "class Frame:\n    def __init__(self, data, fastpath=False):\n        if fastpath is not False:\n"
            f"            {warn}warnings.warn('fastpath is deprecated', DeprecationWarning)\n\n\n"
            "def load(x, data=None):\n    if isinstance(data, dict):\n"
            f"        {warn}warnings.warn('a dict is deprecated', FutureWarning)\n",
        })  # fmt: skip
    app = (
        "from dp import Frame, fill, load\nfill(1)\nfill(1, method='f')\nfill(1, 'f')\nFrame(1)\n"
        "Frame(1, True)\nFrame(1, fastpath=True)\nload(1, {})\nfill(1, **{'method': 'f'})\n"
    )
    impact = impact_of(tmp_path, house, ["dp==1.0"], "dp==2.0", {"app.py": app})
    assert sorted((c.path, c.detail) for c in impact.changes) == [
        ("dp.Frame", "parameter 'fastpath' deprecated: fastpath is deprecated"),
        ("dp.fill", "parameter 'method' deprecated: method is deprecated"),
    ]
    assert [(u.line, u.name, u.detail) for u in impact.uses] == [
        (3, "dp.fill", "parameter 'method' deprecated"),
        (4, "dp.fill", "parameter 'method' deprecated"),
        (6, "dp.Frame", "parameter 'fastpath' deprecated"),
        (7, "dp.Frame", "parameter 'fastpath' deprecated"),
    ]
    assert impact.use_line(impact.uses[0]) == (
        "app.py:3 uses dp.fill — function dp.fill changed in 2.0: parameter 'method' deprecated"
    )


def test_a_signature_change_is_a_use_only_where_the_call_breaks(tmp_path: Path) -> None:
    """A removed parameter breaks the calls that pass it, a new required one those that do not; a
    method called on an instance does not pass ``self``; a class's call is its ``__init__``'s. A call
    with ``*args`` may pass anything. The import is the use only where the name is not called."""
    house = tmp_path / "house"
    build_wheel(house, "sig", "1.0", {
        "sig/__init__.py": "def f(a, b=1):\n    pass\n\n\ndef g(a):\n    pass\n\n\n"
        "class K:\n    def __init__(self, x, y=0):\n        pass\n\n"
        "    def m(self, a, b=0):\n        pass\n\n\n"
        "def h(a, **kw):\n    pass\n\n\ndef v(*args):\n    pass\n\n\ndef r(a, b=0, c=0):\n    pass\n",
    })  # fmt: skip
    build_wheel(house, "sig", "2.0", {
        "sig/__init__.py": "def f(a):\n    pass\n\n\ndef g(a, *, strict):\n    pass\n\n\n"
        "class K:\n    def __init__(self, x):\n        pass\n\n"
        "    def m(self, a, *, b=0):\n        pass\n\n\n"
        "def h(a, *, name=None):\n    pass\n\n\ndef v(a, b=None):\n    pass\n\n\ndef r(a, c=0):\n    pass\n",
    })  # fmt: skip
    calls = (
        "from sig import K, f, g, h, r, v\n"  # 1
        "f(1)\n"  # 2: fine
        "f(1, 2)\n"  # 3: b passed by position
        "f(1, b=2)\n"  # 4: b passed by keyword
        "f(*[1])\n"  # 5: not known
        "g(1)\n"  # 6: strict missing
        "g(1, strict=True)\n"  # 7: fine
        "k = K(1)\n"  # 8: fine
        "K(1, 2)\n"  # 9: y passed
        "k.m(1)\n"  # 10: fine
        "k.m(1, 2)\n"  # 11: b now keyword-only
        "k.m(1, b=2)\n"  # 12: fine
        "h(1, name=2)\n"  # 13: fine: named now
        "h(1, other=2)\n"  # 14: **kw gone
        "v(1, 2)\n"  # 15: fine: two named positions took *args' place
        "v(1, 2, 3)\n"  # 16: one too many
        "r(1, c=2)\n"  # 17: fine
        "r(1, b=2)\n"  # 18: b gone (c moved: not passed by position here)
    )
    files = {
        "calls.py": calls,
        "reexport.py": "from sig import g\n",
    }  # reexport: not called, the import is the use
    impact = impact_of(tmp_path, house, ["sig==1.0"], "sig==2.0", files)
    assert sorted((c.path, c.detail) for c in impact.changes) == [
        ("sig.K", "parameter 'y' removed"),
        ("sig.K.m", "parameter 'b' changed kind"),
        ("sig.f", "parameter 'b' removed"),
        ("sig.g", "required parameter 'strict' added"),
        ("sig.h", "parameter 'kw' removed"),
        ("sig.r", "parameter 'b' removed; positional parameter 'c' moved"),
        ("sig.v", "parameter 'args' removed; required parameter 'a' added"),
    ]
    assert [(u.file, u.line, u.name) for u in impact.uses] == [
        ("calls.py", 3, "sig.f"),
        ("calls.py", 4, "sig.f"),
        ("calls.py", 5, "sig.f"),
        ("calls.py", 6, "sig.g"),
        ("calls.py", 9, "sig.K"),
        ("calls.py", 11, "sig.K().m"),
        ("calls.py", 14, "sig.h"),
        ("calls.py", 16, "sig.v"),
        ("calls.py", 18, "sig.r"),
        ("reexport.py", 1, "sig.g"),
    ]
    # each names what of the change its call meets
    assert (
        impact.use_line(impact.uses[-2])
        == "calls.py:18 uses sig.r — function sig.r changed in 2.0: parameter 'b' removed"
    )


def test_a_base_kept_unsubscripted_and_an_attribute_still_set_on_instances_are_no_change(
    tmp_path: Path,
) -> None:
    """click 8.1's ``Path(ParamType)`` is click 8.5's ``Path(ParamType[str])`` for every caller;
    IPython 8 sets ``user_ns`` in a method griffe reads no attributes from, where 9 declares it."""
    head = (
        "from typing import Generic, TypeVar\n\nT = TypeVar('T')\n\n\nclass Base(Generic[T]):\n    pass\n\n\n"
    )
    old_wheel = build_wheel(tmp_path / "w", "sig", "1.0", {
        "sig/__init__.py": head + "class Path(Base[str]):\n    pass\n\n\n"
        "class Shell:\n    user_ns: dict = {}\n    gone: int = 0\n",
    })  # fmt: skip
    new_wheel = build_wheel(tmp_path / "w", "sig", "2.0", {
        "sig/__init__.py": head + "class Path(Base):\n    pass\n\n\n"
        "class Shell:\n    def init_namespaces(self):\n        self.user_ns = {}\n",
    })  # fmt: skip
    changes, _ = compare("sig", "2.0", _tree(tmp_path / "old", old_wheel), _tree(tmp_path / "new", new_wheel))
    assert [c.sentence() for c in changes] == ["attribute sig.Shell.gone removed in 2.0"]


def test_a_file_nested_deeper_than_the_parser_goes_is_said_not_fatal() -> None:
    """Generated code can nest deeper than Python's parser goes (RecursionError): that file's uses
    are not read, and the plan says so instead of failing."""
    deep = "import sig\nq = sig.select(1)" + ".where(1)" * 5000 + "\n"
    assert find_uses(deep, {"sig"}, filename="gen.py") == (
        [],
        ["gen.py: not read (nested too deep to parse)"],
    )
