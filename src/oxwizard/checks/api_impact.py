"""API impact, before anything is installed: what the new versions remove, change or deprecate, and
who uses those names — the project's own code and the other installed distributions, with file:line.

For every distribution the plan upgrades (or downgrades), the public API of the installed version
(its files in the environment, the top-level modules named by its RECORD) is compared with the new
version's, read from its wheel unpacked in a cache folder — nothing of the new version is imported
or run. The comparison is griffe's (:func:`griffe.find_breaking_changes`, static: ``allow_inspection``
is off); the deprecations are found in the source (``@deprecated`` decorators, and functions whose
body calls ``warnings.warn(..., DeprecationWarning)`` or a subclass of it). The uses are found with
:mod:`ast` (:mod:`oxwizard.checks.uses`): imports (aliases, inside ``try`` too), attribute access
through imported names and the values the code keeps, ``getattr`` and ``importlib.import_module``
with literal names, joined with the changes where the package defines what they name
(:mod:`oxwizard.checks.api_names`). What cannot be read statically
(computed names, star imports, compiled modules) is listed in ``not_checked``, not hidden.

The new version's unpacked sources are cached per (distribution, version, sha256) in
``$OXWIZARD_CACHE_DIR/api`` (else ``$XDG_CACHE_HOME/oxwizard/api``, else ``~/.cache/oxwizard/api``).
"""

from __future__ import annotations

import ast
import contextlib
import gc
import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import textwrap
import threading
import zipfile
from collections.abc import Callable, Collection, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

from oxwizard import __version__
from oxwizard.checks.api_names import UNPARSABLE, Names, Shared, dotted, module_of, package_of
from oxwizard.checks.uses import Call, Classes, Use, derived_classes, find_uses
from oxwizard.core import proc
from oxwizard.core.pipenv import cache_root
from oxwizard.core.places import mark_used, store_kept
from oxwizard.core.redact import redact_text
from oxwizard.env.api_report import ApiChange, ApiChangeKind, ApiImpact, ApiUse, ParameterChange
from oxwizard.env.distributions import folder_stamp
from oxwizard.env.environment import Environment
from oxwizard.env.plan import Change, Plan, requirers
from oxwizard.env.specs import IndexOptions
from oxwizard.env.wheel_fetch import fetch_wheels, fetchable_url
from oxwizard.safety.records import record_entries

if TYPE_CHECKING:
    import griffe  # imported where a comparison is made: a cached one needs none of it (80 ms)

_SOURCE_SUFFIXES = (".py", ".pyi")
_COMPILED_SUFFIXES = (".so", ".pyd")
_SKIP_DIRS = {"__pycache__", "node_modules", "site-packages", "build", "dist"}
_MAX_NOT_CHECKED_SAMPLES = 3


def api_cache_dir() -> Path:
    """The ``api`` folder of oxwizard's cache (:func:`oxwizard.core.pipenv.cache_root`)."""
    return Path(cache_root()) / "api"


# -- the tree of one version ---------------------------------------------------------------------------
@dataclass
class Tree:
    """One version's files: where its modules are, which top-level ones are its own, what is compiled."""

    root: Path  # the folder the top-level modules are in (site-packages, or the unpacked wheel)
    tops: list[str]  # its top-level importable modules
    compiled: list[str] = field(default_factory=list)  # dotted modules with no .py/.pyi beside them
    files: list[str] = field(default_factory=list)  # its .py/.pyi files, relative to root
    hashes: dict[str, str] = field(default_factory=dict)  # file -> hex sha256, where known


def tree_from_record(root: Path, record: Iterable[tuple[str, str | None]]) -> Tree:
    """The modules a RECORD lists, (path, hex sha256 or None) (paths relative to ``root``; ``../``
    ones, scripts, are not modules)."""
    files: list[str] = []
    compiled: list[str] = []
    tops: dict[str, None] = {}
    hashes: dict[str, str] = {}
    for path, digest in record:
        if digest:
            hashes[path] = digest
        parts = PurePosixPath(path).parts
        if not parts or parts[0] == ".." or parts[0].endswith((".dist-info", ".data")):
            continue
        if "__pycache__" in parts:
            continue
        name = parts[-1]
        if name.endswith(_SOURCE_SUFFIXES):
            files.append(path)
        elif name.endswith(_COMPILED_SUFFIXES):
            compiled.append(path)
        else:
            continue
    sources = {module_of(f) for f in files}
    for path in [*files, *compiled]:
        module = module_of(path).split(".")
        # a namespace package (no __init__ of its own: google, zope) is shared with other
        # distributions: this one's modules are those one level down (google.protobuf)
        top = module[:2] if module[0] not in sources and len(module) > 1 else module[:1]
        if all(part.isidentifier() for part in top):
            tops[".".join(top)] = None
    return Tree(
        root=root,
        tops=sorted(tops),
        compiled=sorted(m for m in {module_of(c) for c in compiled} if m not in sources),
        files=sorted(files),
        hashes={f: hashes[f] for f in files if f in hashes},
    )


def installed_tree(env: Environment, name: str) -> Tree | None:
    """The installed distribution's files, from its RECORD (None when it has none)."""
    dist = env.distributions.get(canonicalize_name(name))
    if dist is None or not dist.metadata_dir:
        return None
    info = Path(dist.metadata_dir)
    rows = record_entries(info)
    return tree_from_record(info.parent, rows) if rows else None


# -- the new version: its wheel, unpacked once ---------------------------------------------------------
def new_trees(
    env: Environment, changes: list[Change], index: IndexOptions, cache: Path, not_checked: list[str]
) -> dict[str, Tree]:
    """Each change's new version unpacked (sources only) in ``cache``, downloaded when not there yet.

    A wheel already on disk (find-links) is read where it is; one the plan names by URL is fetched
    in-process (:mod:`oxwizard.env.wheel_fetch`, all at once); what is left, one
    ``pip download --no-deps --only-binary :all:`` fetches."""
    out: dict[str, Tree] = {}
    missing: list[Change] = []
    remote: list[tuple[Change, str]] = []
    for c in changes:
        tree = _cached_tree(cache, c)
        if tree is not None:
            out[c.name] = tree
            continue
        local = _local_wheel(c)
        url = fetchable_url(index, c.source) if local is None else None
        if local is not None:
            _unpack_into(out, local, cache, c, not_checked)
        elif url is not None:
            remote.append((c, url))
        else:
            missing.append(c)
    if remote:
        with tempfile.TemporaryDirectory(prefix="oxwizard-api-") as tmp:
            fetched = fetch_wheels(index, [(url, c.sha256) for c, url in remote], Path(tmp))
            for (c, _), got in zip(remote, fetched, strict=True):
                if got.path is None and got.final:
                    not_checked.append(f"{c.name} {c.to_version}: no wheel to read ({got.error})")
                elif got.path is None:
                    missing.append(c)  # pip may know more (a keyring, its own configuration)
                else:
                    _unpack_into(out, got.path, cache, c, not_checked)
    if missing:
        with tempfile.TemporaryDirectory(prefix="oxwizard-api-") as tmp:
            wheels = _download(env, missing, index, Path(tmp), not_checked)
            for c in missing:
                wheel = wheels.get(c.name)
                if wheel is not None:
                    _unpack_into(out, wheel, cache, c, not_checked)
    return out


def _unpack_into(
    out: dict[str, Tree], wheel: Path | IO[bytes], cache: Path, c: Change, not_checked: list[str]
) -> None:
    try:
        out[c.name] = _unpack(wheel, cache, c)
    except (OSError, zipfile.BadZipFile) as exc:  # a cache folder not writable, a broken wheel
        not_checked.append(f"{c.name} {c.to_version}: its wheel could not be read ({exc})")


def _cache_key(c: Change) -> str:
    return f"{c.name}-{c.to_version}-{(c.sha256 or 'nohash')[:16]}"


def _cached_tree(cache: Path, c: Change) -> Tree | None:
    folder = cache / _cache_key(c)
    try:
        meta = json.loads((folder / "tree.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return Tree(
        root=folder / "src",
        tops=meta["tops"],
        compiled=meta["compiled"],
        files=meta["files"],
        hashes=meta.get("hashes", {}),
    )


def _local_wheel(c: Change) -> Path | None:
    parts = urlsplit(c.source)
    if parts.scheme != "file" or not parts.path.endswith(".whl"):
        return None
    path = Path(unquote(parts.path))
    return path if path.is_file() else None


def _download(
    env: Environment, changes: list[Change], index: IndexOptions, dest: Path, not_checked: list[str]
) -> dict[str, Path]:
    """The wheels of ``changes`` by name, downloaded into ``dest``; one pip for all (one each on failure)."""

    def run(batch: list[Change]) -> str | None:
        argv = [
            *env.pip_argv(),
            "download",
            "--no-deps",
            "--only-binary",
            ":all:",
            "--dest",
            str(dest),
            *index.pip_args(),
            "--",
            *[f"{c.name}=={c.to_version}" for c in batch],
        ]
        result = proc.run(argv, env=proc.pip_environment(), timeout=600)
        if result.ok:
            return None
        errors = [ln for ln in result.stderr.splitlines() if ln.startswith("ERROR:")]
        return redact_text((errors or ["pip download failed"])[0].removeprefix("ERROR: "))

    if run(changes) is not None:
        for c in changes:
            why = run([c])
            if why is not None:
                not_checked.append(f"{c.name} {c.to_version}: no wheel to read ({why})")
    found: dict[str, Path] = {}
    for wheel in dest.glob("*.whl"):
        try:
            name, version, _, _ = parse_wheel_filename(wheel.name)
        except InvalidWheelFilename:
            continue
        found[canonicalize_name(name)] = wheel
    return found


def _unpack(wheel: Path | IO[bytes], cache: Path, c: Change) -> Tree:
    """The wheel's sources and RECORD, unpacked into the cache (atomically: a rename); the test
    suites it ships are not written, only hashed."""
    folder = cache / _cache_key(c)
    cache.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".unpack-", dir=cache))
    try:
        rows: list[tuple[str, str | None]] = []
        with zipfile.ZipFile(wheel) as archive:
            for member in archive.namelist():
                parts = PurePosixPath(member).parts
                if not member.endswith(_SOURCE_SUFFIXES) or ".." in parts or member.startswith("/"):
                    rows.append((member, None))
                    continue
                data = archive.read(member)
                rows.append((member, hashlib.sha256(data).hexdigest()))
                if _is_tests(member):
                    continue  # never read (not its API): its hash is enough (pandas: 1100 files of 1450)
                target = work / "src" / member
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
        (work / "src").mkdir(exist_ok=True)
        tree = tree_from_record(work / "src", rows)
        meta = {"tops": tree.tops, "compiled": tree.compiled, "files": tree.files, "hashes": tree.hashes}
        (work / "tree.json").write_text(json.dumps(meta), encoding="utf-8")
        try:
            work.rename(folder)
        except OSError:  # another run cached it meanwhile
            shutil.rmtree(work, ignore_errors=True)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    tree.root = folder / "src"
    return tree


# -- the comparison, cached per (distribution, installed version, new version) ---------------------------
_DIFF_FORMAT = 12  # bump when what compare() reports changes (so does a new oxwizard version)


def _diff_path(cache: Path, env: Environment, c: Change) -> Path | None:
    dist = env.distributions.get(c.name)
    if dist is None or dist.editable or not dist.metadata_dir:
        return None  # an editable install's files are the user's: never cached
    try:
        record = hashlib.sha256((Path(dist.metadata_dir) / "RECORD").read_bytes()).hexdigest()[:16]
    except OSError:
        return None
    new = _cache_key(c).removeprefix(c.name + "-")
    key = f"{c.name}-{c.from_version}-{record}-{new}-{__version__}.{_DIFF_FORMAT}"
    return cache / "diff" / f"{key}.json"


def _cached_diff(cache: Path, env: Environment, c: Change) -> tuple[list[ApiChange], list[str]] | None:
    path = _diff_path(cache, env, c)
    if path is None:
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return [ApiChange.model_validate(x) for x in data["changes"]], [str(x) for x in data["limits"]]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _save_diff(cache: Path, env: Environment, c: Change, changes: list[ApiChange], limits: list[str]) -> None:
    path = _diff_path(cache, env, c)
    if path is None:
        return
    data = {"changes": [x.model_dump(mode="json") for x in changes], "limits": limits}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data), encoding="utf-8")
        tmp.replace(path)
    except OSError:  # a cache that cannot be written costs time next time, nothing else
        pass


# -- the comparison ------------------------------------------------------------------------------------
def _load(tree: Tree, only: set[str] | None = None) -> dict[str, griffe.Object | griffe.Alias]:
    """The distribution's top-level modules as griffe reads them, from a view of its own files only
    (not another distribution's modules in a shared namespace package, not its test suites)."""
    import griffe

    logging.getLogger("griffe").setLevel(logging.CRITICAL)  # its warnings are about docstrings
    loaded: dict[str, griffe.Object | griffe.Alias] = {}
    view = Path(tempfile.mkdtemp(prefix="oxwizard-api-view-"))
    hard = True  # a hard link where the filesystem allows (a symlink is a new inode: 10x slower)
    try:
        for rel in tree.files:
            if _is_tests(rel) or (only is not None and rel not in only):
                continue
            link = view / rel
            link.parent.mkdir(parents=True, exist_ok=True)
            if hard:
                try:
                    os.link(tree.root / rel, link)
                    continue
                except FileNotFoundError:
                    continue  # in the RECORD, not on disk: griffe would not read it either
                except OSError:  # another filesystem (a tmpfs /tmp), a link limit
                    hard = False
            link.symlink_to(tree.root / rel)
        for top in tree.tops:
            if top in tree.compiled:
                continue
            try:
                loaded[top] = griffe.load(top, search_paths=[view], allow_inspection=False, store_source=True)
            except (ImportError, griffe.GriffeError, OSError, *UNPARSABLE):
                continue
    finally:  # griffe has read every file by now: the sources it keeps are in memory
        _remove_meanwhile(view)
    return loaded


def _remove_meanwhile(folder: Path) -> None:
    """``folder`` removed in another thread (unlinking a large view is slow; the process waits for it
    before it exits)."""
    threading.Thread(target=shutil.rmtree, args=(folder,), kwargs={"ignore_errors": True}).start()


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while griffe builds its trees: they only grow, and each full
    collection walks all of them again (half the time of a large library's read)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _changed_files(old: Tree, new: Tree) -> set[str]:
    """The source files to read: those that differ between the versions (or are in one only), and
    the packages' ``__init__`` above them. A file with the same sha256 in both has the same API."""
    same = {f for f in old.files if f in old.hashes and old.hashes[f] == new.hashes.get(f)}
    out = {f for f in [*old.files, *new.files] if f not in same}
    for f in list(out):
        parts = PurePosixPath(f).parts
        for n in range(1, len(parts)):
            out.update("/".join([*parts[:n], f"__init__{suffix}"]) for suffix in _SOURCE_SUFFIXES)
    return out


def _is_tests(path: str) -> bool:
    """A test suite shipped inside a package (``pandas/tests/…``, ``conftest.py``): not its API."""
    parts = PurePosixPath(path).parts
    return parts[-1] == "conftest.py" or any(p in ("tests", "test") for p in parts[:-1])


_SIGNATURE = {  # griffe's breakage -> what happened to the parameter (its text: ParameterChange.text)
    "PARAMETER_MOVED": "moved",
    "PARAMETER_REMOVED": "removed",
    "PARAMETER_CHANGED_KIND": "kind",
    "PARAMETER_CHANGED_REQUIRED": "required",
    "PARAMETER_ADDED_REQUIRED": "added",
}


def compare(distribution: str, version: str, old: Tree, new: Tree) -> tuple[list[ApiChange], list[str]]:
    """The public names ``new`` removes, changes incompatibly or newly deprecates, and what was not read.

    Only the files that differ are read (see :func:`_changed_files`)."""
    import griffe

    changes: list[ApiChange] = []
    limits: list[str] = []
    if old.compiled or new.compiled:
        mods = sorted(set(old.compiled) | set(new.compiled))
        limits.append(f"compiled modules of {distribution} ({_sample(mods)}): their API is not read")
    changed = _changed_files(old, new)
    with _gc_paused():
        before, after = _load(old, changed), _load(new, changed)
    read = {module_of(f) for f in changed & set(old.files) if not _is_tests(f)}  # what griffe had to read
    for top in old.tops:
        if top not in before and any(m == top or m.startswith(f"{top}.") for m in read):
            limits.append(f"{distribution} (installed) {top}: not read")
    for top, old_mod in before.items():
        new_mod = after.get(top)
        if new_mod is None:
            if top in new.tops:  # there, but griffe could not read it
                limits.append(f"{distribution} {version} {top}: not read")
            elif top not in new.compiled:
                changes.append(ApiChange(distribution=distribution, version=version, kind="removed",
                                         path=top, what="module"))  # fmt: skip
            continue
        try:
            breakages = list(griffe.find_breaking_changes(old_mod, new_mod))
        except Exception as exc:  # noqa: BLE001 - griffe on code it cannot follow: said, not hidden
            limits.append(f"{distribution} {top}: not compared ({type(exc).__name__})")
            continue
        objects = list(_walk(new_mod))
        moved = _index(objects)
        modules = [o for o, _ in objects if o.is_module]
        by_path = {m.path: m for m in modules}
        on_instances: dict[str, frozenset[str]] = {}  # a class's attributes set on self, by its path
        for b in breakages:
            change = _from_breakage(distribution, version, b, moved, modules, by_path, old_mod, on_instances)
            if change is not None and change.kind == "removed":
                change = _served_by_getattr(change, by_path)
            if change is not None:
                changes.append(change)
        new_dep = {d.key: d for d in _deprecated(objects, limits)}
        only = {path for path, _ in new_dep}
        old_dep = {d.key for d in _deprecated(list(_walk(old_mod)), [], only=only)}
        for key, d in new_dep.items():  # (a parameter of a name deprecated whole: the name says it all)
            whole = (key[0], "")
            if key not in old_dep and whole not in old_dep and (key == whole or whole not in new_dep):
                changes.append(ApiChange(distribution=distribution, version=version, kind="deprecated",
                                         path=d.path, what=d.what, detail=d.detail, receiver=d.receiver,
                                         parameters=[d.parameter] if d.parameter else []))  # fmt: skip
    merged: dict[tuple[str, str], ApiChange] = {}  # a signature's several changes in one detail
    for c in changes:
        first = merged.setdefault((c.kind, c.path), c)
        if first is not c and c.detail and c.detail not in first.detail and first.kind != "removed":
            first.detail = f"{first.detail}; {c.detail}" if first.detail else c.detail
            first.parameters += c.parameters
    return list(merged.values()), limits


def _from_breakage(
    distribution: str,
    version: str,
    b: griffe.Breakage,
    moved: dict[str, list[tuple[str, str]]],
    modules: list[griffe.Object],
    by_path: dict[str, griffe.Object],
    old_top: griffe.Object | griffe.Alias,
    on_instances: dict[str, frozenset[str]],
) -> ApiChange | None:
    import griffe

    kind = b.kind.name
    obj = b.obj
    what = _what(obj)
    if kind == "OBJECT_REMOVED":
        if what == "attribute" and _set_on_instances(obj, by_path, on_instances):
            return None
        homes = [p for p, k in moved.get(obj.name, []) if k == what and p != obj.path]
        if not homes and isinstance(obj, griffe.Object) and obj.is_module:
            homes = _module_homes(obj, modules)
        return ApiChange(distribution=distribution, version=version, kind="removed", path=obj.path,
                         what=what, moved_to=homes[0] if len(homes) == 1 else None)  # fmt: skip
    if kind in _SIGNATURE:
        parameter = _parameter_change(_SIGNATURE[kind], b)
        path = obj.path
        if obj.name == "__init__" and obj.parent is not None and obj.parent.is_class:
            path, what = obj.parent.path, "class"  # what ``Cls(...)`` calls
        return ApiChange(distribution=distribution, version=version, kind="signature", path=path,
                         what=what, detail=parameter.text(), parameters=[parameter],
                         receiver=_receiver(b.old_value, b.new_value))  # fmt: skip
    if kind == "OBJECT_CHANGED_KIND":  # ``obj`` is the new object: named here by its old kind
        was, now = (str(getattr(v, "value", v)) for v in (b.old_value, b.new_value))
        if now == "attribute" and _kind_of(_assigned(obj, by_path)) == was:
            return None  # ``bool_ = bool`` (numpy 2): the same kind of object, under the old name too
        if was == "attribute" and _kind_of(_assigned(_member(old_top, obj.path), {})) == now:
            return None  # ``rec = records`` (numpy 1.26's stub) named the module ``numpy.rec`` now is
        return ApiChange(distribution=distribution, version=version, kind="changed", path=obj.path,
                         what=was, detail=f"now {'an' if now[0] in 'aeiou' else 'a'} {now}")  # fmt: skip
    if kind == "CLASS_REMOVED_BASE":
        kept = {str(base) for base in b.new_value} | _IMPLICIT_BASES  # `(object)` is what `:` means
        plain = {_unsubscripted(base) for base in kept}  # ``ParamType[T]`` is ``ParamType`` for callers
        gone = [
            str(x)
            for x in b.old_value
            if str(x) not in kept and _unsubscripted(x) not in plain and not _unseen_by_callers(x, obj)
        ]
        if not gone:
            return None
        detail = f"base class{'es' if len(gone) > 1 else ''} {', '.join(gone)} removed"
        return ApiChange(distribution=distribution, version=version, kind="changed", path=obj.path,
                         what=what, detail=detail)  # fmt: skip
    return None  # defaults, return and attribute types or values: not incompatible for a caller


def _parameter_change(change: str, b: griffe.Breakage) -> ParameterChange:
    out = ParameterChange(change=change, name=getattr(b.old_value, "name", None) or b.new_value.name)
    for side, value in (("old", b.old_value), ("new", b.new_value)):
        function = getattr(value, "function", None)
        if function is not None:
            index = next((n for n, p in enumerate(function.parameters) if p is value), None)
            setattr(out, f"{side}_index", index)
            setattr(out, f"{side}_kind", _kind_name(value))
    if out.change == "removed" and out.old_kind in ("variadic positional", "variadic keyword"):
        kinds = [(p.name, _kind_name(p)) for p in getattr(b.obj, "parameters", [])]
        if all(k != "variadic positional" for _, k in kinds):
            out.positional = sum(k in _POSITIONAL for _, k in kinds)
        if all(k != "variadic keyword" for _, k in kinds):  # (one renamed takes any keyword still)
            out.keywords = [n for n, k in kinds if k in ("positional or keyword", "keyword-only")]
    return out


def _kind_name(parameter: griffe.Parameter) -> str:
    """griffe's kind of a parameter, as its value says it: ``positional or keyword``."""
    return str(getattr(parameter.kind, "value", parameter.kind))


def _receiver(*params: object) -> str:
    """``self``/``cls`` when the changed function is a method taking one (what an instance's call
    does not pass)."""
    for param in params:
        function = getattr(param, "function", None)
        if function is None or not function.parameters or function.parent is None:
            continue
        first = function.parameters[0].name
        if first in ("self", "cls") and function.parent.is_class:
            return str(first)
    return ""


def _unsubscripted(base: object) -> str:
    return str(base).split("[")[0]


def _set_on_instances(
    obj: griffe.Object | griffe.Alias, by_path: dict[str, griffe.Object], known: dict[str, frozenset[str]]
) -> bool:
    """Whether the new version's class (or a base it has in the files read) still sets the attribute
    on its instances in a method griffe does not read attributes from (IPython 8's
    ``InteractiveShell.user_ns``, set in ``init_create_namespaces``): not removed. ``known``: what
    each class sets, read once per class (SQLAlchemy 2.0 removes 948 attributes)."""
    parent = obj.parent
    if parent is None or not getattr(parent, "is_class", False):
        return False
    if parent.path not in known:
        top = by_path.get(parent.path.split(".")[0])
        new_class = _member(top, parent.path) if top is not None else None
        classes = [new_class] if new_class is not None else []
        with contextlib.suppress(Exception):  # a base griffe cannot follow: the class itself is read
            classes += list(new_class.mro()) if new_class is not None else []  # type: ignore[attr-defined]
        sources = (getattr(c, "source", "") or "" for c in classes)
        known[parent.path] = frozenset(name for text in sources for name in _SET_ON_SELF.findall(text))
    return obj.name in known[parent.path]


_SET_ON_SELF = re.compile(r"\bself\.(\w+)\s*(?::[^=\n]*)?=(?!=)")  # ``self.x = …``, ``self.x: T = …``


_IMPLICIT_BASES = {"object", "builtins.object"}  # every class's base in Python 3, spelled out or not

# What a class's methods are not: building it (the class keeps its own signature, compared apart)
_CONSTRUCTION = {"__init__", "__new__", "__init_subclass__", "__subclasshook__", "__class_getitem__"}
_GENERIC = {"typing.Generic", "typing_extensions.Generic"}
_ABSTRACT = {"abc.ABC", "typing.Protocol", "typing_extensions.Protocol", *_GENERIC}


def _unseen_by_callers(base: object, new_class: griffe.Object) -> bool:
    """Whether losing ``base`` changes nothing a caller of the class sees (numpy 2's ``errstate``,
    55 uses in pandas 2.0, lost both kinds):

    * ``Generic[...]``: it only makes the class subscriptable for type checkers (often in a stub
      only, as numpy 1.26's ``errstate``);
    * a standard-library mixin whose every method the class still has: ``errstate`` now defines the
      ``__call__`` it inherited from ``contextlib.ContextDecorator``.

    An exception, an abstract class or a base with no method of its own (there for ``isinstance``
    and ``except``) stays a change, as does a base oxwizard cannot read."""
    path = str(getattr(base, "canonical_path", base))
    if path in _GENERIC:
        return True
    methods = _mixin_methods(path, depth=0)
    if not methods:
        return False
    try:
        has = set(new_class.all_members)
    except Exception:  # noqa: BLE001 - a base griffe cannot follow: the change stays said
        return False
    return methods <= has


def _mixin_methods(path: str, depth: int) -> set[str] | None:
    """The public and special methods of the standard-library class at ``path`` and its bases;
    None when it is not one, or is an exception or abstract, or cannot be read."""
    import builtins

    if path in _IMPLICIT_BASES:
        return set()
    builtin = getattr(builtins, path.removeprefix("builtins."), None)
    if isinstance(builtin, type) and issubclass(builtin, BaseException):
        return None
    module, _, name = path.rpartition(".")
    cls = _stdlib_module(module).get(name) if module and depth < 8 else None
    if cls is None or path in _ABSTRACT or cls.keywords:  # ``metaclass=ABCMeta`` and the like
        return None
    found = {
        n for n, m in cls.members.items()
        if not m.is_alias and m.is_function and n not in _CONSTRUCTION
        and (not n.startswith("_") or (n.startswith("__") and n.endswith("__")))
    }  # fmt: skip
    for above in cls.bases:
        inherited = _mixin_methods(str(getattr(above, "canonical_path", above)), depth + 1)
        if inherited is None:
            return None
        found |= inherited
    return found


_STDLIB: dict[str, dict[str, griffe.Class]] = {}
_STDLIB_LOCK = threading.Lock()


def _stdlib_module(module: str) -> dict[str, griffe.Class]:
    """The classes of the standard-library ``module``, read statically by griffe from this Python's
    own library (never imported), once per process; empty for any other module."""
    import sys
    import sysconfig

    import griffe

    if module.partition(".")[0] not in sys.stdlib_module_names:
        return {}
    with _STDLIB_LOCK:
        if module not in _STDLIB:
            try:
                stdlib = sysconfig.get_paths()["stdlib"]
                tree = griffe.load(module, search_paths=[stdlib], resolve_aliases=False)
                _STDLIB[module] = {n: m for n, m in tree.members.items() if isinstance(m, griffe.Class)}
            except Exception:  # noqa: BLE001 - a module griffe cannot read: its bases stay changes
                _STDLIB[module] = {}
        return _STDLIB[module]


def _served_by_getattr(change: ApiChange, modules: dict[str, griffe.Object]) -> ApiChange | None:
    """A removed name that its module's new ``__getattr__`` still serves (named there as a literal):
    deprecated when that ``__getattr__`` warns a deprecation, else not a change at all."""
    import griffe

    parent, _, name = change.path.rpartition(".")
    module = modules.get(parent)
    hook = module.members.get("__getattr__") if module is not None else None
    if hook is None or isinstance(hook, griffe.Alias) or not hook.is_function:
        return change
    try:
        tree = ast.parse(textwrap.dedent(hook.source))
    except UNPARSABLE:
        return change
    literals = {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }
    if name not in literals:
        return change
    if _warns_deprecation(tree, _DEPRECATIONS, always=False) is None:
        return None
    detail = f"still served by {parent}.__getattr__, with a deprecation warning"
    return change.model_copy(update={"kind": "deprecated", "detail": detail})


def _module_homes(old: griffe.Object, modules: list[griffe.Object]) -> list[str]:
    """The new modules that define every public name the removed module ``old`` defined."""
    names = {n for n, m in old.members.items() if not n.startswith("_") and not m.is_alias}
    if not names:
        return []
    return [m.path for m in modules if names <= {n for n, o in m.members.items() if not o.is_alias}]


def _assigned(attribute: object, by_path: dict[str, griffe.Object]) -> object | None:
    """What the attribute ``X = name``, ``X = module.name`` or ``X = name[...]`` names in its tree,
    if it is one of its objects; None for any other value."""
    import griffe

    value = getattr(attribute, "value", None)
    if isinstance(value, griffe.ExprSubscript):  # ``float64 = floating[_64Bit]`` (numpy 1.26's stub)
        value = value.left  # a parameterised class is that class for a caller
    text = str(value) if value is not None else ""
    if not text.replace(".", "").replace("_", "").isalnum() or text[0].isdigit():
        return None
    parent = getattr(attribute, "parent", None)
    scope = getattr(parent, "members", {})
    if "." not in text:
        return scope.get(text)
    try:  # a dotted name: where griffe says it leads, e.g. ``np.bool`` -> ``numpy.bool``
        path = str(getattr(value, "canonical_path", text))
    except Exception:  # noqa: BLE001 - griffe cannot resolve it: not known to be the same object
        return None
    module, _, name = path.rpartition(".")
    return by_path[module].members.get(name) if module in by_path else None


def _member(top: griffe.Object | griffe.Alias, path: str) -> object | None:
    """The object at the dotted ``path`` under the module ``top``; None when it is not there."""
    head, *names = path.split(".")
    found: object | None = top if head == top.name else None
    for name in names:
        found = getattr(found, "members", {}).get(name)
    return found


def _kind_of(obj: object | None) -> str | None:
    """The kind of ``obj`` (an alias followed to its target, when griffe can); None when unknown."""
    import griffe

    if isinstance(obj, griffe.Alias):
        try:
            obj = obj.final_target
        except Exception:  # noqa: BLE001 - an alias griffe cannot follow
            return None
    return _what(obj) if obj is not None else None


def _what(obj: object) -> str:
    kind = getattr(obj, "kind", None)
    value = getattr(kind, "value", "object")
    return str(value)


def _walk(obj: griffe.Object | griffe.Alias, path: str | None = None) -> Iterator[tuple[griffe.Object, str]]:
    """Every object defined in ``obj`` (not aliases to elsewhere), ``obj`` included, with its dotted
    path (made on the way down: griffe's ``path`` walks up the parents each time it is asked)."""
    import griffe

    if isinstance(obj, griffe.Alias):
        return
    here = obj.path if path is None else path
    yield obj, here
    for name, member in list(obj.members.items()):
        yield from _walk(member, f"{here}.{name}")


def _index(objects: list[tuple[griffe.Object, str]]) -> dict[str, list[tuple[str, str]]]:
    """The new version's public objects by name: where a removed name may have moved to."""
    out: dict[str, list[tuple[str, str]]] = {}
    for obj, path in objects:
        if obj.name.startswith("_"):
            continue
        out.setdefault(obj.name, []).append((path, _what(obj)))
    return out


# FutureWarning: Python's category for deprecations meant for end users (pandas' and numpy's)
_DEPRECATIONS = frozenset({"DeprecationWarning", "PendingDeprecationWarning", "FutureWarning"})


@dataclass
class _Deprecation:
    """A name newly marked deprecated, or one of its parameters (``parameter``: passing it warns)."""

    path: str
    what: str
    detail: str
    parameter: ParameterChange | None = None
    receiver: str = ""

    @property
    def key(self) -> tuple[str, str]:
        """The name, and the parameter ("": the name itself)."""
        return self.path, self.parameter.name if self.parameter else ""


def _deprecated(
    objects: list[tuple[griffe.Object, str]], limits: list[str], only: set[str] | None = None
) -> Iterator[_Deprecation]:
    """Every public function or class marked deprecated among ``objects`` (a module's, with their
    paths: see :func:`_walk`; of those in ``only`` when given), and every parameter a function
    deprecates (it warns when it is passed)."""
    warnings_classes = set(_DEPRECATIONS)
    for obj, _ in objects:  # the package's own subclasses of those (one level is enough here)
        bases = [str(base) for base in getattr(obj, "bases", [])]
        if obj.is_class and any("DeprecationWarning" in b or "FutureWarning" in b for b in bases):
            warnings_classes.add(obj.name)
    for obj, path in objects:
        if not (obj.is_function or obj.is_class) or _private(path):
            continue
        if only is not None and _deprecation_of(obj, "", path).path not in only:
            continue
        decorators = [str(d.value) for d in getattr(obj, "decorators", [])]
        if any(d.split("(")[0].split(".")[-1] == "deprecated" for d in decorators):
            yield _deprecation_of(obj, "marked @deprecated", path)
            continue
        if not obj.is_function or "warn" in obj.name.lower():
            continue  # a helper that says a warning for others (pandas' ``warn_alias_replacement``)
        source = obj.source
        if "warn" not in source or not any(cat in source for cat in warnings_classes):
            continue  # most functions: no need to parse them
        served = obj.name == "__getattr__" and obj.parent is not None and obj.parent.is_module
        try:
            tree = ast.parse(textwrap.dedent(source))
        except UNPARSABLE:
            continue
        message = _warns_deprecation(tree, warnings_classes, always=not served)
        if message is None:
            for name, said in _deprecated_parameters(tree, warnings_classes):
                yield _parameter_deprecation(obj, path, name, said)
            continue
        if served and obj.parent is not None:
            limits.append(
                f"{obj.parent.path}.__getattr__ serves deprecated names: those not spelled out are not read"
            )
            continue
        yield _deprecation_of(obj, message, path)


def _parameter_deprecation(obj: griffe.Object, path: str, name: str, message: str) -> _Deprecation:
    """Parameter ``name`` of function ``obj`` deprecated (its place and kind, as a call meets it)."""
    found = _deprecation_of(obj, "", path)
    parameters = list(getattr(obj, "parameters", []))
    index = next((n for n, p in enumerate(parameters) if p.name == name), None)
    kind = _kind_name(parameters[index]) if index is not None else None
    found.parameter = ParameterChange(change="deprecated", name=name, new_index=index, new_kind=kind)
    found.receiver = _receiver(*parameters[:1])
    found.detail = f"parameter '{name}' deprecated: {message}"
    return found


def _private(path: str) -> bool:
    """``a._b.c``: a name users are not meant to use (dunders like ``__init__`` are not private)."""
    return any(p.startswith("_") and not (p.startswith("__") and p.endswith("__")) for p in path.split("."))


def _deprecation_of(obj: griffe.Object, detail: str, path: str) -> _Deprecation:
    """``obj`` (at ``path``) deprecated; a constructor's deprecation is its class's."""
    if obj.name in ("__init__", "__new__") and obj.parent is not None:
        return _Deprecation(path.rpartition(".")[0], _what(obj.parent), detail)
    return _Deprecation(path, _what(obj), detail)


def _warns_deprecation(tree: ast.Module, categories: Collection[str], *, always: bool = True) -> str | None:
    """The message (or ``warns DeprecationWarning``) when the function's own body (the one definition
    in ``tree``) warns a deprecation; with ``always``, only a warning every call gives (not under an
    ``if``, a loop or an ``except``: pandas 2.2's ``DataFrame.__init__`` warns when passed a
    BlockManager, ``Series.__init__`` when passed ``fastpath``: the class is not deprecated, one way
    of calling it is; see :func:`_deprecated_parameters`)."""
    calls = _every_call_warns(tree) if always else ast.walk(tree)
    return next((said for node in calls if (said := _warning(node, categories)) is not None), None)


def _warning(node: ast.AST, categories: Collection[str]) -> str | None:
    """``node``'s message when it is a ``warn(...)`` call of one of ``categories``."""
    if not isinstance(node, ast.Call):
        return None
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
    if name != "warn":
        return None
    category = node.args[1] if len(node.args) > 1 else None
    for kw in node.keywords:
        if kw.arg == "category":
            category = kw.value
    cat = dotted(category) if category is not None else None
    if cat is None or cat.split(".")[-1] not in categories:
        return None
    first = node.args[0] if node.args else None
    if isinstance(first, ast.Constant) and isinstance(first.value, str):
        return first.value if len(first.value) <= 120 else first.value[:117] + "..."
    return f"warns {cat.split('.')[-1]}"


def _deprecated_parameters(tree: ast.Module, categories: Collection[str]) -> Iterator[tuple[str, str]]:
    """(parameter, message) for each ``if PARAM is not DEFAULT:`` (or ``!=``) of the function (the one
    definition in ``tree``) whose body warns a deprecation, DEFAULT being the parameter's own default:
    passing it warns (pandas 2.2's ``fillna(method=…)``, ``read_csv(delim_whitespace=…)``). Any other
    condition (``isinstance(data, …)``, ``if include_groups:``) is a way of calling, not a parameter:
    left to the tests' warnings."""
    func = tree.body[0] if tree.body else None
    if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
        return
    args = func.args
    positional = [*args.posonlyargs, *args.args]
    with_default = positional[len(positional) - len(args.defaults) :]
    defaults = {a.arg: ast.dump(d) for a, d in zip(with_default, args.defaults, strict=True)}
    defaults |= {a.arg: ast.dump(d) for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True) if d}
    seen: set[str] = set()
    for node in ast.walk(func):
        if not isinstance(node, ast.If):
            continue
        test = node.test
        if not (isinstance(test, ast.Compare) and isinstance(test.left, ast.Name) and len(test.ops) == 1):
            continue
        name = test.left.id
        if name in seen or not isinstance(test.ops[0], ast.IsNot | ast.NotEq):
            continue
        if defaults.get(name) != ast.dump(test.comparators[0]):
            continue
        said = next((m for s in node.body for n in ast.walk(s) if (m := _warning(n, categories))), None)
        if said is not None:
            seen.add(name)
            yield name, said


def _every_call_warns(tree: ast.Module) -> Iterator[ast.AST]:
    """The calls a function (the one definition in ``tree``) makes whatever its arguments: in the
    statements of its body, of ``with`` blocks and ``try`` bodies in it, not in nested functions."""
    func = tree.body[0] if tree.body else None
    if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
        return
    blocks = [func.body]
    while blocks:
        for statement in blocks.pop():
            if isinstance(statement, ast.With | ast.AsyncWith):
                blocks.append(statement.body)
            elif isinstance(statement, ast.Try | ast.TryStar):
                blocks += [statement.body, statement.finalbody]
            elif isinstance(statement, ast.Expr | ast.Assign | ast.AnnAssign | ast.Return):
                yield from ast.walk(statement)


def _sample(items: list[str]) -> str:
    head = ", ".join(items[:_MAX_NOT_CHECKED_SAMPLES])
    more = len(items) - _MAX_NOT_CHECKED_SAMPLES
    return f"{head}, and {more} more" if more > 0 else head


# -- the uses ------------------------------------------------------------------------------------------
MAX_PROJECT_FILES = 5000  # a project given as a home folder must not be read whole


def project_files(project: Path) -> Iterator[Path]:
    """The project's own Python files (not its virtual environments, caches or hidden folders)."""
    for folder, dirs, files in os.walk(project):
        dirs[:] = sorted(
            d
            for d in dirs
            if not d.startswith(".") and d not in _SKIP_DIRS and not (Path(folder, d) / "pyvenv.cfg").exists()
        )
        for name in sorted(files):
            if name.endswith(".py"):
                yield Path(folder, name)


class _Joiner:
    """Each use of a file with the most specific change it meets (the name itself, or a module or
    class above it; a signature change only the name itself, and only where the call breaks). A
    dependent's thousands of uses repeat a few hundred names: each is looked up once."""

    def __init__(self, changes: list[ApiChange], old: Names, new: Names) -> None:
        self._by_path: dict[str, list[ApiChange]] = {}
        for c in changes:
            self._by_path.setdefault(c.path, []).append(c)
        for found in self._by_path.values():  # the breaking change first when a name is also deprecated
            found.sort(key=lambda c: c.kind == "deprecated")
        self._old, self._new = old, new
        self._met: dict[tuple[str, str, Call | None, bool], tuple[ApiChange, str] | None] = {}

    def join(self, uses: list[Use]) -> list[tuple[Use, ApiChange, str]]:
        """Each use that meets a change, with the part of it the use meets ("": all of it)."""
        elsewhere = {u.name for u in uses if u.how != "import"}
        out = []
        for use in uses:
            key = (use.name, use.how, use.call, use.how == "import" and use.name in elsewhere)
            if key not in self._met:
                self._met[key] = self._meets(use, called_elsewhere=key[3])
            met = self._met[key]
            if met is not None:
                out.append((use, *met))
        return out

    def _meets(self, use: Use, *, called_elsewhere: bool) -> tuple[ApiChange, str] | None:
        """The change ``use`` meets, and the part of it it meets; ``called_elsewhere``: the use is an
        import whose name the file uses otherwise too (judged there)."""
        for name, floor, written in _meanings(use.name, self._old, self._new):
            parts = name.split(".")
            for n in range(len(parts), floor - 1, -1):
                for change in self._by_path.get(".".join(parts[:n]), ()):
                    if change.kind == "deprecated" and change.parameters:  # passing one warns
                        passed = _passes(change, use) if n == len(parts) and not called_elsewhere else []
                        if passed:
                            return change, "; ".join(p.text() for p in passed)
                    elif change.kind == "signature":
                        if n < len(parts) or called_elsewhere:
                            continue  # not a call of it; the import: judged where it is used instead
                        if use.how == "import" or (use.call is None and change.what != "class"):
                            return change, ""  # a function passed on (called elsewhere, somehow)
                        breaking = _call_breaks(change, use, use.call) if use.call is not None else None
                        if breaking is not None:  # (a class named, not called: an annotation, a base)
                            return change, "; ".join(p.text() for p in breaking)
                    elif use.how != "bare" and not _moved_away(change, floor, written, self._new):
                        return change, ""  # (an imported name used by itself: its import is the use)
        return None


def _call_breaks(change: ApiChange, use: Use, call: Call) -> list[ParameterChange] | None:
    """What of a changed signature a call (``use.call``) fails on with the new one: the parameters
    ([]: all of the change, not known which), None when it does not fail. ``e.connect()`` is not
    broken by ``connect``'s parameter ``close_with_result`` going away."""
    if call.spread or not change.parameters:
        return []  # what ``*args``/``**kwargs`` pass is not known; nor is a change read before
    passed = _positions(change, use, call)
    breaking = [p for p in change.parameters if _parameter_breaks(p, call, passed)]
    return breaking or None


def _positions(change: ApiChange, use: Use, call: Call) -> int:
    """The positions ``call`` fills in the changed function's parameters, ``self``/``cls`` counted
    (passed by the instance or class it is called on)."""
    instance = use.name.rpartition(".")[0].endswith("()")
    bound = change.receiver == "cls" or (change.receiver == "self" and (instance or change.what == "class"))
    return call.positional + (1 if bound else 0)


_POSITIONAL = ("positional-only", "positional or keyword")


def _passes(change: ApiChange, use: Use) -> list[ParameterChange]:
    """The deprecated parameters of ``change`` that the call ``use`` passes, by keyword or by position
    (what a ``*args``/``**kwargs`` passes is not known: scikit-learn's ``read_csv(f, **kwargs)``
    is not named for every parameter pandas deprecates; the tests' warnings show what it passes)."""
    call = use.call
    if call is None or use.how == "import":
        return []
    passed = _positions(change, use, call)

    def given(p: ParameterChange) -> bool:
        by_position = p.new_kind in _POSITIONAL and p.new_index is not None and p.new_index < passed
        return p.name in call.keywords or by_position

    return [p for p in change.parameters if given(p)]


def _parameter_breaks(p: ParameterChange, call: Call, passed: int) -> bool:
    def by_position(index: int | None) -> bool:
        return index is None or index < passed

    given = p.name in call.keywords
    if p.change == "removed":
        if p.old_kind == "variadic positional":  # too many now, unless named parameters took its place
            return p.positional is not None and passed > p.positional
        if p.old_kind == "variadic keyword":
            return p.keywords is not None and bool(set(call.keywords) - set(p.keywords))
        return given or (p.old_kind in _POSITIONAL and by_position(p.old_index))
    if p.change in ("required", "added"):
        return not (given or (p.new_kind in _POSITIONAL and by_position(p.new_index)))
    if p.change == "moved":
        indexes = [i for i in (p.old_index, p.new_index) if i is not None]
        return by_position(min(indexes) if indexes else None)
    if p.new_kind in ("keyword-only", "variadic keyword"):  # "kind": it was passed by position
        return by_position(p.old_index)
    if p.new_kind in ("positional-only", "variadic positional"):  # … or by keyword
        return given
    return True


def _moved_away(change: ApiChange, floor: int, written: str, new: Names) -> bool:
    """Whether ``change`` removes only where a name the use spells otherwise was defined: numpy 2
    defines ``numpy.nan`` in ``numpy._core``, not ``numpy.core.numeric``, but ``numpy.nan`` is there."""
    at_floor = change.path.count(".") + 1 == floor
    return bool(written) and at_floor and change.kind == "removed" and not new.lacks(written)


def _meanings(name: str, old: Names, new: Names) -> Iterator[tuple[str, int, str]]:
    """The names a use stands for as the installed version defines them (griffe's names for what
    changed), each with how many of its leading parts a change must cover, and the name of that part
    as the use spells it (when it is spelled otherwise).

    ``sqlalchemy.engine.Engine.execute`` as written, then as defined: the member ``execute`` of
    ``sqlalchemy.engine.base.Engine`` (not the modules the use does not name: ``numpy.unique`` is not
    touched by ``numpy.lib.arraysetops`` becoming deprecated), then as the new version defines it
    (``pydantic.validator``, compared by griffe through the alias both versions export, is named
    where pydantic 2 defines it, ``pydantic.deprecated.class_validators.validator``);
    ``sqlalchemy.create_engine().execute`` as the member of the class the new version's
    ``create_engine`` is annotated to return (not the class itself: its constructor's change is the
    call's, a use of its own)."""
    if "()" not in name:
        yield name, 1, ""
        defined, floor, _ = old.locate(name)
        if defined != name:
            parts = name.split(".")
            yield defined, floor, ".".join(parts[: len(parts) - (defined.count(".") + 1 - floor)])
        now, now_floor, _ = new.locate(name)  # griffe names a change it found through an alias there
        if now not in (name, defined):
            yield now, now_floor, ""
        yield from _inherited(name, old, new, (name, defined, now))
        return
    path, *after = name.split("()")
    floor = 1
    for n, piece in enumerate(after):
        cls = new.instance_of(path) or old.instance_of(path)
        if cls is None:
            return
        cls = old.canonical(cls)
        floor = cls.count(".") + 2
        last = n == len(after) - 1
        path = cls + (piece or ("" if last else ".__call__"))  # ``f()()``: what its result's __call__ returns
    yield path, floor, ""
    yield from _inherited(path, old, new, (path,))


def _inherited(name: str, old: Names, new: Names, said: tuple[str, ...]) -> Iterator[tuple[str, int, str]]:
    """A class's member as the base class it inherits it from defines it (each version's), only that
    member: pandas 2.2 deprecates ``NDFrame.swapaxes``, which ``DataFrame().swapaxes`` calls."""
    for names in (new, old):
        at = names.defined_at(name)
        if at is not None and at not in said:
            said = (*said, at)
            yield at, at.count(".") + 1, ""


# -- all of it -----------------------------------------------------------------------------------------
def preload(names: Iterable[str]) -> None:
    """Import griffe now (a plan calls this while its dry run runs) unless a comparison is cached for
    each of ``names`` (canonical): the plan then most likely needs none (the same targets planned
    again), and griffe's import (80 ms of CPU) would only slow the dry run beside it. A guess either
    way: a comparison that is needed imports griffe when it is made."""
    suffix = f"-{__version__}.{_DIFF_FORMAT}.json"
    try:
        cached = [n for n in os.listdir(api_cache_dir() / "diff") if n.endswith(suffix)]
    except OSError:
        cached = []
    if not all(any(f.startswith(f"{name}-") for f in cached) for name in names):
        import griffe  # noqa: F401


def api_impact(
    env: Environment,
    plan: Plan,
    index: IndexOptions,
    project: Path | None,
    *,
    cache: Path | None = None,
    said: Callable[[str], None] | None = None,
) -> ApiImpact:
    """The plan's API changes, joined with their uses in ``project`` and in the installed dependents.
    ``said``: told what is being done when it is not in the cache (the wizard shows it while planning)."""
    impact = ApiImpact()
    moving = [c for c in plan.changes if c.from_version and c.to_version and c.from_version != c.to_version]
    if not moving:
        return impact
    with _gc_paused():  # the scans' syntax trees would make each collection walk griffe's trees again
        return _api_impact(env, moving, index, project, cache or api_cache_dir(), impact, said or _silent)


def _silent(doing: str) -> None:
    pass


Comparison = tuple[list[ApiChange], list[str]]


def compare_all(
    work: list[tuple[Change, Tree, Tree]],
    said: Callable[[str], None] = _silent,
    *,
    workers: int | None = None,
) -> Iterator[tuple[Change, Comparison]]:
    """:func:`compare` for each (change, installed tree, new tree), as each is done. Several are
    compared at once, in processes of their own (``workers``, default: one per core, at most 4; each
    holds the two versions' trees of one distribution at a time): griffe is pure Python, and the
    first plan of many large upgrades (numpy, pandas, scipy…) spends most of its time there. Alone,
    or where no child can be started, they are compared here."""
    n = len(work)
    count = min(workers if workers is not None else min(4, os.cpu_count() or 1), n)
    if count >= 2:
        # the most to read first (the files that differ), so that the workers end about together
        work = sorted(work, key=lambda w: -len(_changed_files(w[1], w[2])))
        said(f"API impact: comparing {n} distributions, {count} at a time")
        try:
            yield from _compare_in_processes(work, count, said)
            return
        except _NoWorkers:
            pass
    for k, (c, old, new) in enumerate(work, 1):
        said(f"API impact: comparing {_versions(c)} ({k} of {n})")
        yield c, compare(c.name, str(c.to_version), old, new)


def _versions(c: Change) -> str:
    return f"{c.name} {c.from_version} with {c.to_version}"


class _NoWorkers(Exception):
    """No comparison could be made in a worker process: they are all made in this one."""


def _compare_in_processes(
    work: list[tuple[Change, Tree, Tree]], count: int, said: Callable[[str], None]
) -> Iterator[tuple[Change, Comparison]]:
    """``count`` children (:mod:`oxwizard.checks.compare_child`, each comparing one after the other
    what is left), the results yielded as they come; what a child could not compare (it died, it
    failed) is compared here after. Ended early (an error, ^C), the children are killed."""
    import pickle
    import queue
    import subprocess
    import sys

    tasks: queue.SimpleQueue[tuple[Change, Tree, Tree]] = queue.SimpleQueue()
    for item in work:
        tasks.put(item)
    # each item back with its comparison, or with None: not compared by a child
    results: queue.SimpleQueue[tuple[tuple[Change, Tree, Tree], Comparison | None]] = queue.SimpleQueue()
    children: list[subprocess.Popen[bytes]] = []

    def serve() -> None:
        child: subprocess.Popen[bytes] | None = None
        try:
            child = subprocess.Popen(
                [sys.executable, "-m", "oxwizard.checks.compare_child"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            children.append(child)
        except OSError:
            child = None
        while True:
            try:
                item = tasks.get_nowait()
            except queue.Empty:
                break
            c, old, new = item
            answer: object = None
            if child is not None and child.stdin is not None and child.stdout is not None:
                try:
                    pickle.dump((c.name, str(c.to_version), old, new), child.stdin)
                    child.stdin.flush()
                    answer = pickle.load(child.stdout)
                except (OSError, EOFError, pickle.UnpicklingError):
                    child = None  # it died: what is left of its share is compared here
            if isinstance(answer, tuple) and len(answer) == 2 and answer[0] == "ok":
                results.put((item, answer[1]))
            else:
                results.put((item, None))
        if child is not None and child.stdin is not None:
            with contextlib.suppress(OSError):
                child.stdin.close()  # its end: it exits (unless killed first)

    threads = [threading.Thread(target=serve, name=f"oxwizard-api-{n}", daemon=True) for n in range(count)]
    for thread in threads:
        thread.start()
    here: list[tuple[Change, Tree, Tree]] = []
    try:
        for k in range(1, len(work) + 1):
            item, result = results.get()
            if result is None:
                here.append(item)
                continue
            said(f"API impact: compared {_versions(item[0])} ({k} of {len(work)})")
            yield item[0], result
    finally:
        # done (a child's exit would free its trees for seconds), or an error, ^C, a consumer that
        # stopped (no child goes on comparing): the children are killed
        for child in children:
            child.kill()
        for thread in threads:
            thread.join(timeout=5)
        for child in children:
            child.wait()
    if len(here) == len(work):
        raise _NoWorkers
    for c, old, new in here:
        said(f"API impact: comparing {_versions(c)}")
        yield c, compare(c.name, str(c.to_version), old, new)


def _api_impact(
    env: Environment,
    moving: list[Change],
    index: IndexOptions,
    project: Path | None,
    cache: Path,
    impact: ApiImpact,
    said: Callable[[str], None],
) -> ApiImpact:
    olds = {c.name: installed_tree(env, c.name) for c in moving}
    done: dict[str, Comparison] = {}
    for c in moving:
        hit = _cached_diff(cache, env, c)
        if hit is not None:
            done[c.name] = hit
    todo = [c for c in moving if c.name not in done and olds[c.name] is not None]
    if todo:
        names = _sample([c.name for c in todo])
        said(f"API impact: fetching the new version{'s' if len(todo) > 1 else ''} of {names}")
    tops = {top.split(".")[0] for old in olds.values() if old is not None for top in old.tops}
    if not todo and not any(found for found, _ in done.values()):
        tops = set()  # every comparison is kept and none found a change: no use to look for
    shared: Shared = {}  # the files both versions have are read once
    old_names = Names([t for t in olds.values() if t is not None], cache, shared=shared)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="oxwizard-api") as pool:
        # the wheels arrive while the uses are read (they need only the installed top-level names)
        fetching = pool.submit(new_trees, env, todo, index, cache, impact.not_checked) if todo else None
        scanned = _scan_all(env, moving, project, tops, cache) if tops else Scanned()
        if fetching is not None and not fetching.done():  # still arriving: the installed names meanwhile
            _locate_uses(old_names, scanned, fetching)
        trees = fetching.result() if fetching is not None else {}
    work = [(c, old, trees[c.name]) for c in todo if (old := olds[c.name]) is not None and c.name in trees]
    for c, result in compare_all(work, said):
        done[c.name] = result
        _save_diff(cache, env, c, *result)
    for c in moving:
        if olds[c.name] is None:
            impact.not_checked.append(
                f"{c.name} {c.from_version}: no RECORD, its installed files are unknown"
            )
            continue
        if c.name not in done:
            continue  # its new version could not be read: said by new_trees
        found, limits = done[c.name]
        impact.changes += found
        impact.not_checked += limits
    if not impact.changes:
        return impact  # no use to join, nor what of the uses could not be read to say
    impact.not_checked += scanned.limits
    seen: set[tuple[str, str, int, str]] = set()
    news = [trees.get(c.name) or _cached_tree(cache, c) for c in moving]
    new_names = Names([t for t in news if t is not None], cache, shared=shared)
    joiner = _Joiner(impact.changes, old_names, new_names)
    for user, version, rel, uses in scanned.files:
        for use, change, detail in joiner.join(uses):
            key = (user, rel, use.line, change.path)
            if key in seen:
                continue
            seen.add(key)
            kind: ApiChangeKind = change.kind
            impact.uses.append(ApiUse(user=user, user_version=version, file=rel, line=use.line, name=use.name,
                                      change=change.path, kind=kind, detail=detail))  # fmt: skip
    old_names.save()
    new_names.save()
    impact.uses.sort(key=lambda u: (u.user != "", u.user, u.file, u.line))
    used = {u.change for u in impact.uses}  # a private name (a._b) counts only where it is used
    impact.changes = [c for c in impact.changes if c.path in used or not _private(c.path)]
    return impact


def _locate_uses(names: Names, scanned: Scanned, until: Future[Any]) -> None:
    """Where the installed version defines each name the uses spell (what the join asks first),
    while ``until`` is not done: the main thread would only wait for it."""
    done: set[str] = set()
    for _, _, _, uses in scanned.files:
        for use in uses:
            name = use.name.split("()")[0]
            if name in done:
                continue
            if until.done():
                return
            done.add(name)
            names.locate(name)
            names.defined_at(name)


@dataclass
class Scanned:
    """The uses of the changed distributions' top-level names, file by file, and what was not read."""

    files: list[tuple[str, str, str, list[Use]]] = field(default_factory=list)  # user, version, file, uses
    limits: list[str] = field(default_factory=list)


def _scan_all(
    env: Environment, moving: list[Change], project: Path | None, tops: set[str], cache: Path
) -> Scanned:
    """The project's files, then those of every installed dependent of a changed distribution."""
    out = Scanned()
    if project is not None:
        texts: dict[str, str] = {}
        for n, path in enumerate(project_files(project)):
            if n == MAX_PROJECT_FILES:
                out.limits.append(f"{project}: the Python files after the first {n}")
                break
            if (text := _read(path)) is not None:
                texts[path.relative_to(project).as_posix()] = text
        # the project's classes derived from a changed distribution's: followed where they are imported
        classes: dict[str, Classes] = {}
        for rel, text in texts.items():
            if any(top in text for top in tops) and (found := derived_classes(text, tops)):
                classes.update({name: found for name in _module_names(rel)})
        names = {name for found in classes.values() for name in found}
        for rel, text in texts.items():
            _scan_text(out, text, rel, tops, "", "", classes, names)
    for name in requirers(env, {c.name for c in moving}):
        part = _scan_dependent(env, name, tops, cache)
        out.files += part.files
        out.limits += part.limits
    return out


# A dependent's uses are read in its own modules, not in the test suites it ships (they are not imported
# when it runs: pandas/tests/… are 57% of the files numpy's dependents hold on a data-science
# environment), once per installed version (and set of names looked for): they are kept
# in the cache's ``uses`` folder while its .dist-info folder is unchanged (see
# :func:`oxwizard.env.distributions.folder_stamp`; RECORD too). An editable install's files are the
# user's working copy: always read.
_USES_FORMAT = 4  # 2: bundled test suites not read; 3: values followed; 4: calls' shapes
_USES_STAMPED = ("METADATA", "RECORD", "direct_url.json")
_USES_KEEP = 512  # the dependents' readings kept (those used last)


def _scan_dependent(env: Environment, name: str, tops: set[str], cache: Path) -> Scanned:
    """The uses of ``tops`` in the installed distribution ``name``'s files, from the cache when its
    installation is the one they were read from."""
    dist = env.distributions[name]
    kept: Path | None = None
    stamp = None if dist.editable else folder_stamp(dist.metadata_dir, _USES_STAMPED)
    if stamp is not None:
        key = json.dumps([_USES_FORMAT, __version__, dist.metadata_dir, sorted(tops)])
        kept = cache / "uses" / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.json"
        hit = _kept_uses(kept, stamp, name, dist.version)
        if hit is not None:
            return hit
    part = Scanned()
    dep = installed_tree(env, name)
    if dep is None:
        return part
    if dep.compiled:
        part.limits.append(f"compiled modules of {name} ({_sample(dep.compiled)}): their uses are not read")
    for rel in dep.files:
        if not _is_tests(rel):  # a test suite it ships is not imported when it runs (pandas/tests/…)
            _scan(part, dep.root / rel, rel, tops, name, dist.version)
    if kept is not None:  # (made with the stamp)
        files = [[rel, [_dump_use(u) for u in uses]] for _, _, rel, uses in part.files]
        store_kept(kept, json.dumps({"stamp": stamp, "files": files, "limits": part.limits}), _USES_KEEP)
    return part


def _kept_uses(kept: Path, stamp: list[object], name: str, version: str) -> Scanned | None:
    try:
        data = json.loads(kept.read_bytes())
        if not isinstance(data, dict) or data.get("stamp") != stamp:
            return None
        part = Scanned(limits=[str(line) for line in data["limits"]])
        for rel, uses in data["files"]:
            part.files.append((name, version, str(rel), [_load_use(u) for u in uses]))
    except (OSError, ValueError, TypeError, KeyError):
        return None
    mark_used(kept)  # the dependents' uses kept are those used last
    return part


def _module_names(rel: str) -> list[str]:
    """A project file's dotted module names: ``app/models.py`` is ``app.models``; ``src/app/models.py``
    is ``app.models`` (the src layout), then ``src.app.models``."""
    module = module_of(rel)
    return [module.removeprefix("src."), module] if module.startswith("src.") else [module]


def _dump_use(u: Use) -> list[object]:
    call = [u.call.positional, list(u.call.keywords), u.call.spread] if u.call is not None else None
    return [u.line, u.name, call, u.how]


def _load_use(data: list[Any]) -> Use:
    line, name, call, how = data
    shape = Call(int(call[0]), tuple(str(k) for k in call[1]), bool(call[2])) if call is not None else None
    return Use(int(line), str(name), shape, str(how))


def _scan(out: Scanned, path: Path, rel: str, tops: set[str], user: str, version: str) -> None:
    text = _read(path)
    if text is not None:
        _scan_text(out, text, rel, tops, user, version)


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def _scan_text(
    out: Scanned,
    text: str,
    rel: str,
    tops: set[str],
    user: str,
    version: str,
    project: dict[str, Classes] | None = None,
    names: set[str] | None = None,
) -> None:
    """One file's uses (of a dependent ``user``, or the project's: ``project`` holds its derived
    classes by module, ``names`` their names: a file that names one is read even without naming
    ``tops``)."""
    if not any(top in text for top in tops) and not any(name in text for name in names or ()):
        return
    package = package_of(PurePosixPath(rel).name, module_of(rel)) if project is not None else ""
    where = rel if not user else f"{rel} ({user})"
    uses, limits = find_uses(text, tops, filename=where, package=package, project=project)
    out.limits += limits
    if uses:
        out.files.append((user, version, rel, uses))
