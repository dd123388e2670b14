"""The target environment: where it is, what interpreter it runs, what is installed, how to install.

The interpreter's facts come from :class:`oxwizard.env.interpreter.Interpreter` (one short probe,
cached: see :func:`probe_interpreter`); everything about installed distributions is read
directly from the ``.dist-info`` folders with :mod:`importlib.metadata`, which is an order of
magnitude faster than ``pip list``. The fingerprint of an environment state is what runbooks and
checkpoints refer to.
"""

from __future__ import annotations

import importlib.metadata as md
import os
import shutil
import sys
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from oxwizard.core import proc
from oxwizard.core.errors import ExternallyManaged, InstallerError
from oxwizard.env.distributions import Distribution as Distribution
from oxwizard.env.distributions import Reading, read_cached
from oxwizard.env.distributions import read_distributions as read_distributions

# the probe lives beside the facts it gives (oxwizard.env.interpreter); its names stay importable here
from oxwizard.env.interpreter import _PROBES as _PROBES
from oxwizard.env.interpreter import Interpreter, fingerprint_of
from oxwizard.env.interpreter import clear_probe_cache as clear_probe_cache
from oxwizard.env.interpreter import locate_python as locate_python
from oxwizard.env.interpreter import probe_cache_dir as probe_cache_dir
from oxwizard.env.interpreter import probe_interpreter as probe_interpreter

InstallerKind = Literal["pip", "pip-outside", "uv", "none"]


class EnvironmentFacts(BaseModel):
    """The facts a runbook records about the environment it ran on."""

    model_config = ConfigDict(extra="forbid")

    interpreter: str
    version: str
    implementation: str
    platform: str
    tags: list[str] = Field(default_factory=list)
    prefix: str
    purelib: str
    platlib: str
    scripts: str
    is_venv: bool
    externally_managed: bool = False
    installer: InstallerKind = "none"
    fingerprint: str


class Environment(Interpreter):
    """A live view of one Python environment: the interpreter's facts (:class:`Interpreter`) and every
    installed distribution. Cheap to build; call :meth:`refresh` after changes."""

    def __init__(self, python: Path, probe: dict[str, object]) -> None:
        super().__init__(python, probe)
        self._reading: Reading | None = None
        self.installer_choice: tuple[Literal["pip", "uv"], str] | None = None  # see use_installer

    @property
    def distributions(self) -> dict[str, Distribution]:
        """Every installed distribution, read when first asked for (so that a plan's dry run can
        start before they are read, and run while they are)."""
        return self.reading.distributions

    @property
    def reading(self) -> Reading:
        """The installed distributions and their requirements for this interpreter's markers, read
        when first asked for; each folder unchanged since oxwizard last read it from the cache
        (:func:`oxwizard.env.distributions.read_cached`)."""
        if self._reading is None:
            self._reading = read_cached(self.site_paths, self.markers)
        return self._reading

    def refresh(self) -> None:
        """Re-read the installed distributions (after an install or a rollback)."""
        self._reading = read_cached(self.site_paths, self.markers)

    def fingerprint(self) -> str:
        """Interpreter version + platform + the sorted name==version set, hashed."""
        return fingerprint_of(self.implementation, self.version, self.platform, self.distributions.values())

    # -- facts ----------------------------------------------------------------------------------
    @property
    def externally_managed(self) -> bool:
        return not self.is_venv and (self.stdlib / "EXTERNALLY-MANAGED").exists()

    @property
    def python_version_tuple(self) -> tuple[int, int]:
        major, minor = self.version.split(".")[:2]
        return int(major), int(minor)

    def tags(self, limit: int = 5) -> list[str]:
        """The most specific wheel tags this interpreter accepts (computed with packaging)."""
        from packaging import tags

        major, minor = self.python_version_tuple
        soabi = str(self._probe.get("soabi") or "")
        abi = f"cp{major}{minor}" if self.implementation == "CPython" else soabi.replace("-", "_")
        same_platform = self.platform == _this_platform()
        platforms = list(tags.platform_tags()) if same_platform else [_tagify(self.platform)]
        if self.implementation == "CPython":
            found = tags.cpython_tags((major, minor), [abi], platforms)
        else:
            found = tags.generic_tags(None, [abi] if abi else None, platforms)
        out = [str(t) for _, t in zip(range(limit), found, strict=False)]
        out.append(f"py{major}-none-any")
        return out

    @property
    def has_pip(self) -> bool:
        """pip is installed in the environment itself."""
        return any((p / "pip" / "__init__.py").exists() for p in self.site_paths)

    @property
    def made_by_uv(self) -> bool:
        """Most of its distributions were installed by uv (their INSTALLER files say ``uv``)."""
        installers = [d.installer for d in self.distributions.values() if d.installer]
        return bool(installers) and installers.count("uv") * 2 > len(installers)

    def use_installer(self, kind: Literal["pip", "uv"], reason: str) -> None:
        """Prefer ``kind`` over the default choice, for ``reason`` (shown by :meth:`installer_line`):
        ``--installer``, or a project locked by uv.lock (:func:`oxwizard.env.locktools.choose_installer`)."""
        self.installer_choice = (kind, reason)

    def installer_kind(self) -> InstallerKind:
        """Which installer changes this environment, in order of preference.

        The one chosen with :meth:`use_installer` when it is usable; else an environment made by uv
        is driven with uv when uv is available, so that its packages' INSTALLER stays ``uv``;
        otherwise pip inside the environment, else a pip outside it (``--python``), else uv."""
        chosen = self.installer_choice[0] if self.installer_choice else None
        if chosen == "uv" and find_uv():
            return "uv"
        if chosen != "pip" and self.made_by_uv and find_uv():
            return "uv"
        if self.has_pip:
            return "pip"
        if _outside_pip_usable():
            return "pip-outside"
        if find_uv():
            return "uv"
        return "none"

    def installer_line(self) -> str:
        """The installer, and why when it is not the obvious one (shown by env, plan and upgrade)."""
        kind = self.installer_kind()
        if self.installer_choice is not None:
            chosen, why = self.installer_choice
            if kind == chosen or (chosen == "pip" and kind == "pip-outside"):
                return f"{kind} ({why})"
            return f"{kind} ({why}, but {chosen} is not usable here)"
        if kind == "uv":
            return "uv (the environment was made by uv)" if self.made_by_uv else "uv (no pip usable)"
        if kind == "pip-outside":
            return "pip-outside (the environment has no pip: oxwizard's pip with --python)"
        return kind

    def pip_argv(self) -> list[str]:
        """The command prefix that runs pip against this environment (a plan's dry run when pip
        installs; pip check; what uv's plan cannot describe from the sources)."""
        if self.has_pip:
            return [str(self.python), "-m", "pip"]
        if _outside_pip_usable():
            return [sys.executable, "-m", "pip", "--python", str(self.python)]
        raise InstallerError(f"no pip usable for {self.root}: install pip in it or use uv")

    @property
    def managed_note(self) -> str:
        """The one line the text output of env, plan and upgrade shows for a PEP 668 Python ("")."""
        if not self.externally_managed:
            return ""
        return f"externally managed (PEP 668): {self.stdlib / 'EXTERNALLY-MANAGED'}"

    def install_overrides(self) -> list[str]:
        """Options every install or uninstall into this environment carries.

        ``--break-system-packages`` for an externally-managed Python (PEP 668): oxwizard only
        changes one after :meth:`require_writable` was told to (``--break-system-packages`` given,
        or a checkpoint taken under it being restored). Not passed to a pip older than 23.0, which
        neither knows the option nor enforces PEP 668.
        """
        if not self.externally_managed:
            return []
        kind = self.installer_kind()
        if kind == "pip":
            pip = self.distributions.get("pip")
            version = pip.version if pip is not None else ""
        elif kind == "pip-outside":
            version = md.version("pip")
        else:
            version = ""  # uv knows the option
        from packaging.version import InvalidVersion, Version

        try:
            if version and Version(version) < Version("23.0"):
                return []
        except InvalidVersion:
            pass
        return ["--break-system-packages"]

    def require_writable(self, allow_externally_managed: bool = False) -> None:
        """Refuse to change a PEP 668 externally-managed Python without an explicit override."""
        if self.externally_managed and not allow_externally_managed:
            raise ExternallyManaged(
                f"{self.python} is EXTERNALLY-MANAGED (PEP 668): use a virtual environment, "
                "or pass --break-system-packages to override"
            )

    def facts(self) -> EnvironmentFacts:
        return EnvironmentFacts(
            interpreter=str(self.python),
            version=self.version,
            implementation=self.implementation,
            platform=self.platform,
            tags=self.tags(),
            prefix=str(self.prefix),
            purelib=str(self.purelib),
            platlib=str(self.platlib),
            scripts=str(self.scripts),
            is_venv=self.is_venv,
            externally_managed=self.externally_managed,
            installer=self.installer_kind(),
            fingerprint=self.fingerprint(),
        )

    def pip_check(self) -> list[str]:
        """``pip check`` problems, one line each (empty when consistent)."""
        try:
            argv = [*self.pip_argv(), "check"]
        except InstallerError:
            uv = find_uv()
            if not uv:
                raise
            argv = [uv, "pip", "check", "--python", str(self.python)]  # uv: options after the verb
        result = proc.run(argv, env=proc.pip_environment(), timeout=120)
        if result.ok:
            return []
        lines = [ln.strip() for ln in result.stdout.splitlines() if ln.strip()]
        skip = ("no broken requirements", "using python", "checked ", "found ", "all installed")
        return [ln.removeprefix("- ").strip() for ln in lines if not ln.lower().startswith(skip)]


def read_whole(env: Interpreter) -> Environment:
    """``env`` read whole: the :class:`Environment` of its interpreter, every distribution with all
    pydantic models hold (``env`` itself when it is one; the rollback verb's lighter
    :class:`~oxwizard.env.interpreter.InstalledView` otherwise)."""
    return env if isinstance(env, Environment) else Environment(env.python, env.probe)


def find_uv() -> str | None:
    """uv on PATH, else beside oxwizard's own interpreter (where a venv that has oxwizard has it)."""
    found = shutil.which("uv")
    if found:
        return found
    beside = Path(sys.executable).parent / "uv"
    return str(beside) if beside.is_file() and os.access(beside, os.X_OK) else None


def _outside_pip_usable() -> bool:
    try:
        version = md.version("pip")
    except md.PackageNotFoundError:
        return False
    from packaging.version import Version

    return Version(version) >= Version("22.3")  # --python appeared in pip 22.3


def _this_platform() -> str:
    import sysconfig

    return sysconfig.get_platform()


def _tagify(platform: str) -> str:
    return platform.replace("-", "_").replace(".", "_")
