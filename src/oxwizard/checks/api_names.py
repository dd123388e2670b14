"""Where a name a project uses is defined, read with :mod:`ast` from a distribution's own files.

griffe names what a new version changes where it is defined: ``sqlalchemy.engine.base.Engine.execute``.
A project spells it the way the package exports it, ``from sqlalchemy.engine import Engine``
(``sqlalchemy/engine/__init__.py`` imports it from ``.base``), or reaches it through a value it
keeps: ``engine = create_engine(url)``, then ``engine.execute(…)``, where ``create_engine`` is
annotated ``-> Engine``. :class:`Names` follows both, statically (nothing is imported): the imports
of the package's modules (``from .base import Engine``, ``from . import base``, ``import a.b as c``,
``from .core import *``), and the return annotation of a function or method (``Engine``,
``"Engine"``, ``Optional[Engine]``, ``Engine | None``, ``Result[Any]``: the class; ``Self``: the
class it is called on) or a class called.

A use spells a call's result with ``()``: ``sqlalchemy.create_engine().execute`` (see
:func:`oxwizard.checks.uses.find_uses`).
"""

from __future__ import annotations

import ast
import contextlib
import functools
import hashlib
import importlib.util
import json
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from oxwizard.core.places import mark_used, store_kept

if TYPE_CHECKING:
    from collections.abc import Callable

    from oxwizard.checks.api_impact import Tree

_MAX_HOPS = 12  # re-exports followed for one name (a cycle of imports ends)
_MAX_BASES = 4  # base classes climbed to find a method a class inherits
_WRAPPERS = {"Optional", "Annotated", "Final", "ClassVar", "Type", "type"}  # X[T] that stands for T
_SELF = {"Self", "typing.Self", "typing_extensions.Self"}  # what a method returning its receiver says
# What ast.parse raises on a file it cannot read: bad syntax, a NUL byte, generated code nested
# deeper than the parser goes
UNPARSABLE = (SyntaxError, ValueError, RecursionError, MemoryError)
_FORMAT = 2  # bump when what a module's summary holds changes (2: a type variable's bound)
_KEEP = 256  # the trees' summaries kept (those used last)
# Summaries made while one plan runs, by (module, package, sha256): a file the versions share is read
# once for both versions' names
Shared = dict[tuple[str, str, str], dict[str, Any]]


@dataclass
class _Def:
    """What a module (or a class) defines under one name."""

    kind: str  # "class", "function", "value" or "typevar" (bound: ``returns``)
    returns: str | None = None  # a function's return annotation: the class it names, as written
    bases: list[str] = field(default_factory=list)  # a class's bases, as written
    members: dict[str, _Def] = field(default_factory=dict)  # a class's methods and classes

    def dump(self) -> list[object]:
        return [self.kind, self.returns, self.bases, {k: v.dump() for k, v in self.members.items()}]

    @classmethod
    def load(cls, data: list[Any]) -> _Def:
        kind, returns, bases, members = data
        return cls(str(kind), returns, list(bases), {str(k): cls.load(v) for k, v in members.items()})


@dataclass
class _Module:
    path: str  # dotted
    package: str  # what a relative import starts from: the module itself when it is a package's __init__
    bound: dict[str, str] = field(default_factory=dict)  # name -> the dotted name it imports
    defined: dict[str, _Def] = field(default_factory=dict)
    stars: list[str] = field(default_factory=list)  # modules it imports * from


class Names:
    """The modules of one version of some distributions (their installed files, or an unpacked wheel).

    What a module binds is read once per file content: kept per tree in ``cache`` (a numpy's
    modules take a quarter of a second to parse), when its files' sha256 are known."""

    def __init__(self, trees: list[Tree], cache: Path | None = None, *, shared: Shared | None = None) -> None:
        self._files: dict[str, tuple[Path, str, str | None]] = {}  # module -> file, tree key, sha256
        self._kept: dict[str, dict[str, Any]] = {}  # tree key -> what is kept (loaded when first used)
        self._added: set[str] = set()  # tree keys with summaries to keep
        self._cache = cache / "names" if cache is not None else None
        self._shared = shared if shared is not None else {}
        for tree in trees:
            key = tree_key(tree)
            for rel in sorted(tree.files, key=lambda f: f.endswith(".pyi")):  # the .py, which runs, first
                self._files.setdefault(module_of(rel), (tree.root / rel, key, tree.hashes.get(rel)))
        self._modules: dict[str, _Module | None] = {}
        self._located: dict[str, tuple[str, int, bool]] = {}

    def save(self) -> None:
        """Keep the summaries of the modules read (best effort)."""
        if self._cache is None:
            return
        for key in sorted(self._added):
            store_kept(self._cache / f"{key}.json", json.dumps(self._kept[key]), _KEEP)
        self._added.clear()

    # -- modules ---------------------------------------------------------------------------------------
    def _module(self, dotted: str) -> _Module | None:
        if dotted in self._modules:
            return self._modules[dotted]
        module: _Module | None = None
        if dotted in self._files:
            file, key, sha256 = self._files[dotted]
            package = package_of(file.name, dotted)
            kept = self._tree_kept(key) if sha256 else {}
            module = _loaded(dotted, package, kept.get(sha256 or ""))
            if module is None:
                same = (dotted, package, sha256 or "")  # the same file in another tree (version)
                summary = self._shared.get(same) if sha256 else None
                if summary is None:
                    try:
                        tree = outline(file.read_bytes())
                    except (OSError, *UNPARSABLE):
                        tree = None
                    if tree is not None:
                        summary = summary_of(dotted, package, tree.body)
                module = _loaded(dotted, package, summary)
                if sha256 and summary is not None:
                    self._shared[same] = summary
                    if self._cache is not None:
                        kept[sha256] = summary
                        self._added.add(key)
        self._modules[dotted] = module
        return module

    def _tree_kept(self, key: str) -> dict[str, Any]:
        if key not in self._kept:
            data: object = None
            if self._cache is not None:
                path = self._cache / f"{key}.json"
                with contextlib.suppress(OSError, ValueError):
                    data = json.loads(path.read_bytes())
                    mark_used(path)
            self._kept[key] = data if isinstance(data, dict) else {}
        return self._kept[key]

    def _split(self, parts: list[str]) -> int:
        """How many leading parts name a module (0: none of these modules)."""
        for n in range(len(parts), 0, -1):
            if ".".join(parts[:n]) in self._files:
                return n
        return 0

    # -- names -----------------------------------------------------------------------------------------
    def canonical(self, name: str) -> str:
        """``name`` where it is defined: ``sqlalchemy.engine.Engine`` -> ``sqlalchemy.engine.base.Engine``
        (unchanged when it is not a name of these modules, or cannot be followed)."""
        return self.locate(name)[0]

    def locate(self, name: str) -> tuple[str, int, bool]:
        """:meth:`canonical`, how many of its leading parts name the object a module holds (a
        module, or a name a module defines: ``sqlalchemy.engine.base.Engine``; the rest are its
        members, as written), and whether that object was found defined."""
        hit = self._located.get(name)
        if hit is None:
            hit = self._located[name] = self._follow(name)
        return hit

    def lacks(self, name: str) -> bool:
        """Whether these modules surely do not define what ``name`` names at module level: its module
        is read, neither defines nor imports it, and could not serve it otherwise (no module
        ``__getattr__``, no star import from a module not read, such as a compiled one)."""
        path, floor, found = self.locate(name)
        if found:
            return False
        parts = path.split(".")
        n = self._split(parts)
        module = self._module(".".join(parts[:n])) if n == floor - 1 else None
        return module is not None and self._closed(module, _MAX_HOPS)

    def _closed(self, module: _Module, depth: int) -> bool:
        """Whether ``module``'s names are all spelled out in files read (see :meth:`lacks`)."""
        if "__getattr__" in module.defined or depth == 0:
            return False
        for star in module.stars:
            inner = self._module(star)
            if inner is None or not self._closed(inner, depth - 1):
                return False
        return True

    def _follow(self, name: str) -> tuple[str, int, bool]:
        parts = name.split(".")
        for _ in range(_MAX_HOPS):
            n = self._split(parts)
            if n == 0:
                break
            if n == len(parts):
                return ".".join(parts), n, True
            module = self._module(".".join(parts[:n]))
            if module is not None and parts[n] in module.defined:
                return ".".join(parts), n + 1, True
            target = self._imported(module, parts[n], _MAX_HOPS) if module is not None else None
            if target is None:
                return ".".join(parts), n + 1, False
            parts = target.split(".") + parts[n + 1 :]
        return ".".join(parts), len(parts), False

    def _imported(self, module: _Module, name: str, depth: int) -> str | None:
        """The dotted name ``module`` binds ``name`` to by an import (a star import's too)."""
        if name in module.bound:
            return module.bound[name]
        for star in module.stars if depth > 0 else []:
            inner = self._module(star)
            if inner is None:
                continue
            if name in inner.defined or f"{star}.{name}" in self._files:
                return f"{star}.{name}"
            target = self._imported(inner, name, depth - 1)
            if target is not None:
                return target
        return None

    def _definition(self, name: str) -> tuple[_Module, _Def] | None:
        """What ``name`` names (a method too, inherited or not), and the module it is written in."""
        found = self._written(name)
        return (found[0], found[1]) if found is not None else None

    def defined_at(self, name: str) -> str | None:
        """Where the class member ``name`` is written, inherited or not: pandas'
        ``pandas.core.frame.DataFrame.first`` is ``pandas.core.generic.NDFrame.first``; None when
        ``name`` is not a member of a class of these modules."""
        found = self._written(name)
        return found[2] if found is not None and found[2].count(".") > found[0].path.count(".") + 1 else None

    def _written(self, name: str) -> tuple[_Module, _Def, str] | None:
        """:meth:`_definition`, with the dotted name it is written under (its class's, when inherited)."""
        parts = self.canonical(name).split(".")
        n = self._split(parts)
        module = self._module(".".join(parts[:n])) if 0 < n < len(parts) else None
        found = module.defined.get(parts[n]) if module is not None else None
        if module is None or found is None:
            return None
        path = ".".join(parts[: n + 1])
        for member_name in parts[n + 1 :]:
            member = self._member(module, path, found, member_name, _MAX_BASES)
            if member is None:
                return None
            module, found, path = member
        return module, found, path

    def _member(
        self, module: _Module, path: str, cls: _Def, name: str, depth: int
    ) -> tuple[_Module, _Def, str] | None:
        """Member ``name`` of class ``cls`` (``path``, written in ``module``), or of a base it has."""
        if name in cls.members:
            return module, cls.members[name], f"{path}.{name}"
        for base in cls.bases if depth > 0 else []:
            target = self._resolve_in(module, base)
            found = self._written(target) if target else None
            if found is not None and found[1].kind == "class":
                inherited = self._member(found[0], found[2], found[1], name, depth - 1)
                if inherited is not None:
                    return inherited
        return None

    def _resolve_in(self, module: _Module, name: str) -> str | None:
        """A name as ``module``'s code spells it (``Engine``, ``base.Engine``), as a dotted name."""
        head, _, rest = name.partition(".")
        if head in module.defined:
            full = f"{module.path}.{head}"
        else:
            full = self._imported(module, head, _MAX_HOPS) or ""
        if not full:
            return None
        return self.canonical(f"{full}.{rest}" if rest else full)

    def instance_of(self, name: str) -> str | None:
        """The class whose instance calling ``name`` gives: the class itself, or the one a function
        or method is annotated to return; None when that is not a class of these modules."""
        found = self._definition(name)
        if found is None:
            return None
        module, what = found
        if what.kind == "class":
            return self.canonical(name)
        target = self._resolve_in(module, what.returns) if what.returns else None
        if target in _SELF or (target is None and what.returns in _SELF):
            # ``-> Self``: an instance of the class the method is called on (a subclass's too)
            owner = name.rpartition(".")[0]
            kind = self._definition(owner) if owner else None
            return self.canonical(owner) if kind is not None and kind[1].kind == "class" else None
        kind = self._definition(target) if target is not None else None
        if kind is not None and kind[1].kind == "typevar" and kind[1].returns:
            # ``-> _S``, ``_S = TypeVar("_S", bound="Session")``: a Session
            target = self._resolve_in(kind[0], kind[1].returns)
            kind = self._definition(target) if target is not None else None
        return target if kind is not None and kind[1].kind == "class" else None


def tree_key(tree: Tree) -> str:
    """What a tree's summaries are kept under: its files' sha256 (and the summaries' format)."""
    return hashlib.sha256(json.dumps([_FORMAT, sorted(tree.hashes.items())]).encode()).hexdigest()[:32]


def outline(source: bytes) -> ast.Module:
    """A module's syntax tree without its functions' bodies, which no summary reads: pruned before
    it is parsed (2 to 4 times faster than parsing them: numpy, pandas and scikit-learn's 2,409
    modules in 1.2 s instead of 5.0 s), as griffe parses them. The whole module where it cannot be
    pruned (no ``prune_source``, or a source it does not take)."""
    prune = _pruner()
    if prune is not None and b"def" in source:
        with contextlib.suppress(SyntaxError, UnicodeDecodeError, LookupError):
            pruned = prune(importlib.util.decode_source(source))
            if pruned is not None:
                return ast.parse(pruned)
    return ast.parse(source)


@functools.cache
def _pruner() -> Callable[[str], str | None] | None:
    """griffe's `faster` extra, ``prune_source`` (ruff's parser), imported when first used (4 ms: not
    while a plan's dry run runs, when no module is read)."""
    try:
        from prune_source import prune_source
    except ImportError:  # installed with oxwizard (griffe[faster]); a missing one costs time only
        return None
    return prune_source


def summary_of(dotted: str, package: str, body: list[ast.stmt]) -> dict[str, Any]:
    """What module ``dotted`` binds (its top level ``body``), in the form kept: see :func:`_loaded`."""
    module = _Module(dotted, package)
    _read(module, body)
    defined = {k: v.dump() for k, v in module.defined.items()}
    return {"bound": module.bound, "stars": module.stars, "defined": defined}


def _loaded(dotted: str, package: str, summary: object) -> _Module | None:
    """A module's kept summary (None when there is none, or it cannot be read: read the file)."""
    if not isinstance(summary, dict):
        return None
    try:
        module = _Module(dotted, package, {str(k): str(v) for k, v in summary["bound"].items()})
        module.stars = [str(star) for star in summary["stars"]]
        module.defined = {str(k): _Def.load(v) for k, v in summary["defined"].items()}
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    return module


def _read(module: _Module, body: list[ast.stmt]) -> None:
    """What the top level of a module binds (in ``if``/``try`` blocks too; the first binding wins:
    ``try: from ._speedups import x`` before ``except ImportError: from ._native import x``)."""
    for node in body:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    module.bound.setdefault(alias.asname, alias.name)
        elif isinstance(node, ast.ImportFrom):
            base = absolute(module.package, node)
            for alias in node.names:
                if base is None:
                    continue
                if alias.name == "*":
                    module.stars.append(base)
                else:
                    module.bound.setdefault(alias.asname or alias.name, f"{base}.{alias.name}")
        elif isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            _define(module.defined, node)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name) and target.id not in module.bound:
                    module.defined.setdefault(target.id, _type_variable(node.value) or _Def("value"))
        elif isinstance(node, ast.If | ast.Try | ast.TryStar):
            for block in (
                node.body,
                getattr(node, "handlers", []),
                node.orelse,
                getattr(node, "finalbody", []),
            ):
                for inner in block:
                    _read(module, inner.body if isinstance(inner, ast.ExceptHandler) else [inner])


def _type_variable(value: ast.expr | None) -> _Def | None:
    """``TypeVar("T", bound=Session)`` (``typing.``, ``typing_extensions.``): a type variable with the
    class it is bound to; None for anything else (an unbound one: it stands for whatever is passed)."""
    if not (isinstance(value, ast.Call) and (dotted(value.func) or "").rpartition(".")[2] == "TypeVar"):
        return None
    bound = next((annotated(k.value) for k in value.keywords if k.arg == "bound"), None)
    return _Def("typevar", returns=bound) if bound else None


def _define(into: dict[str, _Def], node: ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) -> None:
    """A class (with its methods and inner classes) or a function; of several definitions under one
    name (``@overload``s), the first, with the first return annotation that names a class."""
    if isinstance(node, ast.ClassDef):
        members: dict[str, _Def] = {}
        for inner in node.body:
            if isinstance(inner, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                _define(members, inner)
        bases = [b for b in (dotted(base) for base in node.bases) if b]
        into.setdefault(node.name, _Def("class", bases=bases, members=members))
        return
    first = into.setdefault(node.name, _Def("function"))
    if first.kind == "function" and first.returns is None:
        first.returns = annotated(node.returns)


def module_of(path: str) -> str:
    """``pkg/sub/mod.py`` -> ``pkg.sub.mod``; ``pkg/__init__.py`` -> ``pkg``; ``m.cp311.so`` -> ``m``."""
    parts = list(PurePosixPath(path).parts)
    parts[-1] = parts[-1].split(".")[0]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def package_of(filename: str, module: str) -> str:
    """What a relative import in ``module`` starts from: the module itself when its file is a
    package's ``__init__``, else the package it is in."""
    return module if filename.split(".")[0] == "__init__" else module.rpartition(".")[0]


def absolute(package: str, node: ast.ImportFrom) -> str | None:
    """The module a ``from … import`` names, written in a module of ``package``."""
    if node.level == 0:
        return node.module
    parts = package.split(".") if package else []
    if node.level - 1 > len(parts):
        return None
    parts = parts[: len(parts) - (node.level - 1)]
    return ".".join([*parts, node.module] if node.module else parts) or None


def dotted(node: ast.expr) -> str | None:
    """``a.b.c`` for a chain of attributes on a name; None for anything else."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


def annotated(node: ast.expr | None) -> str | None:
    """The dotted name of the class an annotation stands for: ``Engine``, ``"Engine"``,
    ``Optional[Engine]``, ``Engine | None``, ``Result[Any]`` (the class); None for anything else."""
    for _ in range(_MAX_HOPS):
        if node is None:
            return None
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            try:
                node = ast.parse(node.value, mode="eval").body
            except UNPARSABLE:
                return None
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
            node = _but_none([node.left, node.right])
        elif isinstance(node, ast.Subscript):
            outer = (dotted(node.value) or "").rpartition(".")[2]
            if outer in _WRAPPERS:
                inner = node.slice
                node = inner.elts[0] if isinstance(inner, ast.Tuple) and inner.elts else inner
            elif outer == "Union" and isinstance(node.slice, ast.Tuple):
                node = _but_none(node.slice.elts)
            else:
                node = node.value  # a generic class: ``Result[Any]`` is a Result
        else:
            return dotted(node)
    return None


def _but_none(sides: list[ast.expr]) -> ast.expr | None:
    """The one side of ``X | None`` (``Union[X, None]``) that is not None; None for a real union."""
    kept = [side for side in sides if not (isinstance(side, ast.Constant) and side.value is None)]
    return kept[0] if len(kept) == 1 else None
