"""A private index whose password is in a keyring (artifacts-keyring, Google's and the like): oxwizard
finds it where pip would, for its own index reader and for every pip child, which never prompts.

The keyring here is a ``keyring`` module installed into the environment (as a keyring backend plugin
is, beside pip) holding one credential and noting who asked for what; pip and the index are real.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import DemoFactory, wheel_install
from simple_index import SimpleIndex, serve

from oxwizard.demo.wheels import build_wheel

OXWIZARD = [sys.executable, "-m", "oxwizard"]


def _keyring_wheel(folder: Path, host: str, asked: Path) -> Path:
    """A ``keyring`` distribution that holds ``alice``'s password for ``host`` and logs each question."""
    source = f"""
import json


class Credential:
    def __init__(self, username, password):
        self.username, self.password = username, password


def get_credential(service, username):
    with open({str(asked)!r}, "a") as log:
        log.write(json.dumps([service, username]) + "\\n")
    if service == {host!r} and username in (None, "alice"):
        return Credential("alice", "s3cret")
    return None


def get_password(service, username):
    found = get_credential(service, username)
    return found.password if found else None
"""
    return build_wheel(folder, "keyring", "25.0.0", {"keyring/__init__.py": source})


def oxwizard(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*OXWIZARD, *args], capture_output=True, text=True, timeout=300, check=False)


def test_an_index_whose_password_is_in_pips_keyring_is_read_by_outdated_plan_and_upgrade(
    demo: DemoFactory, tmp_path: Path
) -> None:
    sandbox = demo()
    asked = tmp_path / "asked.jsonl"
    with serve(SimpleIndex(sandbox.wheelhouse, auth=("alice", "s3cret"))) as index:
        host = index.url.split("//")[1].split("/")[0]
        wheel = _keyring_wheel(tmp_path / "keyring", host, asked)
        wheel_install(sandbox.venv, wheel.parent, "keyring")
        env = ["--env", str(sandbox.venv), "--index-url", index.url]  # no credentials in the URL

        outdated = oxwizard("outdated", *env, "--json")
        assert outdated.returncode == 0, outdated.stderr
        rows = {r["name"]: r["latest"] for r in json.loads(outdated.stdout)}
        assert rows["oxzep7"] == "2.0.0"
        # asked as pip asks: after the index's 401, its URL first, then its host; once per run
        questions = [json.loads(line) for line in asked.read_text().splitlines()]
        assert questions == [[index.url + "/", None], [host, None]]
        assert index.statuses[401] >= 1
        # the next run asks the keyring before its first request: no request is refused first, and
        # the pages the first run cached under the keyring's user are revalidated, not fetched again
        refused_before, paths_before = index.statuses[401], sum(index.paths.values())
        again = oxwizard("outdated", *env, "--json")
        assert again.returncode == 0, again.stderr
        assert index.statuses[401] == refused_before
        assert index.statuses[304] >= 1
        assert sum(index.paths.values()) - paths_before == len(index.paths)  # one request per page
        assert [json.loads(line) for line in asked.read_text().splitlines()][2:] == questions  # once again
        # a password in the URL is the one used, as pip uses it: a wrong one is not replaced by the keyring's
        wrong = index.url.replace("http://", "http://alice:wrong@")
        refused = oxwizard("outdated", "--env", str(sandbox.venv), "--index-url", wrong, "--json")
        assert refused.returncode == 1 and "HTTP 401" in refused.stderr and "wrong" not in refused.stderr
        assert len(asked.read_text().splitlines()) == 4

        plan = oxwizard("plan", "oxzep7==1.5.0", *env, "--project", str(sandbox.project))
        assert plan.returncode == 0, plan.stderr
        assert "1.4.2 -> 1.5.0" in plan.stdout
        keyring_line = (
            f"an index's password, when it asks: the keyring module of {sandbox.venv / 'bin' / 'python'}"
        )
        assert keyring_line in plan.stdout

        upgraded = oxwizard("upgrade", "oxzep7==1.5.0", *env, "--project", str(sandbox.project), "--yes")
        assert upgraded.returncode == 0, upgraded.stdout + upgraded.stderr
    version = "import importlib.metadata as m; print(m.version('oxzep7'))"
    installed = subprocess.run(
        [str(sandbox.venv / "bin" / "python"), "-c", version], capture_output=True, text=True, check=True
    )
    assert installed.stdout.strip() == "1.5.0"
    for done in (outdated, plan, upgraded):
        assert "s3cret" not in done.stdout + done.stderr
    written = [p for p in sandbox.project.rglob("*") if p.is_file() and not {".git", ".venv"} & set(p.parts)]
    assert any(p.suffix == ".json" for p in written)  # the runbook
    assert [p for p in written if "s3cret" in p.read_text(errors="replace")] == []
    git = ["git", "-C", str(sandbox.project), "log", "-p", "--all"]
    log = subprocess.run(git, capture_output=True, text=True, check=True)
    assert "alice" not in log.stdout and "s3cret" not in log.stdout


def test_a_keyring_program_on_path_serves_outdated_and_uvs_plan(demo: DemoFactory, tmp_path: Path) -> None:
    """No keyring module beside pip, a ``keyring`` program on PATH (pip's ``subprocess`` provider,
    the only kind uv has): asked for the user the index URL names, by oxwizard and by uv."""
    import os

    sandbox = demo()
    asked = tmp_path / "asked.txt"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    program = bin_dir / "keyring"
    program.write_text(
        f"#!{sys.executable}\nimport sys\nopen({str(asked)!r}, 'a').write(' '.join(sys.argv[1:]) + '\\n')\n"
        "if sys.argv[1:2] == ['get'] and sys.argv[3:] == ['alice']:\n    print('s3cret')\n"
        "else:\n    sys.exit(1)\n"
    )
    program.chmod(0o755)
    environ = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    with serve(SimpleIndex(sandbox.wheelhouse, complete=True, auth=("alice", "s3cret"))) as index:
        url = index.url.replace("http://", "http://alice@")
        args = ["--env", str(sandbox.venv), "--index-url", url]

        def run(*argv: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [*OXWIZARD, *argv], capture_output=True, text=True, timeout=300, env=environ
            )

        outdated = run("outdated", *args, "--json")
        assert outdated.returncode == 0, outdated.stderr
        assert {r["name"]: r["latest"] for r in json.loads(outdated.stdout)}["oxzep7"] == "2.0.0"
        assert asked.read_text().splitlines()[0] == f"get {index.url}/ alice"  # the index's URL first

        plan = run("plan", "oxzep7==1.5.0", *args, "--project", str(sandbox.project), "--installer", "uv")
        assert plan.returncode == 0, plan.stderr
        assert "1.4.2 -> 1.5.0" in plan.stdout and "installer: uv" in plan.stdout
        assert f"an index's password, when it asks: the keyring program {program}" in plan.stdout
    for done in (outdated, plan):
        assert "s3cret" not in done.stdout + done.stderr
