"""Shared fixtures: hermetic pip, the demo wheelhouse and sandboxes (built with the product's code).

- ``wheelhouse`` (session): the demo wheels, built once.
- ``demo_template`` (session): one demo sandbox for read-only tests; never change it.
- ``demo`` (function): a factory; each call gives a fresh sandbox of its own, a copy of one built
  once per session with the product's code (``copy_demo``: under half a second, where building one
  takes 3-5 s, most of it ``ensurepip`` in the new venv).
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from oxwizard.demo.sandbox import DemoSandbox, build_demo, build_wheelhouse
from oxwizard.env.plan import Change, Plan

DemoFactory = Callable[[], DemoSandbox]


@pytest.fixture(scope="session", autouse=True)
def hermetic_pip(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """pip in tests reads no user or global config and sees no PIP_* variables; oxwizard's caches
    (index pages, pip's configuration, API comparisons, remembered dry runs), and uv's, live in the
    session's temporary folder, not the user's."""
    os.environ["OXWIZARD_INDEX_CACHE"] = str(tmp_path_factory.mktemp("index-cache"))
    os.environ["OXWIZARD_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))  # probe, api, dry-run
    os.environ["UV_CACHE_DIR"] = str(tmp_path_factory.mktemp("uv-cache"))  # uv's, where it plans or installs
    saved = {k: v for k, v in os.environ.items() if k.startswith("PIP_")}
    for key in saved:
        del os.environ[key]
    os.environ["PIP_CONFIG_FILE"] = os.devnull
    os.environ["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    yield
    for key in [k for k in os.environ if k.startswith("PIP_")]:
        del os.environ[key]
    os.environ.update(saved)


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo wheels, built once per session (a few milliseconds)."""
    return build_wheelhouse(tmp_path_factory.mktemp("wheelhouse") / "wheelhouse")


@pytest.fixture(scope="session")
def demo_seed(tmp_path_factory: pytest.TempPathFactory, wheelhouse: Path) -> DemoSandbox:
    """The sandbox ``build_demo`` makes, built once per session and never handed to a test: the
    sandboxes the tests get are copies of it (``copy_demo``)."""
    return build_demo(tmp_path_factory.mktemp("demo-seed") / "demo", wheelhouse=wheelhouse)


def copy_demo(seed: DemoSandbox, root: Path) -> DemoSandbox:
    """A sandbox at ``root`` (absent) the same as ``build_demo`` would make there: ``seed``'s files
    copied, links kept as links. A venv names its own folder only in ``pyvenv.cfg`` and in its
    ``bin/`` scripts (shebangs, activate): those name ``root`` now. Compiled modules record the
    path they were compiled at, and Python corrects that to where it loads them from."""
    shutil.copytree(seed.root, root, symlinks=True)
    copy = DemoSandbox.at(root.resolve())
    old, new = str(seed.root).encode(), str(copy.root).encode()
    rewritten: dict[str, bytes] = {}
    for path in [copy.venv / "pyvenv.cfg", *(copy.venv / "bin").iterdir()]:
        if path.is_file() and not path.is_symlink() and old in (data := path.read_bytes()):
            path.write_bytes(data := data.replace(old, new))
            rewritten[path.name] = data
    _rehash_scripts(copy.venv, rewritten)
    return copy


def _rehash_scripts(venv: Path, scripts: dict[str, bytes]) -> None:
    """The RECORD rows of the ``bin/`` scripts in ``scripts`` (name: new bytes) given their new hash
    and size, as pip writes them when it installs there."""
    import base64
    import csv
    import hashlib
    import io

    for record in venv.glob("lib/python*/site-packages/*.dist-info/RECORD"):
        rows = list(csv.reader(io.StringIO(record.read_bytes().decode(), newline="")))
        changed = False
        for row in rows:
            name = row[0].rsplit("/", 1)[-1] if row and row[0].startswith("../../../bin/") else None
            if name in scripts:
                digest = base64.urlsafe_b64encode(hashlib.sha256(scripts[name]).digest()).rstrip(b"=")
                row[1:3] = [f"sha256={digest.decode()}", str(len(scripts[name]))]
                changed = True
        if changed:
            out = io.StringIO(newline="")
            csv.writer(out).writerows(rows)  # the rows end as pip ends them: "\r\n"
            record.write_bytes(out.getvalue().encode())


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory, demo_seed: DemoSandbox) -> DemoSandbox:
    """One sandbox for the whole session, to read only: copy it or use ``demo`` to change anything."""
    return copy_demo(demo_seed, tmp_path_factory.mktemp("demo-template") / "demo")


@pytest.fixture
def demo(tmp_path_factory: pytest.TempPathFactory, demo_seed: DemoSandbox) -> DemoFactory:
    """Call it to get a fresh sandbox of your own (oxzep7 1.4.2 installed, one git commit)."""

    def make() -> DemoSandbox:
        return copy_demo(demo_seed, tmp_path_factory.mktemp("demo") / "demo")

    return make


# --- replay (issue 6): runbooks recorded once per session, shared by test_replay.py and test_fleet.py ---
def _record_upgrade(
    root: Path, seed: DemoSandbox, spec: str, *extra: str
) -> tuple[DemoSandbox, Path, int, str]:
    """Record ``oxwizard upgrade SPEC --yes`` on a fresh sandbox with the real CLI."""
    import re
    import subprocess
    import sys

    sandbox = copy_demo(seed, root)
    # The recorded thresholds travel with the runbook: a loose benchmark threshold keeps these
    # recordings (and their replays) from failing on a busy test machine; the gates that matter
    # here are the tests and imports.
    pyproject = sandbox.project / "pyproject.toml"
    text, count = re.subn(
        r"(?m)^benchmark-threshold = .*$", "benchmark-threshold = 5.0", pyproject.read_text("utf-8")
    )
    assert count == 1, "the demo project sets benchmark-threshold"
    pyproject.write_text(text, "utf-8")
    argv = [sys.executable, "-m", "oxwizard", "upgrade", spec, "--yes", "--env", str(sandbox.venv)]
    argv += ["--project", str(sandbox.project), "--find-links", str(sandbox.wheelhouse), "--no-index", *extra]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=900, check=False)
    runbooks = sorted((sandbox.project / ".oxwizard" / "runbooks").glob("*.json"))
    assert len(runbooks) == 1, done.stdout + done.stderr
    return sandbox, runbooks[0], done.returncode, done.stdout + done.stderr


@pytest.fixture(scope="session")
def recorded_15(tmp_path_factory: pytest.TempPathFactory, demo_seed: DemoSandbox) -> tuple[DemoSandbox, Path]:
    """oxzep7 1.5.0 recorded with staging; the sandbox is left upgraded. Replay it elsewhere."""
    root = tmp_path_factory.mktemp("recorded-15") / "demo"
    sandbox, runbook, code, output = _record_upgrade(root, demo_seed, "oxzep7==1.5.0")
    assert code == 0, output
    return sandbox, runbook


@pytest.fixture(scope="session")
def recorded_20(tmp_path_factory: pytest.TempPathFactory, demo_seed: DemoSandbox) -> tuple[DemoSandbox, Path]:
    """oxzep7 2.0.0 recorded with --no-stage: its checks failed on live and it was rolled back, so the
    sandbox is at oxzep7 1.4.2 again (tests that only validate use it as a target, changing nothing)."""
    root = tmp_path_factory.mktemp("recorded-20") / "demo"
    sandbox, runbook, code, output = _record_upgrade(root, demo_seed, "oxzep7==2.0.0", "--no-stage")
    assert code == 1, output
    return sandbox, runbook


# ---- appended for the checkpoint/rollback engine tests (tests/test_{kill,rollback,...}.py) ----
def env_state(venv: Path) -> dict[str, str]:
    """sha256 of every file in the env (site-packages, bin, .pyc included), state folder excluded."""
    import hashlib

    out: dict[str, str] = {}
    for folder, dirs, names in os.walk(venv):
        if Path(folder) == venv and ".oxwizard" in dirs:
            dirs.remove(".oxwizard")
        for name in names:
            path = Path(folder) / name
            rel = str(path.relative_to(venv))
            if path.is_symlink():
                out[rel] = "symlink:" + os.readlink(path)
            else:
                out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def assert_restored(venv: Path, checkpoint_id: str) -> None:
    """The env is exactly at the checkpoint: fingerprint, every RECORD hash, manifest, no leftovers."""
    from oxwizard.env.environment import Environment
    from oxwizard.safety.checkpoint import load_checkpoint
    from oxwizard.safety.journal import pending
    from oxwizard.safety.records import sha256_file, verify_record

    env = Environment.open(venv)
    ck = load_checkpoint(env, checkpoint_id)
    assert not pending(env), "the journal is still there"
    assert env.fingerprint() == ck.fingerprint, sorted(d.pin for d in env.distributions.values())
    for dist in env.distributions.values():
        assert verify_record(Path(dist.metadata_dir)) == [], dist.name
    for entry in ck.manifest:
        assert sha256_file(venv / entry.path) == entry.sha256, entry.path
    for site in env.site_paths:
        assert [n for n in os.listdir(site) if n.startswith("~")] == []
        assert not (site / "oxzep7_core").exists()


@pytest.fixture(scope="module")
def live_demo(tmp_path_factory: pytest.TempPathFactory, demo_seed: DemoSandbox) -> DemoSandbox:
    """One demo sandbox shared by the tests of a module; each test leaves it as it found it."""
    return copy_demo(demo_seed, tmp_path_factory.mktemp("live-demo") / "demo")


def make_plan() -> Plan:
    """oxzep7 1.4.2 -> 2.0.0 (major) with oxzep7-core 2.0.0 new: the demo's major upgrade, as data."""
    return Plan(
        targets=["oxzep7==2.0.0"],
        env_fingerprint="0123456789abcdef",
        python_version="3.11.9",
        platform="linux-x86_64",
        installer="pip",
        changes=[
            Change(
                name="oxzep7",
                from_version="1.4.2",
                to_version="2.0.0",
                kind="upgrade",
                impact="major",
                requested=True,
            ),
            Change(name="oxzep7-core", to_version="2.0.0", kind="new", impact="new"),
        ],
    )


def pip_install(sandbox: DemoSandbox, spec: str) -> None:
    """``pip install SPEC`` into the sandbox's venv from its wheelhouse (no index), or fail the test."""
    from oxwizard.core import proc

    done = proc.run(
        [str(sandbox.python), "-m", "pip", "install", "-q", "--no-index", "--find-links",
         str(sandbox.wheelhouse), spec], env=proc.pip_environment(), timeout=300,
    )  # fmt: skip
    assert done.ok, done.stderr


def wheel_venv(path: Path, wheelhouse: Path, *specs: str) -> Path:
    """A venv without pip of its own, ``specs`` installed into it by this interpreter's pip from
    ``wheelhouse`` (no index): fast to make."""
    from oxwizard.core import proc

    made = proc.run([sys.executable, "-m", "venv", "--without-pip", str(path)], timeout=120)
    assert made.ok, made.stderr
    wheel_install(path, wheelhouse, *specs)
    return path


def wheel_install(venv: Path, wheelhouse: Path, *specs: str) -> None:
    """``pip install SPECS`` into ``venv`` (this interpreter's pip) from ``wheelhouse``, or fail the test."""
    from oxwizard.core import proc

    done = proc.run(
        [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "-q",
         "--no-index", "--find-links", str(wheelhouse), *specs], env=proc.pip_environment(), timeout=300,
    )  # fmt: skip
    assert done.ok, done.stderr


# ---- conflicts planned, not discovered (issue 11): liba 1.0 needs libb<2, liba 2.0 accepts libb 2 ----
@pytest.fixture(scope="session")
def conflict_wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """liba 1.0 (requires libb<2), liba 2.0 (requires libb<3), libb 1.0 and libb 2.0."""
    from oxwizard.demo.wheels import build_wheel

    house = tmp_path_factory.mktemp("conflict-wheels")
    for version, bound in (("1.0", "libb<2"), ("2.0", "libb<3")):
        build_wheel(
            house, "liba", version, {"liba/__init__.py": f'VERSION = "{version}"\n'}, requires=[bound]
        )
    for version in ("1.0", "2.0"):
        build_wheel(house, "libb", version, {"libb/__init__.py": f'VERSION = "{version}"\n'})
    return house


def build_conflict_sandbox(root: Path, wheels: Path, *more: str) -> DemoSandbox:
    """A project (one passing unittest) and its venv with liba 1.0 + libb 1.0 (and the specs ``more``),
    in the demo's layout (``root/wheelhouse``, ``root/project``, ``root/project/.venv``) so the
    wizard's helpers take it."""
    import shutil
    import subprocess
    import sys

    from oxwizard.core import proc

    sandbox = DemoSandbox.at(root)
    shutil.copytree(wheels, sandbox.wheelhouse)
    (sandbox.project / "tests").mkdir(parents=True)
    (sandbox.project / "pyproject.toml").write_text(
        '[project]\nname = "conflictapp"\nversion = "0.1"\ndependencies = ["liba", "libb"]\n\n'
        '[tool.oxwizard]\ntest-command = ["python", "-m", "unittest", "discover", "-s", "tests", "-v"]\n',
        encoding="utf-8",
    )
    (sandbox.project / "tests" / "test_libs.py").write_text(
        "import unittest\n\nimport liba\nimport libb\n\n\nclass T(unittest.TestCase):\n"
        "    def test_import(self):\n        self.assertTrue(liba.VERSION and libb.VERSION)\n",
        encoding="utf-8",
    )
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(sandbox.venv)], check=True)
    argv = [sys.executable, "-m", "pip", "--python", str(sandbox.python), "install", "-q", "--no-index"]
    done = proc.run(
        [*argv, "--find-links", str(sandbox.wheelhouse), "liba==1.0", "libb==1.0", *more],
        env=proc.pip_environment(),
        timeout=120,
    )
    assert done.ok, done.stderr
    return sandbox


@pytest.fixture(scope="session")
def conflict_template(tmp_path_factory: pytest.TempPathFactory, conflict_wheels: Path) -> DemoSandbox:
    """One conflict sandbox for the session, to read only (plans; upgrades that must change nothing)."""
    return build_conflict_sandbox(tmp_path_factory.mktemp("conflict") / "sandbox", conflict_wheels)
