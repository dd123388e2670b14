"""The names of some packages a Python file uses, read with :mod:`ast` (nothing is imported).

Through its imports (``import a.b``, ``import a as x``, ``from a.b import c as d``, inside functions
and ``try`` blocks too), attribute access through those names, ``getattr(mod, "name")`` and
``importlib.import_module("a.b")`` with literal names; and through the values it keeps: a name (or
``self.x``) assigned what a call of an imported name returned (``engine = create_engine(url)``, also
``with … as conn``), or annotated with an imported class (``def run(e: Engine)``, ``e: Engine``), is
followed to its attributes: ``engine.execute`` is used as ``sqlalchemy.create_engine().execute``, ``()``
standing for the call (what it returns is read from the package's annotations when the uses are
joined with the changes: :mod:`oxwizard.checks.api_names`).

A value is followed in its function's scope (a module-level one in the functions too, unless they
bind the name themselves); a name bound to two different things in one scope is not followed. An
attribute of ``self`` (or any name) is followed in the whole file.
"""

from __future__ import annotations

import ast
import bisect
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from oxwizard.checks.api_names import UNPARSABLE, absolute, annotated, dotted

# The fields of a statement that hold statements (or handlers and match cases, which hold them): an
# import is a statement, so it is found without visiting any expression (most of a syntax tree).
_STATEMENT_LISTS = ("body", "orelse", "finalbody", "handlers", "cases")
_ROUNDS = 4  # passes over the bindings: ``conn = engine.connect()`` after ``engine = create_engine()``


@dataclass(frozen=True)
class Call:
    """How a use calls the name: what a signature change breaks depends on it."""

    positional: int  # the arguments passed by position
    keywords: tuple[str, ...]  # the names passed by keyword
    spread: bool = False  # ``*args`` or ``**kwargs``: what they pass is not known

    @classmethod
    def of(cls, node: ast.Call) -> Call:
        spread = any(isinstance(a, ast.Starred) for a in node.args) or any(
            k.arg is None for k in node.keywords
        )
        positional = sum(not isinstance(a, ast.Starred) for a in node.args)
        return cls(positional, tuple(sorted(k.arg for k in node.keywords if k.arg)), spread)


@dataclass(frozen=True)
class Use:
    line: int
    name: str  # the dotted name used; ``()`` after a part: the value its call returns
    call: Call | None = None  # where the use calls the name: how
    how: str = ""  # "import": the import binding it; "bare": an imported name by itself (``render(x)``)


# A file's classes derived from a class of the changed distributions: name -> (that class, the
# names the file's class defines itself)
Classes = dict[str, tuple[str, set[str]]]


def derived_classes(source: str, tops: set[str]) -> Classes:
    """The classes ``source`` derives from a class of ``tops``' modules (``class User(BaseModel)``),
    for the project's other files that import them (:func:`find_uses`'s ``project``)."""
    if "class " not in source:
        return {}
    try:
        tree = ast.parse(source)
    except UNPARSABLE:
        return {}
    imports = _Imports(tree, tops, "", "", None)
    return _subclasses(imports.classes, imports.bound, {}) if imports.bound else {}


class _Imports:
    """What a file's imports bind: the names of ``tops``' modules (and those uses), and the
    project's derived classes it imports (from ``project``, relative to ``package``)."""

    def __init__(
        self,
        tree: ast.Module,
        tops: set[str],
        filename: str,
        package: str,
        project: dict[str, Classes] | None,
    ) -> None:
        self.bound: dict[str, str] = {}  # local name -> the dotted name (the whole file: no scopes)
        self.members: set[str] = set()  # those bound by ``from … import``: used by themselves
        self.imported: Classes = {}  # the project's derived classes the file imports
        self.uses: list[Use] = []
        self.limits: list[str] = []
        self.classes: list[ast.ClassDef] = []  # every class the file defines (read in the same pass)
        for node in _every_statement(tree):
            if isinstance(node, ast.ClassDef):
                self.classes.append(node)
                continue
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] in tops:
                        self.uses.append(Use(node.lineno, alias.name, how="import"))
                        top = alias.name.split(".")[0]
                        self.bound[alias.asname or top] = alias.name if alias.asname else top
            elif node.level == 0 and node.module and node.module.split(".")[0] in tops:
                for alias in node.names:
                    if alias.name == "*":
                        where = f"{filename}:{node.lineno}"
                        self.limits.append(
                            f"{where}: from {node.module} import * (names from it not followed)"
                        )
                        continue
                    full = f"{node.module}.{alias.name}"
                    self.uses.append(Use(node.lineno, full, how="import"))
                    self.bound[alias.asname or alias.name] = full
                    self.members.add(alias.asname or alias.name)
            elif project and (base := absolute(package, node)) in project:
                classes = project[base or ""]
                for alias in node.names:
                    if alias.name in classes:
                        self.imported[alias.asname or alias.name] = classes[alias.name]


def find_uses(
    source: str,
    tops: set[str],
    *,
    filename: str = "<file>",
    package: str = "",
    project: dict[str, Classes] | None = None,
) -> tuple[list[Use], list[str]]:
    """The dotted names of ``tops``' modules that ``source`` uses, by line, and what it does that
    cannot be followed statically (star imports, computed names) as ``file:line: …`` notes.

    ``project``: the project's modules' :func:`derived_classes`, by dotted module name; a class
    imported from one (``from app.models import User``, or relatively from ``package``) is followed
    as in the file that defines it."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return [], []
    except (RecursionError, MemoryError):  # generated code nested deeper than the parser goes
        return [], [f"{filename}: not read (nested too deep to parse)"]
    found = _Imports(tree, tops, filename, package, project)
    bound, members, uses, limits = found.bound, found.members, found.uses, found.limits
    if not bound and not uses and not found.imported:
        return [], limits

    def ours(name: str) -> bool:
        return name.split(".")[0] in tops

    values = _Values(tree, bound, found.imported, found.classes)
    # the attribute chains through imported names and kept values (the outermost of each chain: its
    # inner links are not visited), and dynamic access; depth first, in source order (as the notes are)
    stack: list[ast.AST] = [tree]
    called: dict[int, ast.Call] = {}  # id() of a call's function -> the call

    def how(node: ast.AST) -> Call | None:
        call = called.get(id(node))
        return Call.of(call) if call is not None else None

    while stack:
        at = stack.pop()
        if isinstance(at, ast.Attribute):
            name = dotted(at)
            if name is not None:
                head, _, rest = name.partition(".")
                if head in bound:
                    uses.append(Use(at.lineno, f"{bound[head]}.{rest}", how(at)))
                elif values.may_hold(head) and (kept := values.expand(name, values.scope_of(at))) is not None:
                    uses.append(Use(at.lineno, kept, how(at)))
                continue
            # a chain on a call or a subscript: its inner parts may still be ours
            form = _form(at)
            head = form.partition("(")[0].partition(".")[0] if form is not None else ""
            if form is not None and (head in bound or values.may_hold(head)):
                kept = values.expand(form, values.scope_of(at))
                if kept is not None:
                    uses.append(Use(at.lineno, kept, how(at)))
        elif isinstance(at, ast.Call):
            called[id(at.func)] = at
            uses += _dynamic(at, bound, ours, filename, limits)
        elif isinstance(at, ast.Name) and at.id in members and isinstance(at.ctx, ast.Load):
            uses.append(Use(at.lineno, bound[at.id], how(at), "bare"))
        stack.extend(reversed(list(ast.iter_child_nodes(at))))
    return sorted(set(uses), key=lambda u: (u.line, u.name)), limits


def _form(node: ast.expr) -> str | None:
    """``create_engine(url).execute`` -> ``create_engine().execute``; None for anything but names,
    attributes and calls (read in a loop: a builder's chain of calls can be long)."""
    parts: list[str] = []
    while not isinstance(node, ast.Name):
        if isinstance(node, ast.Attribute):
            parts.append(f".{node.attr}")
            node = node.value
        elif isinstance(node, ast.Call):
            parts.append("()")
            node = node.func
        else:
            return None
    return node.id + "".join(reversed(parts))


@dataclass(frozen=True)
class _Binding:
    scope: ast.AST  # the function, class or module it is written in
    key: str  # a name, or a dotted ``self.x``
    call: ast.Call | None = None  # the call whose result it is assigned (its value: read when joined)
    form: str | None = None  # or a value known when it is read: an annotation's class, ``self``


class _Values:
    """What the names of a file hold, where a call of an imported name or an annotation says; and
    the classes the file derives from an imported one (their own names are theirs, the rest their
    base's: ``self.dict()`` in a subclass of ``pydantic.BaseModel`` is ``pydantic.BaseModel().dict``)."""

    def __init__(
        self, tree: ast.Module, bound: dict[str, str], imported: Classes, classes: list[ast.ClassDef]
    ) -> None:
        self._bound = bound
        # local class (or one the project defines and this file imports) -> (imported base, own names)
        self._classes = {**imported, **_subclasses(classes, bound, imported)}
        self._tree = tree
        self._parent: dict[ast.AST, ast.AST] = {}  # a scope -> the scope it is written in
        bindings: list[_Binding] = []  # those that may hold a value followed
        self._other: set[tuple[ast.AST | None, str]] = set()  # slots also bound to something else
        self._collect(tree, tree, bindings)
        # the functions and classes by where they start: the scope of a node is found by its position
        starts = sorted(((getattr(n, "lineno", 0), getattr(n, "col_offset", 0)), n) for n in self._parent)
        self._starts = [start for start, _ in starts]
        self._scopes = [node for _, node in starts]
        self._held: dict[tuple[ast.AST | None, str], str | None] = {}  # (scope or None for a.b keys, key)
        for _ in range(_ROUNDS):
            held: dict[tuple[ast.AST | None, str], str | None] = {}
            for b in bindings:
                slot = (None if "." in b.key else b.scope, b.key)
                form = b.form or self._value_of(b.call, b.scope)
                if slot in self._other or (slot in held and held[slot] != form):
                    form = None  # bound to two different things here: not followed
                held[slot] = form
            if held == self._held or not any(held.values()):
                break
            self._held = held
        # the names an attribute chain must start with to be followed: those holding a value, the
        # local subclasses (``self``, ``cls`` hold them too)
        self._heads = {key.partition(".")[0] for (_, key), form in self._held.items() if form} | set(
            self._classes
        )

    def may_hold(self, name: str) -> bool:
        """Whether an attribute chain starting with ``name`` may be a followed value's."""
        return name.partition(".")[0] in self._heads

    def _bind(
        self,
        scope: ast.AST,
        out: list[_Binding],
        target: ast.expr,
        expr: ast.expr | None,
        annotation: bool = False,
    ) -> None:
        # (a method, not a closure calling itself: a self-referencing closure is a cycle, which keeps
        # each file's syntax tree alive until a garbage collection, and the plan pauses those)
        if isinstance(target, ast.Tuple | ast.List | ast.Starred):
            for element in target.elts if not isinstance(target, ast.Starred) else [target.value]:
                self._bind(scope, out, element, None)
            return
        key = dotted(target)
        if key is None or key.split(".")[0] in self._bound:
            return
        form = self._instance(expr) if annotation else None
        if form is not None:
            out.append(_Binding(scope, key, form=form))
        elif not annotation and isinstance(expr, ast.Call):
            out.append(_Binding(scope, key, call=expr))
        else:  # only a call's result or an annotation is followed: this is something else
            self._other.add((None if "." in key else scope, key))

    def _collect(self, node: ast.AST, scope: ast.AST, out: list[_Binding]) -> None:
        def bind(target: ast.expr, expr: ast.expr | None, annotation: bool = False) -> None:
            self._bind(scope, out, target, expr, annotation)

        for child in _statements(node):
            if isinstance(child, ast.Assign):
                if not (isinstance(child.value, ast.Constant) and child.value.value is None):
                    for target in child.targets:
                        bind(target, child.value)
            elif isinstance(child, ast.AnnAssign):
                bind(child.target, child.annotation, True)
            elif isinstance(child, ast.AugAssign | ast.For | ast.AsyncFor):
                bind(child.target, None)
            elif isinstance(child, ast.With | ast.AsyncWith):
                for item in child.items:
                    if item.optional_vars is not None:
                        bind(item.optional_vars, item.context_expr)
            elif isinstance(child, ast.ExceptHandler) and child.name:
                self._other.add((scope, child.name))
            elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                self._parent[child] = scope
                if not isinstance(child, ast.ClassDef):
                    self._parameters(child, scope, out)
                self._collect(child, child, out)

    def _parameters(
        self, func: ast.FunctionDef | ast.AsyncFunctionDef, scope: ast.AST, out: list[_Binding]
    ) -> None:
        a = func.args
        positional = [*a.posonlyargs, *a.args]
        decorators = {dotted(d) for d in func.decorator_list}
        owner = scope.name if isinstance(scope, ast.ClassDef) and scope.name in self._classes else None
        for arg in [*positional, *a.kwonlyargs, a.vararg, a.kwarg]:
            if arg is None:
                continue
            form = None
            if owner and positional and arg is positional[0] and arg.annotation is None:
                if "staticmethod" not in decorators:  # self: an instance; cls: the class
                    form = owner if "classmethod" in decorators else f"{owner}()"
            ann = arg.annotation if arg not in (a.vararg, a.kwarg) else None
            form = form or self._instance(ann)
            if form is not None:
                out.append(_Binding(func, arg.arg, form=form))
            else:  # a parameter of any other kind: what it holds is not known
                self._other.add((func, arg.arg))

    def _value_of(self, call: ast.Call | None, scope: ast.AST) -> str | None:
        form = _form(call) if call is not None else None
        return self._expand(form, scope) if form is not None else None

    def _instance(self, annotation: ast.expr | None) -> str | None:
        """``X()`` for an annotation naming an imported class (or a local subclass): what it holds."""
        if annotation is None:
            return None
        if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
            text = annotation.value  # parsed only when it mentions a name followed (pandas: many do not)
            if not any(name in text for name in (*self._bound, *self._classes)):
                return None
        cls = annotated(annotation)
        full = self._imported(cls) if cls is not None else None
        return f"{full}()" if full is not None else None

    def _imported(self, name: str) -> str | None:
        head, _, rest = name.partition(".")
        if head in self._classes and not rest:
            return head  # a local subclass: resolved where its attributes are used
        full = self._bound.get(head)
        return (f"{full}.{rest}" if rest else full) if full is not None else None

    def _expand(self, form: str, scope: ast.AST) -> str | None:
        """``form`` with its head replaced by what it holds here (an import's name, a kept value, a
        local subclass as is); None when its head is nothing followed."""
        path = form.partition("(")[0]
        parts = path.split(".")
        if parts[0] in self._bound and "(" in form:
            return self._bound[parts[0]] + form[len(parts[0]) :]
        if parts[0] in self._classes:
            return form
        for n in range(len(parts), 0, -1):
            key = ".".join(parts[:n])
            held = self._lookup(key, scope)
            if held is not None:
                return held + form[len(key) :]
        return None

    def expand(self, form: str, scope: ast.AST) -> str | None:
        """The use an attribute chain makes: ``engine.execute`` -> ``sqlalchemy.create_engine().execute``
        where ``engine`` holds that value here; ``create_engine().execute`` -> the same through the
        import; ``self.dict`` in a method of ``class User(BaseModel)`` -> ``pydantic.BaseModel().dict``
        (None when ``dict`` is the class's own). None when it starts with nothing followed, or ends
        with the value itself (an attribute of a value is a use, the value is not)."""
        expanded = self._expand(form, scope)
        head = (expanded or "").partition("(")[0].partition(".")[0]
        if expanded is not None and head in self._classes:
            base, own = self._classes[head]
            rest = expanded[len(head) :]
            member = rest.removeprefix("()").partition(".")[2].partition("(")[0].partition(".")[0]
            if not member or member in own:
                return None
            return base + rest
        if expanded is None or "()" not in expanded or expanded.endswith(")"):
            return None
        return expanded

    def scope_of(self, node: ast.expr) -> ast.AST:
        """The innermost function or class (else the module) whose text holds ``node``."""
        where = (node.lineno, node.col_offset)
        n = bisect.bisect_right(self._starts, where) - 1
        at: ast.AST | None = self._scopes[n] if n >= 0 else None
        while at is not None and at is not self._tree:
            end = (getattr(at, "end_lineno", 0) or 0, getattr(at, "end_col_offset", 0) or 0)
            if where <= end:
                return at
            at = self._parent.get(at)
        return self._tree

    def _lookup(self, key: str, scope: ast.AST) -> str | None:
        if "." in key:
            return self._held.get((None, key))
        at: ast.AST | None = scope
        while at is not None:
            if (at, key) in self._held:
                return self._held[(at, key)]
            if (at, key) in self._other:
                return None  # bound here to something not followed: it shadows the outer scopes'
            at = self._parent.get(at)
            while isinstance(at, ast.ClassDef):  # a method does not see its class's names
                at = self._parent.get(at)
        return None


def _subclasses(classes: list[ast.ClassDef], bound: dict[str, str], imported: Classes) -> Classes:
    """Of a file's classes (in source order), those defined on an imported one (or on such a class of
    its own, or of the project's it imports), each with that imported base and the names it defines
    itself (its own and its local bases'); a name two classes share is neither's."""
    out: Classes = {}
    twice: set[str] = set()
    for node in classes:
        if node.name in out:
            twice.add(node.name)
        for written in filter(None, (dotted(base) for base in node.bases)):
            head, _, rest = written.partition(".")
            if head in bound:
                out[node.name] = (bound[head] + (f".{rest}" if rest else ""), set(_own_names(node)))
                break
            known = out.get(written) or imported.get(written)
            if known is not None:
                out[node.name] = (known[0], set(_own_names(node)) | known[1])
                break
    for name in twice:
        out.pop(name, None)
    return out


def _own_names(cls: ast.ClassDef) -> Iterator[str]:
    """What a class's body defines, and the attributes its methods assign on ``self``."""
    for node in cls.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            yield node.name
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for statement in _every_statement(node):
                for target in _targets(statement):
                    if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name):
                        if target.value.id == "self":
                            yield target.attr
        else:
            yield from (t.id for t in _targets(node) if isinstance(t, ast.Name))


def _targets(statement: ast.AST) -> Iterator[ast.expr]:
    """What an assignment statement assigns to (tuples unpacked)."""
    if isinstance(statement, ast.Assign):
        found = list(statement.targets)
    elif isinstance(statement, ast.AnnAssign | ast.AugAssign):
        found = [statement.target]
    else:
        return
    while found:
        target = found.pop()
        if isinstance(target, ast.Tuple | ast.List):
            found += target.elts
        else:
            yield target


def _every_statement(tree: ast.AST) -> Iterator[ast.AST]:
    """Every statement under ``tree`` at any depth (in functions and classes too), in source order."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if node is not tree:
            yield node
        for field_name in _STATEMENT_LISTS:
            inner = getattr(node, field_name, None)
            if inner:
                stack.extend(reversed(inner))


def _statements(node: ast.AST) -> Iterator[ast.AST]:
    """The statements (and except handlers, match cases) directly in ``node``'s blocks, and those
    nested in its compound statements, but not in the functions and classes it defines."""
    for field_name in _STATEMENT_LISTS:
        for child in getattr(node, field_name, None) or []:
            yield child
            if not isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                yield from _statements(child)


def _dynamic(
    node: ast.Call, bound: dict[str, str], ours: Callable[[str], bool], filename: str, limits: list[str]
) -> list[Use]:
    """``getattr(mod, "x")``, ``importlib.import_module("a.b")``: followed if literal, noted if not."""
    func = dotted(node.func) or ""
    first = node.args[0] if node.args else None
    second = node.args[1] if len(node.args) > 1 else None
    if func in ("getattr", "hasattr") and isinstance(first, ast.Name | ast.Attribute):
        base = dotted(first)
        head, _, rest = (base or "").partition(".")
        if head not in bound:
            return []
        target = bound[head] + (f".{rest}" if rest else "")
        if isinstance(second, ast.Constant) and isinstance(second.value, str):
            return [Use(node.lineno, f"{target}.{second.value}")]
        limits.append(f"{filename}:{node.lineno}: {func}({target}, …) with a computed name")
    elif func.split(".")[-1] in ("import_module", "__import__") and first is not None:
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            return [Use(node.lineno, first.value)] if ours(first.value) else []
        limits.append(f"{filename}:{node.lineno}: {func}(…) with a computed module name")
    return []
