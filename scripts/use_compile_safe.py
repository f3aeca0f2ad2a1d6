"""Route every ``expm1``/``atanh``/``erf`` call in the package through ``special.compile_safe``.

Rewrites ``torch.expm1(x)``, ``torch.special.expm1(x)`` and ``x.expm1()`` (likewise ``atanh``
and ``erf``) into ``expm1(x)`` with ``from <relative>.special.compile_safe import expm1``
added, then runs ``ruff check --select I --fix`` and ``ruff format`` on the files it changed.
Idempotent: a second run changes nothing. Comments and docstrings are left alone (the
rewrite works on the syntax tree); a call with keyword arguments (``out=``) is reported and
left as it is.

    python scripts/use_compile_safe.py [PACKAGE_DIR]    # default: src/aleatorch
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

NAMES = ("expm1", "atanh", "erf")
SAFE_MODULE = ("special", "compile_safe")
ROOT = Path(__file__).resolve().parent.parent


def _is_torch(node: ast.AST) -> bool:
    """``torch`` or ``torch.special``."""
    if isinstance(node, ast.Name):
        return node.id == "torch"
    return (
        isinstance(node, ast.Attribute)
        and node.attr == "special"
        and isinstance(node.value, ast.Name)
        and node.value.id == "torch"
    )


def _offsets(data: bytes) -> list[int]:
    starts, total = [0], 0
    for line in data.splitlines(keepends=True):
        total += len(line)
        starts.append(total)
    return starts


def _span(node: ast.AST, starts: list[int]) -> tuple[int, int]:
    """Byte offsets of a node (ast counts UTF-8 bytes within a line)."""
    return (
        starts[node.lineno - 1] + node.col_offset,
        starts[node.end_lineno - 1] + node.end_col_offset,
    )


def _calls(tree: ast.AST):
    """``(call, name, receiver)`` for each call to rewrite; receiver None for torch.X(a)."""
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        name = node.func.attr
        if name not in NAMES:
            continue
        if _is_torch(node.func.value):
            if len(node.args) == 1 and not node.keywords:
                yield node, name, None
            else:
                print(f"  left as is (arguments): line {node.lineno}", file=sys.stderr)
        elif not node.args and not node.keywords:
            yield node, name, node.func.value


def _rewrite_once(source: str) -> tuple[str, set[str]]:
    tree = ast.parse(source)
    data = source.encode()
    starts = _offsets(data)
    found = sorted(_calls(tree), key=lambda c: _span(c[0], starts))
    edits, used, end = [], set(), -1
    for call, name, receiver in found:
        lo, hi = _span(call, starts)
        if lo < end:  # nested in an earlier edit: the next pass takes it
            continue
        if receiver is None:
            f_hi = _span(call.func, starts)[1]
            text = name.encode() + data[f_hi:hi]
        else:
            r_lo, r_hi = _span(receiver, starts)
            text = name.encode() + b"(" + data[r_lo:r_hi] + b")"
        edits.append((lo, hi, text))
        used.add(name)
        end = hi
    for lo, hi, text in reversed(edits):
        data = data[:lo] + text + data[hi:]
    return data.decode(), used


def _bound_names(tree: ast.AST) -> set[str]:
    """Names the module binds itself (other than by importing them from compile_safe)."""
    bound = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            bound.add(node.id)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            if isinstance(node, ast.ImportFrom) and (node.module or "").endswith("compile_safe"):
                continue
            bound.update((a.asname or a.name).split(".")[0] for a in node.names)
    return bound


def _relative_module(path: Path, package: Path) -> str:
    depth = len(path.relative_to(package).parts) - 1  # packages between the file and the root
    return "." * (depth + 1) + ".".join(SAFE_MODULE)


def _add_import(source: str, names: set[str], module: str) -> str:
    tree = ast.parse(source)
    have = set()
    for node in tree.body:
        if (
            isinstance(node, ast.ImportFrom)
            and node.level
            and (node.module or "") == module.lstrip(".")
        ):
            if node.level == len(module) - len(module.lstrip(".")):
                have.update(a.asname or a.name for a in node.names)
    missing = sorted(names - have)
    if not missing:
        return source
    last = None
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            last = node
    line = f"from {module} import {', '.join(missing)}\n"
    lines = source.splitlines(keepends=True)
    at = last.end_lineno if last is not None else 0
    if last is None:  # after the docstring, if any
        first = tree.body[0] if tree.body else None
        if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
            at = first.end_lineno
    return "".join(lines[:at] + [line] + lines[at:])


def rewrite(path: Path, package: Path) -> bool:
    original = path.read_text()
    source, used = original, set()
    while True:
        source, now = _rewrite_once(source)
        if not now:
            break
        used |= now
    if not used:
        return False
    clash = used & _bound_names(ast.parse(original))
    if clash:
        raise SystemExit(f"{path}: binds {sorted(clash)} itself; rewrite it by hand")
    source = _add_import(source, used, _relative_module(path, package))
    ast.parse(source)
    path.write_text(source)
    return True


def main(argv: list[str]) -> int:
    package = Path(argv[0]).resolve() if argv else ROOT / "src" / "aleatorch"
    skip = package.joinpath(*SAFE_MODULE).with_suffix(".py")
    changed = [
        path for path in sorted(package.rglob("*.py")) if path != skip and rewrite(path, package)
    ]
    for path in changed:
        print(f"rewrote {path}")
    if changed:
        venv_ruff = ROOT / ".venv" / "bin" / "ruff"
        ruff = str(venv_ruff) if venv_ruff.exists() else shutil.which("ruff") or "ruff"
        files = [str(p) for p in changed]
        subprocess.run([ruff, "check", "--quiet", "--select", "I", "--fix", *files], check=True)
        subprocess.run([ruff, "format", "--quiet", *files], check=True)
    print(f"{len(changed)} file(s) changed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
