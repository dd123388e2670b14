"""The installer that changes an environment, and its command lines: the environment's own (uv for an
environment made by uv, so INSTALLER stays as it was written; else pip, inside or from outside), with
``--break-system-packages`` where the environment needs it. Used by the install (:mod:`.apply`) and
by the rollback's fallback reinstall (:mod:`.rollback`)."""

from __future__ import annotations

from oxwizard.core import proc
from oxwizard.core.errors import InstallerError
from oxwizard.env.environment import Environment, find_uv
from oxwizard.env.specs import IndexOptions


def installer_argv(env: Environment) -> tuple[str, list[str]]:
    """Which installer runs and the prefix of its ``install`` command line."""
    kind = env.installer_kind()
    if kind == "uv":
        uv = find_uv()
        assert uv is not None
        return kind, [uv, "pip", "install", "--python", str(env.python), *env.install_overrides()]
    if kind == "none":
        raise InstallerError(f"no installer can change {env.root}: install pip in it, or uv")
    return kind, [*env.pip_argv(), "install", *env.install_overrides()]


def uninstaller_argv(env: Environment, kind: str, names: list[str]) -> list[str]:
    """The command line that removes ``names`` from ``env`` with the installer ``kind``."""
    if kind == "uv":
        uv = find_uv()
        assert uv is not None
        return [uv, "pip", "uninstall", "--no-config", "--python", str(env.python), *env.install_overrides(),
                "--", *names]  # fmt: skip
    return [*env.pip_argv(), "uninstall", "-y", *env.install_overrides(), "--", *names]


def installer_environ(kind: str, index: IndexOptions) -> dict[str, str]:
    """The children's environment: no configuration of their own (the sources are options)."""
    if kind == "uv":
        return {**proc.uv_environment(), **index.uv_environ()}
    return proc.pip_environment()
