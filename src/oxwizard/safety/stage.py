"""The staging clone: an isolated copy of the live environment where an upgrade is tried first.

Told which distributions the upgrade changes (``changing``: the plan's), the clone links what it
can and copies only what will be replaced. Every file inside site-packages that belongs to no
changing distribution is a hard link to live's (a stat and a link each: a 900 MB environment clones
in a fraction of a second), which is safe because nothing of the upgrade writes into such a file:
pip and uv remove a file before they write one at its name, an uninstall moves or unlinks, Python
writes bytecode to a new file it renames into place, and the files the upgrade replaces, the files
of the changing distributions (their RECORD and their whole top-level folders, as the checkpoint
stashes them), are copies. Everything outside site-packages (scripts, ``share/``, ``include/``) is
copied too, since it is small and is where rewrites happen. Without ``changing`` every regular file
is copied. A copy is a reflink where the filesystem offers one (copy-on-write: btrfs, xfs), else an
in-kernel copy. Where links are refused (another filesystem, a link limit) the file is copied.
Symlinks are recreated (the interpreter link points at the same base Python); ``pyvenv.cfg``, the
activate scripts and console-script shebangs that name the live folder are rewritten to name the
clone, each into a new file renamed into place. The state folder ``.oxwizard`` is not copied.
Default location: ``ENV_PARENT/.ENVNAME-stage/``.

A system or base Python (not a venv: ``/usr`` on Linux) is never copied whole nor cloned beside its
prefix: its staging clone is a venv of the same interpreter, made in a fresh temporary folder
(``$TMPDIR/oxwizard-stage-XXXX``), whose one site-packages holds a copy of every site directory the
interpreter reads (Debian's ``dist-packages`` too), taken in import order so that a distribution
present twice is the one Python imports.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import shutil
import tempfile
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from oxwizard.core.errors import UsageError
from oxwizard.core.places import STATE_NAME
from oxwizard.env.environment import Environment
from oxwizard.safety.checkpoint import owned_paths

MARKER = ".oxwizard-stage"
_FICLONE = 0x40049409  # Linux ioctl: share the blocks copy-on-write (btrfs, xfs, ...)
_reflink_ok = True
_LINK_REFUSED = (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.EACCES, errno.ENOTSUP, errno.EOPNOTSUPP)


@dataclass
class CloneStats:
    """How many files a clone linked and copied (the flow records them with the stage's evidence)."""

    linked: int = 0
    copied: int = 0


@dataclass
class _Sharing:
    """Which files of a venv may be hard links: those in ``sites`` outside ``own`` and ``singles``."""

    sites: set[str] = field(default_factory=set)
    own: set[str] = field(default_factory=set)  # folders copied whole (a changing distribution's)
    singles: set[str] = field(default_factory=set)  # single files copied (modules, scripts, data)


def default_stage_path(env: Environment) -> Path:
    """Where :func:`create_stage` puts the clone: beside a venv, in a new temporary folder otherwise.

    For a system Python the folder is created here (empty, private, unique): ``create_stage``
    replaces it with the clone.
    """
    if not env.is_venv:
        return Path(tempfile.mkdtemp(prefix=f"oxwizard-stage-{env.root.name or 'root'}-"))
    return env.root.parent / f".{env.root.name.lstrip('.')}-stage"


def create_stage(
    env: Environment,
    dest: Path | None = None,
    *,
    changing: Collection[str] | None = None,
    stats: CloneStats | None = None,
) -> Environment:
    """Clone ``env`` to ``dest`` (replaced if it is an earlier stage) and open the clone.

    ``changing``: the distributions the upgrade changes or removes (canonical names). Given, the
    files of every other distribution in site-packages are hard links to live's and only those of
    ``changing`` are copied; None copies every file. ``stats``, when given, is filled in."""
    source = env.root
    target = Path(os.path.abspath(dest if dest is not None else default_stage_path(env)))
    if target == source or target.is_relative_to(source) or source.is_relative_to(target):
        raise UsageError(f"the staging folder {target} must be outside the environment {source}")
    if target.is_dir() and not target.is_symlink() and not any(target.iterdir()):
        target.rmdir()  # an empty folder (the temporary one reserved for a system Python's clone)
    if os.path.lexists(target):
        remove_stage(target)
    tmp = target.with_name(target.name + ".partial")
    if os.path.lexists(tmp):
        shutil.rmtree(tmp)
    if env.is_venv:
        sharing = _sharing(env, changing) if changing is not None and _unlinks_first(env) else None
        _copy_tree(source, tmp, sharing, stats if stats is not None else CloneStats())
        _rewrite(tmp, str(source), str(target))
    else:
        _clone_system(env, tmp)
    (tmp / MARKER).write_text(f"staging clone of {source}\n", encoding="utf-8")
    os.replace(tmp, target)
    try:
        clone = Environment.open(target)
        clone.installer_choice = env.installer_choice  # staging installs as live will
        return clone
    except BaseException:
        remove_stage(target)  # a copy that cannot be opened is of no use, and nobody would remove it
        raise


def remove_stage(path: Path) -> None:
    """Delete a staging clone (refuses a folder that is not one)."""
    path = Path(path)
    if not os.path.lexists(path):
        return
    if not (path / MARKER).is_file():
        raise UsageError(f"{path} is not an oxwizard staging clone: not removing it")
    shutil.rmtree(path)


def _clone_system(env: Environment, dest: Path) -> None:
    """A venv of ``env``'s interpreter holding a copy of every distribution ``env`` imports."""
    real = Path(os.path.realpath(env.python))
    major, minor = env.python_version_tuple
    dest.mkdir(mode=0o700)
    (dest / "bin").mkdir()
    for name in ("python", "python3", f"python{major}.{minor}"):
        os.symlink(real, dest / "bin" / name)
    (dest / "pyvenv.cfg").write_text(
        f"home = {real.parent}\ninclude-system-site-packages = false\nversion = {env.version}\n"
        f"executable = {real}\n",
        encoding="utf-8",
    )
    site = dest / "lib" / f"python{major}.{minor}" / "site-packages"
    site.mkdir(parents=True)
    taken: set[str] = set()  # top-level names already copied: the first site dir on sys.path wins
    shadowed: set[str] = set()  # distributions already copied (their metadata folder, any version)
    for folder in env.site_paths:
        try:
            names = sorted(os.listdir(folder))
        except OSError:
            continue  # a site dir that does not exist (yet)
        for name in names:
            meta = name.endswith((".dist-info", ".egg-info"))
            key = canonicalize_name(name.rsplit(".", 1)[0].split("-")[0]) if meta else ""
            if name in taken or name == "__pycache__" or (meta and key in shadowed):
                continue
            taken.add(name)
            if meta:
                shadowed.add(key)
            src = folder / name
            if src.is_symlink():
                os.symlink(os.readlink(src), site / name)
            elif src.is_dir():
                _copy_tree(src, site / name)
            else:
                _copy_file(src, site / name)


# pip removes a file before writing one at its name since 10.0.1 (pypa/pip#5405: a loaded shared
# object must keep its old bytes, and conda's hard links must not be written through); an older pip
# in the environment would write into a linked file: its clone is a copy of every file
_PIP_UNLINKS = Version("10.0.1")


def _unlinks_first(env: Environment) -> bool:
    """Does the installer that will install into the clone remove a file before replacing it?"""
    if env.installer_kind() != "pip":
        return True  # uv, or oxwizard's own (recent) pip with --python
    pip = env.distributions.get("pip")
    try:
        return pip is not None and Version(pip.version) >= _PIP_UNLINKS
    except InvalidVersion:
        return False


def _sharing(env: Environment, changing: Collection[str]) -> _Sharing:
    """The site-packages folders whose files may be links, and what of them must be copied."""
    roots, singles = owned_paths(env, sorted(set(changing)))
    return _Sharing(
        sites={os.path.normpath(p) for p in env.site_paths},
        own={os.path.normpath(r) for r in roots},
        singles={os.path.normpath(s) for s in singles},
    )


def _copy_tree(
    source: Path, dest: Path, sharing: _Sharing | None = None, stats: CloneStats | None = None
) -> None:
    """Copy the folder ``source`` to ``dest``; with ``sharing``, link the files it allows.

    One ``scandir`` per folder: whether an entry is a symlink, a folder or a file comes with the
    listing, so a linked file costs one ``link()`` and nothing else (26,000 files: a third less)."""
    dest.mkdir(mode=source.stat().st_mode & 0o7777)
    stats = stats if stats is not None else CloneStats()
    src_root = str(source)
    # (folder, its copy, may its files be links)
    todo = [(src_root, str(dest), sharing is not None and src_root in sharing.sites)]
    while todo:
        folder, out, link_here = todo.pop()
        try:
            entries = list(os.scandir(folder))
        except FileNotFoundError:  # gone since it was listed (see below)
            continue
        for entry in entries:
            src, dst = entry.path, os.path.join(out, entry.name)
            try:
                if entry.is_symlink():
                    os.symlink(os.readlink(src), dst)
                elif entry.is_dir(follow_symlinks=False):
                    if folder == src_root and entry.name == STATE_NAME:
                        continue
                    os.mkdir(dst, mode=entry.stat(follow_symlinks=False).st_mode & 0o7777)
                    inherit = link_here or (sharing is not None and src in sharing.sites)
                    todo.append((src, dst, inherit and sharing is not None and src not in sharing.own))
                elif link_here and sharing is not None and src not in sharing.singles and _link(src, dst):
                    stats.linked += 1
                else:
                    _copy_file(Path(src), Path(dst))
                    stats.copied += 1
            except FileNotFoundError:
                # gone since it was listed: the flow clones live while the baseline checks run on it,
                # and Python writes bytecode to a temporary file it renames into place
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(dst)


def _link(src: str, dst: str) -> bool:
    """Hard-link ``src`` at ``dst``; False where the filesystem refuses (the caller copies)."""
    try:
        os.link(src, dst, follow_symlinks=False)
    except OSError as exc:
        if exc.errno not in _LINK_REFUSED:
            raise
        return False
    return True


def _copy_file(src: Path, dst: Path) -> None:
    global _reflink_ok
    if _reflink_ok:
        try:
            with open(src, "rb") as fin, open(dst, "wb") as fout:
                fcntl.ioctl(fout.fileno(), _FICLONE, fin.fileno())
            shutil.copystat(src, dst)
            return
        except OSError as exc:
            if exc.errno not in (errno.EOPNOTSUPP, errno.EXDEV, errno.EINVAL, errno.ENOTTY, errno.EPERM):
                raise
            _reflink_ok = False
    shutil.copy2(src, dst)


def _rewrite(root: Path, old: str, new: str) -> None:
    """Point pyvenv.cfg, activate scripts and shebangs at the clone instead of the live folder."""
    candidates = [root / "pyvenv.cfg"]
    for scripts in ("bin", "Scripts"):
        folder = root / scripts
        if folder.is_dir():
            candidates += [p for p in folder.iterdir() if p.is_file() and not p.is_symlink()]
    old_b, new_b = old.encode(), new.encode()
    for path in candidates:
        try:
            if path.stat().st_size > 1_000_000:
                continue
            data = path.read_bytes()
        except OSError:
            continue
        if old_b not in data or b"\0" in data[:4096]:
            continue
        mode = path.stat().st_mode
        # a new file renamed into place: never a write into a file the clone may share with live
        fresh = path.with_name(f".{path.name}.oxwizard-tmp")
        fresh.write_bytes(_replace_paths(data, old_b, new_b))
        os.chmod(fresh, mode & 0o7777)
        os.replace(fresh, path)


def _replace_paths(data: bytes, old: bytes, new: bytes) -> bytes:
    """Replace ``old`` only where a whole path segment ends (``/venv`` must not hit ``/venv2``)."""
    out = bytearray()
    i = 0
    while True:
        j = data.find(old, i)
        if j < 0:
            out += data[i:]
            return bytes(out)
        end = j + len(old)
        nxt = data[end : end + 1]
        out += data[i:j]
        out += new if nxt in (b"", b"/", b"\n", b"'", b'"', b" ", b"\r", b"\\", b":") else old
        i = end
