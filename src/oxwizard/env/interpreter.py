"""The interpreter of an environment: where it is and the facts only it knows, read without pydantic
or packaging (the rollback verb starts from here: see :class:`InstalledView`).

One short probe runs the target interpreter (isolated mode) for the facts only it knows (version,
platform, site-packages paths, marker values), cached per interpreter (see :func:`probe_interpreter`).
:class:`oxwizard.env.environment.Environment` adds every installed distribution, read whole;
:class:`InstalledView` only their names, versions and folders.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple, Self

from oxwizard.core.errors import EnvironmentNotFound
from oxwizard.core.pipenv import cache_root

_PROBE = r"""
import json, os, platform, site, sys, sysconfig
paths = sysconfig.get_paths()
# Every folder the interpreter reads distributions from, in the order its sys.path has them (a
# distribution in two of them is imported from the first). The probe runs isolated (-I), which hides
# the user site: it is put first, as site.py does, when a normal start would enable it.
site_dirs = []
if sys.prefix == sys.base_prefix and not os.environ.get("PYTHONNOUSERSITE"):
    same_ids = not hasattr(os, "getuid") or (os.getuid() == os.geteuid() and os.getgid() == os.getegid())
    if same_ids and site.getusersitepackages():
        site_dirs.append(site.getusersitepackages())
known = [os.path.normcase(os.path.abspath(p)) for p in site.getsitepackages()]
on_path = [os.path.normcase(os.path.abspath(p)) for p in sys.path if p]
site_dirs += [p for p in on_path if p in known]
site_dirs += [p for p in known if p not in site_dirs]
impl = sys.implementation.name
iver = "{0.major}.{0.minor}.{0.micro}".format(sys.implementation.version)
markers = {
    "implementation_name": impl,
    "implementation_version": iver,
    "os_name": os.name,
    "platform_machine": platform.machine(),
    "platform_release": platform.release(),
    "platform_system": platform.system(),
    "platform_version": platform.version(),
    "python_full_version": platform.python_version(),
    "platform_python_implementation": platform.python_implementation(),
    "python_version": ".".join(platform.python_version_tuple()[:2]),
    "sys_platform": sys.platform,
}
print(json.dumps({
    "executable": sys.executable,
    "version": platform.python_version(),
    "implementation": platform.python_implementation(),
    "platform": sysconfig.get_platform(),
    "soabi": sysconfig.get_config_var("SOABI") or "",
    "purelib": paths["purelib"],
    "platlib": paths["platlib"],
    "stdlib": paths["stdlib"],
    "scripts": paths["scripts"],
    "prefix": sys.prefix,
    "base_prefix": sys.base_prefix,
    "site_dirs": list(dict.fromkeys(site_dirs)),
    "markers": markers,
}))
"""


class Interpreter:
    """The facts of one environment's interpreter (no distributions: see its subclasses)."""

    def __init__(self, python: Path, probe: dict[str, object]) -> None:
        self.python = python
        self._probe = probe
        self.version = str(probe["version"])
        self.implementation = str(probe["implementation"])
        self.platform = str(probe["platform"])
        self.prefix = Path(str(probe["prefix"]))
        self.purelib = Path(str(probe["purelib"]))
        self.platlib = Path(str(probe["platlib"]))
        self.stdlib = Path(str(probe["stdlib"]))
        self.scripts = Path(str(probe["scripts"]))
        self.markers: dict[str, str] = dict(probe["markers"])  # type: ignore[call-overload]
        self.is_venv = probe["prefix"] != probe["base_prefix"]

    # -- construction ---------------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | os.PathLike[str] | None = None) -> Self:
        """Open the environment at ``path`` (a venv folder or a python executable).

        Default: ``$VIRTUAL_ENV``, else ``./.venv``. Anything that is not a Python environment is
        an :class:`EnvironmentNotFound` naming the path.
        """
        python = locate_python(path)
        return cls(python, probe_interpreter(python))

    # -- facts ----------------------------------------------------------------------------------
    @property
    def probe(self) -> dict[str, object]:
        """What the probe said (``Environment(view.python, view.probe)``: the same env, read whole)."""
        return self._probe

    @property
    def site_paths(self) -> list[Path]:
        """The folders distributions are read from, in import order (the first one found wins).

        A venv: its purelib (and platlib when it differs), as pip installs into them. A system or
        base Python: every site directory the interpreter itself uses (the user site when enabled,
        then ``site.getsitepackages()`` in ``sys.path`` order: on Debian ``/usr/local/.../dist-packages``
        and ``/usr/lib/python3/dist-packages``), then purelib/platlib if they are not among them.
        """
        paths = [self.purelib]
        if self.platlib != self.purelib:
            paths.append(self.platlib)
        if self.is_venv:
            return paths
        raw = self._probe.get("site_dirs")
        dirs = [Path(str(p)) for p in raw] if isinstance(raw, list) else []
        return list(dict.fromkeys([*dirs, *paths]))

    @property
    def root(self) -> Path:
        """The folder that identifies the environment (the venv folder, or the prefix)."""
        return self.prefix


# -- the interpreter probe, cached ------------------------------------------------------------------
# The probe costs one start of the target interpreter (~40 ms); its answer only changes when the
# interpreter or the venv is replaced. It is cached in memory and on disk, keyed on the interpreter
# path, the file it resolves to (mtime, size) and the venv's pyvenv.cfg (mtime), so that a rebuilt
# venv or an upgraded Python is probed again.
_PROBE_KEYS = ("version", "implementation", "platform", "purelib", "platlib", "stdlib", "scripts", "prefix")
_PROBES: dict[str, dict[str, object]] = {}


def probe_cache_dir() -> Path:
    """The ``probe`` folder of oxwizard's cache (:func:`oxwizard.core.pipenv.cache_root`)."""
    return Path(cache_root()) / "probe"


def clear_probe_cache() -> None:
    """Forget every cached probe (in memory and on disk)."""
    _PROBES.clear()
    folder = probe_cache_dir()
    for path in folder.glob("*.json") if folder.is_dir() else []:
        path.unlink(missing_ok=True)


def _probe_key(python: Path) -> str | None:
    try:
        real = python.resolve()
        st = real.stat()
        parts = [str(python), str(real), str(st.st_mtime_ns), str(st.st_size)]
        # the user site (part of a system Python's site dirs) depends on these
        parts += [os.environ.get(k, "") for k in ("HOME", "PYTHONUSERBASE", "PYTHONNOUSERSITE")]
        for cfg in (python.parent.parent / "pyvenv.cfg", python.parent / "pyvenv.cfg"):
            if cfg.is_file():
                parts += [str(cfg), str(cfg.stat().st_mtime_ns)]
    except OSError:
        return None
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:32]


def probe_interpreter(python: Path) -> dict[str, object]:
    """The facts only the interpreter knows (version, paths, markers), from the cache if fresh."""
    key = _probe_key(python)
    if key is not None and key in _PROBES:
        return _PROBES[key]
    cached = probe_cache_dir() / f"{key}.json"
    if key is not None:
        try:
            probe = json.loads(cached.read_text(encoding="utf-8"))
            if (
                isinstance(probe, dict)
                and all(isinstance(probe.get(k), str) for k in _PROBE_KEYS)
                and isinstance(probe.get("site_dirs"), list)
            ):
                _PROBES[key] = probe
                return probe
        except (OSError, ValueError):
            pass
    from oxwizard.core import proc  # subprocess and the rest: only when the cache has no answer

    result = proc.run([str(python), "-I", "-c", _PROBE], timeout=60)
    if not result.ok:
        raise EnvironmentNotFound(f"not a working Python environment: {python}")
    try:
        probe = json.loads(result.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise EnvironmentNotFound(f"not a working Python environment: {python}") from None
    if not isinstance(probe, dict):
        raise EnvironmentNotFound(f"not a working Python environment: {python}")
    if key is not None:
        _PROBES[key] = probe
        try:
            cached.parent.mkdir(parents=True, exist_ok=True)
            tmp = cached.with_name(f".{cached.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(probe), encoding="utf-8")
            tmp.replace(cached)
        except OSError:
            pass  # a read-only home: the cache is an optimisation only
    return probe


def locate_python(path: str | os.PathLike[str] | None) -> Path:
    """Turn ``--env`` (a venv folder or an interpreter) into the interpreter path."""
    if path is None or str(path) == "":
        chosen = os.environ.get("VIRTUAL_ENV") or ".venv"
    else:
        chosen = os.fspath(path)
    candidate = Path(chosen).expanduser()
    if not candidate.is_absolute():
        candidate = Path.cwd() / candidate
    if candidate.is_dir():
        names = [candidate / rel for rel in ("bin/python", "bin/python3", "Scripts/python.exe")]
        for exe in names:
            if exe.exists():
                return exe
        for exe in names:
            if exe.is_symlink():  # a venv whose base Python was removed or moved
                gone = f"{exe} links to {os.readlink(exe)}, not found"
                raise EnvironmentNotFound(f"not a working Python environment: {gone}")
        raise EnvironmentNotFound(f"not a Python environment (no bin/python): {candidate}")
    if candidate.is_file() and os.access(candidate, os.X_OK) and "python" in candidate.name:
        return candidate
    if not candidate.exists():
        raise EnvironmentNotFound(f"environment not found: {candidate}")
    raise EnvironmentNotFound(f"not a Python environment or interpreter: {candidate}")


def fingerprint_of(implementation: str, version: str, platform: str, dists: object) -> str:
    """Hash of interpreter + platform + sorted pins. ``dists`` yields objects with name/version."""
    pins = sorted(f"{d.name}=={d.version}" for d in dists)  # type: ignore[attr-defined]
    text = "\n".join([f"{implementation} {version}", platform, *pins])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class Installed(NamedTuple):
    """One installed distribution as :class:`InstalledView` reads it: what a fingerprint and a
    rollback need (the full record is :class:`oxwizard.env.environment.Distribution`)."""

    name: str  # canonical (PEP 503 normalised)
    version: str
    metadata_dir: str  # absolute path of the .dist-info folder


class InstalledView(Interpreter):
    """The interpreter's facts and each installed distribution's name, version and folder: what the
    rollback verb needs, read without pydantic or packaging (they cost more than the rollback itself).

    Names are read as the distributions spell them and made canonical through :attr:`canonical`
    (spelling -> canonical name, e.g. a checkpoint's records), with packaging's ``canonicalize_name``
    only for a spelling it does not know. Read on first use, again after :meth:`refresh`.
    """

    def __init__(self, python: Path, probe: dict[str, object]) -> None:
        super().__init__(python, probe)
        self.canonical: dict[str, str] = {}
        self._installed: dict[str, Installed] | None = None

    @property
    def distributions(self) -> dict[str, Installed]:
        if self._installed is None:
            self._installed = read_installed(self.site_paths, self.canonical.get)
        return self._installed

    def refresh(self) -> None:
        self._installed = None

    def assume(self, installed: dict[str, Installed]) -> None:
        """Take ``installed`` as the distributions until the next :meth:`refresh` (what the caller
        learned otherwise: see :func:`oxwizard.safety.rollback.told_by_folders`)."""
        self._installed = dict(sorted(installed.items()))

    def fingerprint(self) -> str:
        """As :meth:`oxwizard.env.environment.Environment.fingerprint` (the same hash)."""
        return fingerprint_of(self.implementation, self.version, self.platform, self.distributions.values())


def read_installed(paths: list[Path], known: Callable[[str], str | None]) -> dict[str, Installed]:
    """Every distribution installed in ``paths`` (first one found wins), keyed by canonical name:
    ``known(spelling)`` where it answers, else packaging's ``canonicalize_name``.

    Found with :mod:`importlib.metadata`; of each metadata file only the headers are parsed (with the
    parser importlib.metadata uses): ``Distribution.metadata`` would parse the long description too,
    and does so again for each field asked (numpy's and pandas' are tens of kilobytes).
    """
    import importlib.metadata as md
    from email.parser import HeaderParser

    parser = HeaderParser()
    found: dict[str, Installed] = {}
    for dist in md.distributions(path=[str(p) for p in paths]):
        text = dist.read_text("METADATA") or dist.read_text("PKG-INFO") or ""
        headers = parser.parsestr(text.split("\n\n", 1)[0])
        raw_name, version = headers["Name"], headers["Version"]
        if not raw_name or version is None:
            continue
        name = known(raw_name)
        if name is None:
            from packaging.utils import canonicalize_name

            name = canonicalize_name(raw_name)
        if name not in found:
            found[name] = Installed(name, version, str(getattr(dist, "_path", "")))
    return dict(sorted(found.items()))
