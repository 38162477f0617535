"""Coverage signal from inside the actor processes: a feature map in shared memory.

atheris keeps its coverage counters in the fuzzing process's private memory, so code
that runs in an actor process is invisible to it (DESIGN section 6). Actors therefore
write *features* into a map in the run segment, one byte per feature id, and the
parent hands the ids of each run to libFuzzer (:mod:`ccwfuzz.engines.fuzz`). Two kinds
of feature land in the map:

* **blocks**: :func:`instrument` recompiles the functions of a module (a driver model,
  the channel code) so that every block of statements (a function body, each arm of an
  ``if``, including the implicit empty ``else``, loop bodies and exits, ``except`` and
  ``finally`` clauses) stores a 1 at its own id before it runs. The id is a hash of
  the module and the block's position, so it is the same in every process and run;
  the function objects keep their identity (only ``__code__`` changes), so classes,
  bound methods and ``isinstance`` are untouched.
* **domain signal**: the scheduler's side writes hashed tuples (FSM state, event and
  result, instruction and condition code, SCSW transitions, which actor touched a
  shared object after which) with :func:`mix` (see :mod:`ccwfuzz.sync.sched`).

A store costs one bytecode subscript (~35 ns); nothing is recorded that is not
deterministic in a controlled run, so the same input gives the same features.

This module imports nothing else from ccwfuzz: the device and driver code it
instruments sit above it, and reach the map only through the module global
:data:`GLOBAL` that :func:`bind` sets.
"""

from __future__ import annotations

import ast
import sys
import types
import zlib
from collections.abc import Iterable
from typing import Any

#: Feature ids are in ``[0, FEATURES)``; the map is one byte per id.
FEATURES = 1 << 14
MASK = FEATURES - 1
#: The name instrumented code stores through (a module global of each instrumented module).
GLOBAL = "_ccwfuzz_cov_"

_DUMMY = bytearray(FEATURES)  # where stores go while no run segment is bound
_instrumented: dict[str, types.ModuleType] = {}
_bound: Any = _DUMMY


def block_id(module: str, lineno: int, col: int, arm: int = 0) -> int:
    """The stable feature id of one block of ``module`` (same in every process)."""
    return zlib.crc32(f"{module}:{lineno}:{col}:{arm}".encode()) & MASK


def mix(*parts: int) -> int:
    """A feature id for a tuple of small integers (domain signal): cheap, stable, and
    spread over the map (a multiply-xor hash, not Python's salted ``hash``)."""
    h = 0x811C9DC5
    for p in parts:
        h = ((h ^ (p & 0xFFFFFFFF)) * 0x01000193) & 0xFFFFFFFF
    return (h ^ h >> 15) & MASK


# ---- block instrumentation ------------------------------------------------------------
class _Blocks(ast.NodeTransformer):
    """Prepends ``_ccwfuzz_cov_[id] = 1`` to every statement list inside functions."""

    def __init__(self, module: str) -> None:
        self.module = module
        self.blocks = 0

    def _mark(self, anchor: ast.AST, arm: int) -> ast.stmt:
        self.blocks += 1
        line, col = getattr(anchor, "lineno", 0), getattr(anchor, "col_offset", 0)
        ident = ast.Constant(block_id(self.module, line, col, arm))
        cell = ast.Subscript(value=ast.Name(GLOBAL, ast.Load()), slice=ident, ctx=ast.Store())
        store = ast.Assign(targets=[cell], value=ast.Constant(1))
        return ast.copy_location(store, anchor)

    def _body(self, stmts: list[ast.stmt], anchor: ast.AST, arm: int) -> list[ast.stmt]:
        if not stmts:
            return [self._mark(anchor, arm)]
        first = 0
        if (isinstance(stmts[0], ast.Expr) and isinstance(stmts[0].value, ast.Constant)
                and isinstance(stmts[0].value.value, str)):  # fmt: skip
            first = 1  # keep a docstring first
        return [*stmts[:first], self._mark(stmts[min(first, len(stmts) - 1)], arm),
                *stmts[first:]]  # fmt: skip

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> ast.AST:
        self.generic_visit(node)
        node.body = self._body(node.body, node, 0)
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        return self._function(node)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> ast.AST:
        return self._function(node)

    def visit_If(self, node: ast.If) -> ast.AST:
        self.generic_visit(node)
        node.body = self._body(node.body, node, 1)
        node.orelse = self._body(node.orelse, node, 2)  # the implicit else is a branch too
        return node

    def _loop(self, node: ast.For | ast.While | ast.AsyncFor) -> ast.AST:
        self.generic_visit(node)
        node.body = self._body(node.body, node, 1)
        node.orelse = self._body(node.orelse, node, 2)  # the loop ran out (no break)
        return node

    def visit_For(self, node: ast.For) -> ast.AST:
        return self._loop(node)

    def visit_AsyncFor(self, node: ast.AsyncFor) -> ast.AST:
        return self._loop(node)

    def visit_While(self, node: ast.While) -> ast.AST:
        return self._loop(node)

    def visit_Try(self, node: ast.Try) -> ast.AST:
        self.generic_visit(node)
        for k, h in enumerate(node.handlers):
            h.body = self._body(h.body, h, 3 + k)
        if node.orelse:
            node.orelse = self._body(node.orelse, node, 2)
        if node.finalbody:
            node.finalbody = self._body(node.finalbody, node, 1)
        return node

    def visit_match_case(self, node: ast.match_case) -> ast.AST:
        self.generic_visit(node)
        node.body = self._body(node.body, node.pattern, 1)
        return node


def _code_objects(code: types.CodeType) -> Iterable[types.CodeType]:
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            yield c
            yield from _code_objects(c)


def _functions(module: types.ModuleType) -> Iterable[types.FunctionType]:
    """The module's own functions and methods (not what it imported)."""
    seen: set[int] = set()

    def walk(ns: dict[str, Any], depth: int) -> Iterable[types.FunctionType]:
        for v in list(ns.values()):
            if isinstance(v, staticmethod | classmethod):
                v = v.__func__
            elif isinstance(v, property):
                for f in (v.fget, v.fset, v.fdel):
                    if isinstance(f, types.FunctionType) and id(f) not in seen:
                        seen.add(id(f))
                        yield f
                continue
            if isinstance(v, types.FunctionType) and id(v) not in seen:
                seen.add(id(v))
                yield v
            elif (isinstance(v, type) and v.__module__ == module.__name__ and depth < 4
                  and id(v) not in seen):  # fmt: skip
                seen.add(id(v))
                yield from walk(dict(vars(v)), depth + 1)

    return walk(dict(vars(module)), 0)


def instrument(module: types.ModuleType) -> int:
    """Recompile ``module``'s functions and methods with a store at every block;
    returns how many functions changed (0 if already done or no source is found).
    Idempotent; the module keeps working unchanged when no map is bound."""
    name = module.__name__
    if name in _instrumented:
        return 0
    path = getattr(module, "__file__", None)
    if not path or not path.endswith(".py"):
        return 0
    try:
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read(), path)
    except (OSError, SyntaxError, UnicodeDecodeError):
        return 0
    tree = ast.fix_missing_locations(_Blocks(name).visit(tree))
    compiled = compile(tree, path, "exec")
    by_name: dict[tuple[str, int], types.CodeType] = {}
    for code in _code_objects(compiled):
        by_name[(code.co_qualname, code.co_firstlineno)] = code
    vars(module)[GLOBAL] = _bound
    changed = 0
    for fn in _functions(module):
        old = fn.__code__
        if old.co_filename != path:
            continue  # generated (dataclass methods) or defined elsewhere
        new = by_name.get((old.co_qualname, old.co_firstlineno))
        if new is None or new.co_freevars != old.co_freevars:
            continue
        if fn.__globals__ is not vars(module):
            continue
        fn.__code__ = new
        changed += 1
    _instrumented[name] = module
    return changed


def instrument_names(names: Iterable[str]) -> int:
    """:func:`instrument` every already-imported module in ``names``."""
    return sum(instrument(sys.modules[n]) for n in names if n in sys.modules)


def bind(view: Any | None, only: Iterable[str] | None = None) -> None:
    """Make every instrumented module (those in ``only``, when given; the others go
    quiet) store into ``view`` (a writable buffer of :data:`FEATURES` bytes), or into
    a private dummy when None."""
    global _bound
    _bound = _DUMMY if view is None else view
    keep = None if only is None else set(only)
    for name, m in _instrumented.items():
        vars(m)[GLOBAL] = _bound if keep is None or name in keep else _DUMMY


def bound() -> Any:
    return _bound


# ---- the parent's side ----------------------------------------------------------------
def features(view: Any) -> list[int]:
    """The ids set in a map (ascending)."""
    data = bytes(view)
    out = []
    i = data.find(1)
    while i >= 0:
        out.append(i)
        i = data.find(1, i + 1)
    return out
