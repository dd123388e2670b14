"""The fleet playbook (scripts/fleet/replay.yml) run for real with ansible-core.

Three local hosts (``ansible_connection=local``), each its own demo project and virtualenv and its
own clone of the recorder's runbook repository, replay the oxzep7 1.5.0 runbook in canary order. The
second host's project has an extra test that fails on oxzep7 1.5.0: the rollout must stop there, the
second host must be back to its exact previous state, the third host must be untouched, the canary
upgraded, and the reports of the hosts that ran collected on the controller.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from oxwizard.env.environment import Environment

REPO = Path(__file__).resolve().parents[1]
PLAYBOOK = REPO / "scripts" / "fleet" / "replay.yml"
ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("ansible") is None or not ANSIBLE_PLAYBOOK.exists(),
    reason="ansible-core is not installed (pip install -e '.[dev]'): the fleet playbook test cannot run",
)

FAILS_ON_150 = '''import importlib.metadata
import unittest


class PinnedOnThisHost(unittest.TestCase):
    """This host's project is not ready for oxzep7 1.5.0."""

    def test_oxzep7_is_not_upgraded(self):
        self.assertEqual(importlib.metadata.version("oxzep7"), "1.4.2")
'''


def hermetic_ansible_env(tmp: Path) -> dict[str, str]:
    cfg = tmp / "ansible.cfg"
    cfg.write_text("[defaults]\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(
        ANSIBLE_CONFIG=str(cfg),
        ANSIBLE_HOME=str(tmp / "ansible-home"),
        ANSIBLE_LOCAL_TEMP=str(tmp / "ansible-local-tmp"),
        ANSIBLE_REMOTE_TEMP=str(tmp / "ansible-remote-tmp"),
        ANSIBLE_PYTHON_INTERPRETER=sys.executable,
        ANSIBLE_HOST_KEY_CHECKING="False",
        ANSIBLE_NOCOWS="1",
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
        ANSIBLE_RETRY_FILES_ENABLED="False",
        ANSIBLE_GATHERING="explicit",
        ANSIBLE_STDOUT_CALLBACK="default",
        ANSIBLE_LOAD_CALLBACK_PLUGINS="False",
        ANSIBLE_DEPRECATION_WARNINGS="False",
        ANSIBLE_FORKS="1",
    )
    return env


def fingerprint(venv: Path) -> str:
    return Environment.open(venv).fingerprint()


def test_rollout_stops_at_the_first_failed_host(
    recorded_15: Any, demo: Any, wheelhouse: Path, tmp_path: Path
) -> None:
    recorder, runbook = recorded_15
    hosts = {name: demo() for name in ("canary", "web-1", "web-2")}
    for sandbox in hosts.values():
        repo = sandbox.project / ".oxwizard"
        subprocess.run(["git", "clone", "-q", str(recorder.project / ".oxwizard"), str(repo)], check=True)
    (hosts["web-1"].project / "tests" / "test_host_pin.py").write_text(FAILS_ON_150, encoding="utf-8")
    before = {name: fingerprint(s.venv) for name, s in hosts.items()}
    # the replay reports web-2 has from the clone (the shared recorder's repository may hold some
    # written by other tests' replays): a replay on web-2 would add one
    web2_replays = hosts["web-2"].project / ".oxwizard" / "replays"
    web2_reports = sorted(p.relative_to(web2_replays) for p in web2_replays.rglob("*.json"))

    inventory = tmp_path / "inventory.ini"
    lines = ["[fleet]"]
    lines += [f"{name} oxwizard_project={s.project} oxwizard_env={s.venv}" for name, s in hosts.items()]
    lines += [
        "[fleet:vars]",
        "ansible_connection=local",
        f"oxwizard_bin={Path(sys.executable).parent / 'oxwizard'}",
        f"runbook_id={runbook.stem}",
        f'oxwizard_find_links=["{wheelhouse}"]',
        "oxwizard_no_index=true",
    ]
    inventory.write_text("\n".join(lines) + "\n", encoding="utf-8")
    reports = tmp_path / "reports"

    done = subprocess.run(
        [str(ANSIBLE_PLAYBOOK), "-i", str(inventory), str(PLAYBOOK), "-e", f"report_dir={reports}"],
        capture_output=True,
        text=True,
        env=hermetic_ansible_env(tmp_path),
        timeout=900,
        check=False,
    )
    out = done.stdout + done.stderr

    assert done.returncode != 0, out  # the rollout failed...
    assert "web-1: oxwizard replay exit 1" in out, out  # ...at web-1, which rolled itself back
    # The canary is upgraded.
    assert Environment.open(hosts["canary"].venv).distributions["oxzep7"].version == "1.5.0"
    canary = json.loads((reports / "canary.json").read_text())
    assert canary["outcome"] == "upgraded" and canary["exit_code"] == 0
    # The failed host is back to its exact previous state, and says so in its report.
    assert fingerprint(hosts["web-1"].venv) == before["web-1"]
    failed = json.loads((reports / "web-1.json").read_text())
    assert failed["exit_code"] == 1 and failed["rollback_verified"] is True
    assert failed["fingerprint_after"] == before["web-1"]
    # The host after it was never touched: no replay, no report, same environment.
    assert fingerprint(hosts["web-2"].venv) == before["web-2"]
    assert not (reports / "web-2.json").exists()
    assert sorted(p.relative_to(web2_replays) for p in web2_replays.rglob("*.json")) == web2_reports
    assert sorted(p.name for p in reports.iterdir()) == ["canary.json", "web-1.json"]
