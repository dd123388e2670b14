"""Applying a plan: install exactly the pinned set, stream the output, verify the result.

No re-resolution: ``--no-deps`` with the exact pins of the plan; when every change carries a sha256
the pins go through a requirements file with ``--require-hashes``, so a different artefact published
under the same version is refused before anything changes. The installer reads no configuration of
its own (:func:`oxwizard.core.proc.pip_environment`): the effective sources are passed as options. pip runs
inside the env or from outside (``--python``); an environment made by uv is installed into with uv
(``uv pip``, the same sources as uv options), so its packages' INSTALLER stays ``uv``.

On the live environment (``journaled=True``) the write-ahead journal is written first and removed
when the environment is verified; SIGINT/SIGTERM are forwarded to the installer, and an interrupt or
any exception rolls the environment back to the checkpoint before it propagates.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType

from pydantic import BaseModel, ConfigDict, Field

from oxwizard.core import proc
from oxwizard.core.testhooks import die, kill_at, slow_at
from oxwizard.env.environment import Environment
from oxwizard.env.plan import Plan
from oxwizard.env.specs import IndexOptions
from oxwizard.safety.checkpoint import Checkpoint, seal_stash
from oxwizard.safety.installer import installer_argv, installer_environ, uninstaller_argv
from oxwizard.safety.journal import Journal, clear_journal, listings, write_journal


class ApplyResult(BaseModel):
    """The outcome of installing a plan into one environment."""

    model_config = ConfigDict(extra="forbid")

    ok: bool
    installed: list[str] = Field(default_factory=list)
    removed: list[str] = Field(default_factory=list)
    mismatches: list[str] = Field(default_factory=list)
    duration: float = 0.0
    output_tail: list[str] = Field(default_factory=list)
    installer: str = ""


def _ignore(_line: str) -> None:
    return None


def apply_plan(
    env: Environment,
    plan: Plan,
    index: IndexOptions,
    *,
    checkpoint: Checkpoint | None,
    on_line: Callable[[str], None] = _ignore,
    journaled: bool = True,
    allow_externally_managed: bool = False,
    survive_hangup: bool = False,
) -> ApplyResult:
    """Install exactly ``plan.pinned`` (and remove what it removes) into ``env``, then verify.

    ``survive_hangup``: the installer ignores SIGHUP, so that a terminal lost mid-install (the
    wizard over SSH) lets it finish; the wizard keeps running until the step is recorded.
    """
    env.require_writable(allow_externally_managed)
    started = time.monotonic()
    guard = journaled and checkpoint is not None
    if guard:
        assert checkpoint is not None
        write_journal(
            env,
            Journal(
                operation="apply",
                checkpoint_id=checkpoint.id,
                command="apply " + " ".join(plan.targets),
                pins=plan.pinned,
                listings=listings(env),
            ),
        )
    tail: list[str] = []
    pause = slow_at("apply") if guard else slow_at("apply-staging")

    def line(text: str) -> None:
        tail.append(text)
        del tail[:-40]
        on_line(text)
        if pause:
            time.sleep(pause)

    with _rollback_on_failure(env, checkpoint if guard else None, on_line):
        kind, failure = _run_installer(env, plan, index, line, survive_hangup=survive_hangup)
        env.refresh()
        mismatches = ([failure] if failure else []) + verify_against_plan(env, plan)
    if guard and not mismatches:
        clear_journal(env)
        assert checkpoint is not None
        with contextlib.suppress(OSError):  # unsealed: a rollback hashes those files instead
            seal_stash(env, checkpoint)
    return ApplyResult(
        ok=not mismatches,
        installed=plan.pinned,
        removed=[c.name for c in plan.changes if c.to_version is None],
        mismatches=mismatches,
        duration=time.monotonic() - started,
        output_tail=tail,
        installer=kind,
    )


def verify_against_plan(env: Environment, plan: Plan) -> list[str]:
    """How ``env`` differs from what ``plan`` says it should now contain."""
    out: list[str] = []
    for change in plan.changes:
        have = env.distributions.get(change.name)
        if change.to_version is None:
            if have is not None:
                out.append(f"{change.name} {have.version} is still installed (the plan removes it)")
        elif have is None:
            out.append(f"{change.name} is not installed (expected {change.to_version})")
        elif have.version != change.to_version:
            out.append(f"{change.name} is {have.version}, expected {change.to_version}")
    return out


def _run_installer(
    env: Environment,
    plan: Plan,
    index: IndexOptions,
    line: Callable[[str], None],
    *,
    survive_hangup: bool = False,
) -> tuple[str, str | None]:
    """Run the installer; (kind, None) or (kind, why it failed). Interrupts raise KeyboardInterrupt."""
    kind, prefix = installer_argv(env)
    killer = kill_at("apply")
    if killer == 0:
        die()
    count = 0
    child: list[subprocess.Popen[str]] = []

    def counted(text: str) -> None:
        nonlocal count
        line(text)
        count += 1
        if killer is not None and count >= killer:
            for c in child:  # a power loss takes the installer down too
                c.kill()
            die()

    installs = [c for c in plan.changes if c.to_version]
    removes = [c.name for c in plan.changes if c.to_version is None]
    with tempfile.TemporaryDirectory(prefix="oxwizard-apply-") as tmp, _forward_signals(child) as stopped:

        def run(verb: str, argv: list[str]) -> str | None:
            """One installer call; why it failed, or None. A forwarded signal raises."""
            done = proc.stream(
                argv,
                on_line=counted,
                env=installer_environ(kind, index),
                on_start=child.append,
                ignore_hangup=survive_hangup,
            )
            if stopped:
                raise KeyboardInterrupt(f"interrupted by signal {stopped[0]}")
            return None if done.ok else f"{kind} {verb} failed: {_last_error(done.stdout)}"

        if installs:
            sources = index.uv_args() if kind == "uv" else index.pip_args()
            argv = [*prefix, "--no-deps", *sources]
            if all(c.sha256 for c in installs):
                req = Path(tmp) / "pins.txt"
                req.write_text(
                    "".join(f"{c.name}=={c.to_version} --hash=sha256:{c.sha256}\n" for c in installs),
                    encoding="utf-8",
                )
                argv += ["--require-hashes", "-r", str(req)]
            else:
                argv += ["--", *plan.pinned]
            failed = run("install", argv)
            if failed:
                return kind, failed
        if removes:
            failed = run("uninstall", uninstaller_argv(env, kind, removes))
            if failed:
                return kind, failed
    return kind, None


def _last_error(output: str) -> str:
    lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("ERROR") or "error" in ln.lower()]
    return (errors or lines or ["no output"])[-1][:300]


@contextlib.contextmanager
def _forward_signals(child: list[subprocess.Popen[str]]) -> Iterator[list[int]]:
    """While installing, SIGINT/SIGTERM go to the installer; the caller then rolls back."""
    stopped: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield stopped  # signals are delivered to the main thread; the TUI stops the flow itself
        return

    def forward(signum: int, _frame: FrameType | None) -> None:
        stopped.append(signum)
        for c in child:
            with contextlib.suppress(OSError):
                c.send_signal(signum)

    saved = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stopped
    finally:
        for s, handler in saved.items():
            signal.signal(s, handler)


@contextlib.contextmanager
def _rollback_on_failure(
    env: Environment, checkpoint: Checkpoint | None, on_line: Callable[[str], None]
) -> Iterator[None]:
    """Like pipx's transaction: any exception or interrupt restores the checkpoint, then propagates."""
    try:
        yield
    except BaseException:
        if checkpoint is not None:
            from oxwizard.safety.rollback import rollback

            on_line(f"the install did not complete: rolling back to {checkpoint.id}")
            rollback(env, checkpoint.id, on_line=on_line)
        raise
