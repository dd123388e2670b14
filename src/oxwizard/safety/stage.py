"""The staging clone: an isolated copy of the live environment where an upgrade is tried first.

Told which distributions the upgrade changes (``changing``: the plan's), the clone links what it
can and does not hold what will be replaced. Every file inside site-packages that belongs to no
changing distribution is a hard link to live's (a stat and a link each: a 900 MB environment clones
in a fraction of a second), which is safe because nothing of the upgrade writes into such a file:
pip and uv remove a file before they write one at its name, an uninstall moves or unlinks, Python
writes bytecode to a new file it renames into place. Of the changing distributions, the files their
RECORD lists in site-packages and their bytecode are left out
(:func:`~oxwizard.safety.checkpoint.owned_paths`): installing another version removes them first
and pip and uv skip a listed file that is not there, so a copy of them (numpy: 78 MB) would be read
and written for nothing; the clone cannot import them before that install, and nothing runs there
before it. The rest of their files (their dist-info, which the installer reads to uninstall them, and
anything else in their top-level folders, as the checkpoint stashes them) are copies. Everything
outside site-packages (scripts, ``share/``, ``include/``) is
copied too, since it is small and is where rewrites happen. Without ``changing`` every regular file
is copied. A copy is a reflink where the filesystem offers one (copy-on-write: btrfs, xfs), else an
in-kernel copy. Where links are refused (another filesystem, a link limit) the file is copied.
Symlinks are recreated (the interpreter link points at the same base Python); ``pyvenv.cfg``, the
activate scripts and console-script shebangs that name the live folder are rewritten to name the
clone, each into a new file renamed into place. The state folder ``.oxwizard`` is not copied.
Default location: ``ENV_PARENT/.ENVNAME-stage/``.

A venv's clone is not deleted when the flow is done with it: :func:`retire_stage` keeps it as a
*spare* in the environment's state folder (``ENV_ROOT/.oxwizard/spares/XXXXXX``: on the clone's
filesystem, so retiring and claiming are renames; never copied into a clone; gone with the
environment when it is deleted; at most :data:`SPARES` of them, its ``pyvenv.cfg`` removed so that
nothing takes it for an environment, a ``.gitignore`` of ``*`` so that git and the tools that honour
it never see it), and the next linking clone of the same
environment claims one (a rename) and refreshes it (:func:`~oxwizard.safety.tree_copy.refresh_tree`)
instead of building from nothing. Removing a clone of 26,000 files frees as many inodes, and on ext4
without a journal the inode allocator then skips every recently freed inode, scanning the inode table
for each ``mkdir``: a fresh clone made within minutes of another's removal takes several times as
long as a refresh, which makes almost no folder.

The trials of the culprit search clone a venv beside it too (:func:`trial_path`: ``.ENVNAME-trial-N``)
and retire each clone when the trial ends. A trial clone of an oxwizard killed meanwhile is retired
by the next command that takes the environment's lock (:func:`clear_leftover_trials`): only a folder
of that name whose marker names the environment, and never while a run holds the lock.

A system or base Python (not a venv: ``/usr`` on Linux) is never copied whole nor cloned beside its
prefix: its staging clone is a venv of the same interpreter, made in a fresh temporary folder
(``$TMPDIR/oxwizard-stage-XXXX``), whose one site-packages holds a copy of every site directory the
interpreter reads (Debian's ``dist-packages`` too), taken in import order so that a distribution
present twice is the one Python imports.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import sys
import tempfile
from collections.abc import Callable, Collection
from pathlib import Path
from typing import TYPE_CHECKING

from oxwizard.core import proc
from oxwizard.core.errors import OxwizardError, StageError, UsageError
from oxwizard.core.places import private_dir, state_path
from oxwizard.safety.tree_copy import CloneStats, Sharing, copy_file, copy_tree, refresh_tree

if TYPE_CHECKING:  # imported where used: the lock clears leftover trial clones with this module
    from oxwizard.env.environment import Environment
    from oxwizard.env.interpreter import Interpreter

__all__ = [
    "MARKER",
    "SPARES",
    "CloneStats",
    "clear_leftover_trials",
    "copy_changing",
    "create_stage",
    "default_stage_path",
    "leftover_trials",
    "remove_stage",
    "retire_stage",
    "spares",
    "trial_path",
]

MARKER = ".oxwizard-stage"
SPARES = 2  # spares kept per environment: the trials of ``upgrade --outdated`` run two clones at once
_SPARE_SAYS = "spare staging clone of {root}\n"  # the MARKER of a spare: whose raw material it is


def default_stage_path(env: Environment) -> Path:
    """Where :func:`create_stage` puts the clone: beside a venv, in a new temporary folder otherwise.

    For a system Python the folder is created here (empty, private, unique): ``create_stage``
    replaces it with the clone.
    """
    if not env.is_venv:
        return Path(tempfile.mkdtemp(prefix=f"oxwizard-stage-{env.root.name or 'root'}-"))
    return env.root.parent / f".{env.root.name.lstrip('.')}-stage"


def trial_path(env: Interpreter, number: int) -> Path:
    """Where trial ``number`` of the culprit search (``upgrade --outdated``) clones a venv: beside it,
    as the staging clone, ``ENV_PARENT/.ENVNAME-trial-N/``."""
    return env.root.parent / f".{env.root.name.lstrip('.')}-trial-{number}"


def create_stage(
    env: Environment,
    dest: Path | None = None,
    *,
    changing: Collection[str] | None = None,
    stats: CloneStats | None = None,
    own_process: bool = False,
) -> Environment:
    """Clone ``env`` to ``dest`` (replaced if it is an earlier stage) and open the clone.

    ``changing``: the distributions the upgrade changes or removes (canonical names). Given, the
    files of every other distribution in site-packages are hard links to live's and only those of
    ``changing`` are copied; None copies every file. ``stats``, when given, is filled in.
    ``own_process``: a venv's files are copied by a child process (:mod:`oxwizard.safety.tree_copy`),
    for a caller that does other work meanwhile (the flow clones beside the baseline checks)."""
    from oxwizard.env.environment import Environment

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
    try:
        if env.is_venv:
            sharing = _sharing(env, changing) if changing is not None and _unlinks_first(env) else None
            counts = stats if stats is not None else CloneStats()
            refresh = sharing is not None and _claim_spare(env, tmp)
            if own_process:
                _copy_in_child(source, tmp, sharing, counts, refresh=refresh)
            elif refresh:
                refresh_tree(source, tmp, sharing, counts)
            else:
                copy_tree(source, tmp, sharing, counts)
            if sharing is not None:
                _prune_emptied(source, tmp, sharing)
            _rewrite(tmp, str(source), str(target))
        else:
            _clone_system(env, tmp)
        (tmp / MARKER).write_text(f"staging clone of {source}\n", encoding="utf-8")
    except BaseException:  # a failed or interrupted copy leaves nothing beside the environment
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    os.replace(tmp, target)
    try:
        clone = Environment.open(target)
        clone.installer_choice = env.installer_choice  # staging installs as live will
        return clone
    except BaseException:
        remove_stage(target)  # a copy that cannot be opened is of no use, and nobody would remove it
        raise


def copy_changing(env: Environment, stage: Environment, changing: Collection[str], stats: CloneStats) -> None:
    """Turn a clone made before the plan was known (every file of site-packages a link to live's but
    those of the distributions it was made for, its targets) into the one :func:`create_stage` makes
    for ``changing``: each file of those
    distributions (the same folders and files, :func:`~oxwizard.safety.checkpoint.owned_paths`)
    that is still a link to live's is replaced by a copy, renamed into place, and those the
    installer removes first (:func:`~oxwizard.safety.checkpoint.owned_paths`) are removed."""
    sharing = _sharing(env, changing)  # what create_stage copies and leaves out for ``changing``
    for path in sorted(sharing.omit):
        rel = os.path.relpath(path, env.root)
        if rel.startswith(os.pardir):
            continue
        dst = os.path.join(stage.root, rel)
        try:
            was_link = not os.path.islink(dst) and os.stat(dst).st_ino == os.stat(path).st_ino
            os.unlink(dst)
        except FileNotFoundError:
            continue  # left out already (a target of the clone made while planning)
        stats.linked -= was_link
        stats.copied -= not was_link
        stats.omitted += 1
    _prune_emptied(env.root, stage.root, sharing)
    files = [f for f in sharing.singles if f not in sharing.omit]
    for root in sharing.own:
        for folder, _dirs, names in os.walk(root):
            files += [p for p in (os.path.join(folder, n) for n in names) if p not in sharing.omit]
    for path in files:
        rel = os.path.relpath(path, env.root)
        if rel.startswith(os.pardir):
            continue  # not in the environment's folder: not in the clone either
        dst = os.path.join(stage.root, rel)
        try:
            if os.path.islink(dst) or os.stat(dst).st_ino != os.stat(path).st_ino:
                continue  # a symlink is recreated, never shared; a copy already
        except FileNotFoundError:
            continue
        fresh = dst + ".oxwizard-copy"
        copy_file(Path(path), Path(fresh))
        os.replace(fresh, dst)
        stats.linked -= 1
        stats.copied += 1


def _prune_emptied(source: Path, clone: Path, sharing: Sharing) -> None:
    """The clone's folders that hold no file once the installer's files are left out (a package the
    upgrade removes: its folders only), removed. pip skips a listed file that is not there, so it
    never sees those folders and would leave them: empty, they import as a namespace package, and
    an upgrade that removes a package (setuptools 84: ``pkg_resources``) would pass the import smoke
    in staging and fail on live, where pip removed the package's folders with its files. Each
    top-level folder in site-packages that held a left-out file is pruned bottom up; a folder that
    still holds a file stays, as it does on live."""
    sites = [os.path.normpath(s) for s in sharing.sites]
    tops: set[str] = set()
    for path in sharing.omit:
        site = next((s for s in sites if path.startswith(s + os.sep)), None)
        if site is not None and os.sep in (rel := path[len(site) + 1 :]):
            tops.add(os.path.relpath(os.path.join(site, rel.split(os.sep)[0]), source))
    for top in tops:
        for folder, _dirs, _files in os.walk(clone / top, topdown=False):
            with contextlib.suppress(OSError):  # not empty: kept
                os.rmdir(folder)


def _copy_in_child(
    source: Path, dest: Path, sharing: Sharing | None, stats: CloneStats, *, refresh: bool = False
) -> None:
    """:func:`~oxwizard.safety.tree_copy.copy_tree` (``refresh``: ``refresh_tree``) in a child process
    of this interpreter."""
    job: dict[str, object] = {"source": str(source), "dest": str(dest), "sharing": None, "refresh": refresh}
    if sharing is not None:
        job["sharing"] = {k: sorted(getattr(sharing, k)) for k in ("sites", "own", "singles", "omit")}
    argv = [sys.executable, "-m", "oxwizard.safety.tree_copy"]
    done = proc.run(argv, stdin_data=json.dumps(job))
    try:
        counts = json.loads(done.stdout) if done.ok else None
    except ValueError:
        counts = None
    if not isinstance(counts, dict):
        last = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        raise StageError(f"staging clone {dest.with_suffix('')}: {last}")
    stats.linked += int(counts["linked"])
    stats.copied += int(counts["copied"])
    stats.reused += int(counts["reused"])
    stats.omitted += int(counts["omitted"])
    stats.refreshed = stats.refreshed or refresh


def remove_stage(path: Path) -> None:
    """Delete a staging clone (refuses a folder that is not one)."""
    path = Path(path)
    if not os.path.lexists(path):
        return
    if not (path / MARKER).is_file():
        raise UsageError(f"{path} is not an oxwizard staging clone: not removing it")
    shutil.rmtree(path)


def retire_stage(path: Path, env: Interpreter) -> None:
    """The flow is done with the staging clone at ``path`` of ``env``: keep it as a spare in the
    environment's state folder, raw material for the next clone (see the module's text), or remove it where it
    cannot be one (a system Python's clone in the temporary folder, another filesystem). Keeps at
    most :data:`SPARES` spares of ``env``: retiring another removes the oldest."""
    path = Path(path)
    if not os.path.lexists(path):
        return
    if not (path / MARKER).is_file():
        raise UsageError(f"{path} is not an oxwizard staging clone: not removing it")
    if not env.is_venv:
        shutil.rmtree(path)
        return
    spare = _spare_folder(env) / secrets.token_hex(3)
    try:
        # each a new file renamed into place, never a write into one of the clone's files
        for name, text in ((MARKER, _SPARE_SAYS.format(root=env.root)), (".gitignore", "*\n")):
            fresh = path / f".{name}.oxwizard-tmp"
            fresh.write_text(text, encoding="utf-8")
            os.replace(fresh, path / name)
        with contextlib.suppress(FileNotFoundError):
            (path / "pyvenv.cfg").unlink()  # not an environment any more: nothing may take it for one
        private_dir(spare.parent)
        os.rename(path, spare)
    except OSError:  # the environment is on another filesystem, or not writable: not kept
        shutil.rmtree(path, ignore_errors=True)
        return
    for old in spares(env)[SPARES:]:
        _discard(old)
    for left in spare.parent.glob("*.gone"):  # a discard that a crash cut short
        shutil.rmtree(left, ignore_errors=True)


def spares(env: Interpreter) -> list[Path]:
    """The spares kept of ``env``, the most recently retired first."""
    if not env.is_venv:
        return []
    folder, says = _spare_folder(env), _SPARE_SAYS.format(root=env.root)
    found: list[tuple[float, Path]] = []
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    for name in names:
        if not re.fullmatch(r"[0-9a-f]+", name):
            continue  # a spare being discarded (``….gone``)
        marker = folder / name / MARKER
        try:
            if marker.read_text(encoding="utf-8") != says:
                continue
            found.append((marker.stat().st_mtime, marker.parent))
        except (OSError, UnicodeDecodeError):
            continue
    return [p for _, p in sorted(found, key=lambda t: t[0], reverse=True)]


def _spare_folder(env: Interpreter) -> Path:
    """Where the spares of ``env`` are kept: its state folder's ``spares``."""
    return state_path(env) / "spares"


def _claim_spare(env: Environment, tmp: Path) -> bool:
    """Take a spare of ``env`` for the clone being made at ``tmp`` (a rename: atomic, so a spare is
    taken by one process at most); False when there is none to take (clone afresh)."""
    for spare in spares(env):
        try:
            os.rename(spare, tmp)
        except FileNotFoundError:
            continue  # another process took it first: the next one
        except OSError:
            return False  # another filesystem, or a folder in the way: a fresh clone
        return True
    return False


def _discard(spare: Path) -> None:
    """Remove a spare: renamed first (so no process claims it half removed), then deleted."""
    gone = spare.with_name(spare.name + ".gone")
    try:
        os.rename(spare, gone)
    except OSError:
        return  # claimed meanwhile: someone else's now
    shutil.rmtree(gone, ignore_errors=True)


def leftover_trials(env: Interpreter) -> list[Path]:
    """The trial clones of the venv ``env`` beside it (:func:`trial_path`, or the ``.partial`` folder
    one is made in) that carry oxwizard's marker naming ``env`` (a clone's, or that of a spare being
    refreshed into one), in trial order. A folder of such a name without that marker is not one (nor
    is a clone of another environment: ``venv`` and ``.venv`` in one folder share the names). The
    culprit search holds ``env``'s lock as long as its clones exist: only the next holder of the lock
    may take them for leftovers (:func:`clear_leftover_trials`)."""
    if not env.is_venv:
        return []  # a system Python's clones are made in the temporary folder
    named = re.compile(rf"\.{re.escape(env.root.name.lstrip('.'))}-trial-([0-9]+)(\.partial)?")
    says = (f"staging clone of {env.root}\n", _SPARE_SAYS.format(root=env.root))
    found: list[tuple[int, str, Path]] = []
    try:
        names = os.listdir(env.root.parent)
    except OSError:
        return []
    for name in names:
        match = named.fullmatch(name)
        if match is None:
            continue
        folder = env.root.parent / name
        try:
            if folder.is_symlink() or (folder / MARKER).read_text(encoding="utf-8") not in says:
                continue
        except (OSError, UnicodeDecodeError):
            continue
        found.append((int(match[1]), name, folder))
    return [folder for _, _, folder in sorted(found)]


def clear_leftover_trials(env: Interpreter, say: Callable[[str], None]) -> list[Path]:
    """Retire (:func:`retire_stage`) the trial clones an oxwizard that no longer runs left beside
    ``env`` (killed during its culprit search), saying so in one line; the clones retired. Only for
    the process that has just taken ``env``'s lock (:func:`oxwizard.safety.lock.env_lock`): a run
    still going holds it, so its clones are never taken, and so does this process while its own
    trials run."""
    cleared: list[Path] = []
    for folder in leftover_trials(env):
        try:
            retire_stage(folder, env)
        except (OSError, OxwizardError):
            continue  # left as it was: the next command tries again
        cleared.append(folder)
    if cleared:
        names = ", ".join(f.name for f in cleared)
        what = "was a trial clone" if len(cleared) == 1 else "were trial clones"
        say(f"note: {names} {what} of {env.root} left by an interrupted oxwizard: removed")
    return cleared


def _clone_system(env: Environment, dest: Path) -> None:
    """A venv of ``env``'s interpreter holding a copy of every distribution ``env`` imports."""
    from packaging.utils import canonicalize_name

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
                copy_tree(src, site / name)
            else:
                copy_file(src, site / name)


# pip removes a file before writing one at its name since 10.0.1 (pypa/pip#5405: a loaded shared
# object must keep its old bytes, and conda's hard links must not be written through); an older pip
# in the environment would write into a linked file: its clone is a copy of every file
_PIP_UNLINKS = "10.0.1"


def _unlinks_first(env: Environment) -> bool:
    """Does the installer that will install into the clone remove a file before replacing it?"""
    from packaging.version import InvalidVersion, Version

    if env.installer_kind() != "pip":
        return True  # uv, or oxwizard's own (recent) pip with --python
    pip = env.distributions.get("pip")
    try:
        return pip is not None and Version(pip.version) >= Version(_PIP_UNLINKS)
    except InvalidVersion:
        return False


def _sharing(env: Environment, changing: Collection[str]) -> Sharing:
    """The site-packages folders whose files may be links, what of them must be copied, and what
    is left out: the files the installer removes (:func:`~oxwizard.safety.checkpoint.owned_paths`)."""
    from oxwizard.safety.checkpoint import owned_paths

    roots, singles, replaced = owned_paths(env, sorted(set(changing)))
    return Sharing(
        sites={os.path.normpath(p) for p in env.site_paths},
        own={os.path.normpath(r) for r in roots},
        singles={os.path.normpath(s) for s in singles},
        omit={os.path.normpath(p) for p in replaced},
    )


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
