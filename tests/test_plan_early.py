"""``oxwizard plan`` starts pip's dry run before it imports the engine: the second plan with the same
interpreter and options starts the command line the first one remembered, and uses its answer only
when that command line is still the plan's own (each plan runs in a new interpreter, as a user's)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import DemoFactory

from oxwizard.demo.sandbox import DemoSandbox
from oxwizard.env.environment import find_uv

ENGINE = ("pydantic", "packaging", "griffe", "tomlkit", "git", "oxwizard.env.environment",
          "oxwizard.env.plan")  # fmt: skip

# Runs `oxwizard ARGV` in a new interpreter and says, for each pip dry run it started, which modules
# were imported at that moment and whether the dry run ran to its end.
_SCRIPT = """
import contextlib, io, os, subprocess, sys
started = []
real_init = subprocess.Popen.__init__
def init(self, args, *a, **k):
    if "--dry-run" in args:
        started.append((self, sorted(sys.modules)))
    real_init(self, args, *a, **k)
subprocess.Popen.__init__ = init
real_spawn = os.posix_spawn
spawned = []
def spawn(path, args, *a, **k):
    pid = real_spawn(path, args, *a, **k)
    if "--dry-run" in args:
        started.append((None, sorted(sys.modules)))
        spawned.append(pid)
    return pid
os.posix_spawn = spawn
out = io.StringIO()
with contextlib.redirect_stdout(out):
    from oxwizard.cli import main
    code = main(sys.argv[1:])
import json
runs = [{"modules": modules, "returncode": child and child.returncode} for child, modules in started]
alive = [pid for pid in spawned if os.path.exists(f"/proc/{pid}")]
print(json.dumps({"code": code, "out": out.getvalue(), "dry_runs": runs, "alive": alive,
                  "griffe": "griffe" in sys.modules}))
"""


def plan(demo: DemoSandbox, cache: Path, *argv: str, code: int = 0, **environ: str) -> dict[str, object]:
    where = ["--env", str(demo.venv), "--project", str(demo.project)]
    sources = ["--find-links", str(demo.wheelhouse), "--no-index"]
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT, "plan", *argv, *where, *sources],
        capture_output=True,
        text=True,
        env={**os.environ, "OXWIZARD_CACHE_DIR": str(cache), **environ},
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert answer["code"] == code, answer["out"]
    assert isinstance(answer, dict)
    return answer


def engine_in(modules: list[str]) -> set[str]:
    return {m for m in modules if any(m == e or m.startswith(f"{e}.") for e in ENGINE)}


def test_a_repeated_plan_starts_pip_before_the_engine_and_only_uses_a_dry_run_that_still_holds(
    demo_template: DemoSandbox, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    first = plan(demo_template, cache, "oxzep7")
    [run] = first["dry_runs"]  # type: ignore[misc]
    assert {"pydantic", "oxwizard.env.environment"} <= engine_in(run["modules"])  # nothing remembered yet
    assert "oxzep7                        1.4.2 -> 2.0.0" in str(first["out"])

    again = plan(demo_template, cache, "oxzep7")
    [run] = again["dry_runs"]  # type: ignore[misc]
    assert engine_in(run["modules"]) == set()  # started before pydantic, packaging, griffe...
    assert "argparse" not in run["modules"]  # ... and before the command line was even parsed
    assert again["out"] == first["out"]  # the same plan, from the early dry run
    # the API comparison is cached since the first plan: griffe, which makes one, is not even imported
    assert first["griffe"] and not again["griffe"]

    # other arguments (here --json) are another shape: nothing is started before they are parsed
    as_json = plan(demo_template, cache, "oxzep7", "--json")
    [run] = as_json["dry_runs"]  # type: ignore[misc]
    assert "pydantic" in engine_in(run["modules"])
    # a target that is not plainly a name and versions is never started before it is parsed
    marked = plan(demo_template, cache, "oxzep7 >=1.5")
    [run] = marked["dry_runs"]  # type: ignore[misc]
    assert "pydantic" in engine_in(run["modules"])
    # a target refused once parsed (a usage error, exit 2): the dry run started for it is killed
    # and its files removed
    bad = plan(demo_template, cache, "oxzep7==", code=2)
    [run] = bad["dry_runs"]  # type: ignore[misc]
    assert engine_in(run["modules"]) == set() and bad["alive"] == []
    assert sorted(p.name for p in (cache / "dry-run").iterdir() if p.name.startswith("report-")) == []

    # another target with the same options: the remembered command line serves it too
    other = plan(demo_template, cache, "humbleconf==1.3.0")
    [run] = other["dry_runs"]  # type: ignore[misc]
    assert engine_in(run["modules"]) == set()
    assert "humbleconf                    1.2.0 -> 1.3.0" in str(other["out"])

    # pip's configuration changed since (a constraint): the early dry run is not the plan's (it is
    # stopped if still running) and the plan's own runs; the plan is the constrained one
    constraints = tmp_path / "constraints.txt"
    constraints.write_text("oxzep7<2\n", encoding="utf-8")
    constrained = plan(demo_template, cache, "oxzep7", PIP_CONSTRAINT=str(constraints))
    early, own = constrained["dry_runs"]  # type: ignore[misc]
    assert engine_in(early["modules"]) == set() and engine_in(own["modules"]) != set()
    assert own["returncode"] == 0
    assert "oxzep7                        1.4.2 -> 1.5.0" in str(constrained["out"])
    assert "-> 2.0.0" not in str(constrained["out"])

    # a command line with credentials in it (a proxy's) is never written, so never started early
    secret = {"PIP_PROXY": "http://someone:s3cret@127.0.0.1:9"}
    private = tmp_path / "private-cache"
    for _ in range(2):
        answer = plan(demo_template, private, "oxzep7", **secret)
        [run] = answer["dry_runs"]  # type: ignore[misc]
        assert "pydantic" in engine_in(run["modules"])
        assert answer["out"] == first["out"].replace(  # type: ignore[attr-defined]
            "installer:", "  proxy http://****@127.0.0.1:9 (from PIP_PROXY)\ninstaller:"
        )
    assert not [p for p in private.rglob("*") if p.is_file() and "s3cret" in p.read_text(errors="replace")]


def test_a_plan_removes_the_files_an_early_dry_run_left_when_its_plan_was_killed(
    demo_template: DemoSandbox, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    (cache / "dry-run").mkdir(parents=True)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True).stdout.strip()  # fmt: skip
    left = [cache / "dry-run" / f"report-{dead}-7f00.{ext}" for ext in ("json", "out", "err")]
    running = cache / "dry-run" / f"report-{os.getpid()}-7f00.json"  # a plan that still runs
    for path in [*left, running]:
        path.write_text("{}", encoding="utf-8")
    plan(demo_template, cache, "oxzep7")
    assert [p for p in left if p.exists()] == [] and running.exists()


def test_a_repeated_uv_plan_starts_uv_before_the_engine_with_its_own_targets(
    demo_template: DemoSandbox, tmp_path: Path
) -> None:
    if find_uv() is None:
        pytest.skip("uv is not installed (a dev dependency)")
    cache = tmp_path / "cache"
    # uv's own source settings are not oxwizard's (the sources are passed as options): the early
    # start runs uv in the same environment as the plan's own, without them
    constraints = tmp_path / "constraints.txt"
    constraints.write_text("oxzep7<2\n", encoding="utf-8")
    ignored = {"UV_CONSTRAINT": str(constraints)}
    first = plan(demo_template, cache, "oxzep7", "--installer", "uv", **ignored)
    [run] = first["dry_runs"]  # type: ignore[misc]
    assert "pydantic" in engine_in(run["modules"])
    assert "oxzep7                        1.4.2 -> 2.0.0" in str(first["out"])

    again = plan(demo_template, cache, "oxzep7", "--installer", "uv", **ignored)
    [run] = again["dry_runs"]  # type: ignore[misc]
    assert engine_in(run["modules"]) == set() and "argparse" not in run["modules"]
    assert again["out"] == first["out"]
    # the remembered line stands for any targets: uv's --upgrade-package options are the new ones
    other = plan(demo_template, cache, "humbleconf==1.3.0", "--installer", "uv")
    [run] = other["dry_runs"]  # type: ignore[misc]
    assert engine_in(run["modules"]) == set() and run["returncode"] is None
    assert "humbleconf                    1.2.0 -> 1.3.0" in str(other["out"])
    assert "oxzep7 " not in str(other["out"])  # not upgraded along: only the target may move


_FLOW = """
import subprocess, sys
from pathlib import Path
started = []
real_init = subprocess.Popen.__init__
def init(self, args, *a, **k):
    if "--dry-run" in args:
        started.append(sorted(sys.modules))
    real_init(self, args, *a, **k)
subprocess.Popen.__init__ = init
from oxwizard.env.environment import Environment
from oxwizard.env.specs import IndexOptions, parse_specs
from oxwizard.flow.upgrade import UpgradeFlow
class Quiet:
    def on_step(self, event): pass
    def on_output(self, step, line): pass
    def on_checks(self, checkset): pass
    def ask(self, question): return question.default
    def interrupt(self): pass
venv, project, house = sys.argv[1:4]
index = IndexOptions.build(find_links=[house], no_index=True)
flow = UpgradeFlow(Environment.open(venv), Path(project), parse_specs(["oxzep7==1.5.0"]), index,
                   listener=Quiet())
plan = flow.prepare()
import json
print(json.dumps({"at_start": started, "summary": plan.summary(), "risk": flow.risk is not None,
                  "api": plan.api_impact is not None}))
"""


def test_the_flows_plan_step_starts_pip_before_importing_what_it_shows_after(demo: DemoFactory) -> None:
    """The plan step of an upgrade starts the dry run first; the API-impact reader (griffe), the
    security and risk checks are imported while it runs, and used after."""
    sandbox = demo()
    done = subprocess.run(
        [sys.executable, "-c", _FLOW, str(sandbox.venv), str(sandbox.project), str(sandbox.wheelhouse)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    [at_start] = answer["at_start"]
    later = ("oxwizard.checks.security", "oxwizard.checks.risk", "oxwizard.checks.api_impact", "griffe")
    assert [m for m in later if m in at_start] == []
    assert answer["summary"].startswith("oxzep7 1.4.2 -> 1.5.0 (minor)")
    assert answer["risk"] and answer["api"]
