"""Mutation check of the test suite (not run in CI): can the tests see real faults?

For every family in src/aleatorch/distributions/*.py, the methods ``_rsample`` and
``_log_prob`` are mutated one fault at a time, found by AST:

* ``detach``: every read ``self.<param>`` of one parameter becomes ``self.<param>.detach()``
  (the gradient through that parameter is lost; the values are unchanged);
* ``perturb``: ``self.<param>`` becomes ``(self.<param> * F)``, F = 1.001 in ``_log_prob``
  (the values are checked to 1e-6) and 1.05 in ``_rsample`` (Monte Carlo checks resolve ~1%);
* ``sign``: one ``+`` becomes ``-`` or the reverse.

Parameters: the keys of the class's ``arg_constraints`` (inherited within the same file),
plus the derived ones ``_unbroadcasted_scale_tril`` and ``_factor_terms``.

Each mutant is written into a temporary copy of ``src/`` (the real files are never touched:
others edit them concurrently), and ``tests/test_conformance.py -k <Family>`` then
``tests/distributions/`` run against it (PYTHONPATH first). A failing run kills the mutant.
A family whose unmutated copy already fails is reported and skipped.

Usage: .venv/bin/python scripts/mutation_check.py [--family Normal ...] [--ops detach ...]
"""

from __future__ import annotations

import argparse
import ast
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FAMILIES = ROOT / "src" / "aleatorch" / "distributions"
METHODS = ("_rsample", "_log_prob")
DERIVED = {"_unbroadcasted_scale_tril", "_factor_terms"}
FACTOR = {"_log_prob": "1.001", "_rsample": "1.05"}


@dataclass
class Mutant:
    path: Path  # relative to src/
    cls: str
    method: str
    op: str
    target: str
    edits: list[tuple[int, int, int, str]]  # (line, start col, end col, replacement)

    @property
    def name(self) -> str:
        return f"{self.cls}.{self.method} {self.op} {self.target}"


def _arg_constraints(tree: ast.Module) -> dict[str, set[str]]:
    """Class name -> parameter names, inherited from base classes in the same file."""
    own: dict[str, set[str]] = {}
    bases: dict[str, list[str]] = {}
    for node in tree.body:
        if not isinstance(node, ast.ClassDef):
            continue
        bases[node.name] = [b.id for b in node.bases if isinstance(b, ast.Name)]
        for stmt in node.body:
            if isinstance(stmt, (ast.Assign, ast.AnnAssign)):
                targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                if any(isinstance(t, ast.Name) and t.id == "arg_constraints" for t in targets):
                    if isinstance(stmt.value, ast.Dict):
                        own[node.name] = {
                            k.value for k in stmt.value.keys if isinstance(k, ast.Constant)
                        }

    def params(name: str) -> set[str]:
        if name in own:
            return own[name]
        return set().union(*(params(b) for b in bases.get(name, [])))

    return {name: params(name) for name in bases}


def mutants_of(path: Path) -> list[Mutant]:
    source = path.read_text()
    tree = ast.parse(source)
    params_of = _arg_constraints(tree)
    rel = path.relative_to(ROOT / "src")
    out = []
    for node in tree.body:
        if not isinstance(node, ast.ClassDef):
            continue
        names = params_of.get(node.name, set()) | DERIVED
        for method in node.body:
            if not (isinstance(method, ast.FunctionDef) and method.name in METHODS):
                continue
            reads: dict[str, list[ast.Attribute]] = {}
            flips = []
            for sub in ast.walk(method):
                if (
                    isinstance(sub, ast.Attribute)
                    and isinstance(sub.value, ast.Name)
                    and sub.value.id == "self"
                    and sub.attr in names
                    and isinstance(sub.ctx, ast.Load)
                ):
                    reads.setdefault(sub.attr, []).append(sub)
                if (
                    isinstance(sub, ast.BinOp)
                    and isinstance(sub.op, (ast.Add, ast.Sub))
                    and sub.lineno == sub.end_lineno
                ):
                    flips.append(sub)
            for attr, nodes in sorted(reads.items()):
                for op, text in [
                    ("detach", f"self.{attr}.detach()"),
                    ("perturb", f"(self.{attr} * {FACTOR[method.name]})"),
                ]:
                    edits = [(n.lineno, n.col_offset, n.end_col_offset, text) for n in nodes]
                    out.append(Mutant(rel, node.name, method.name, op, f"self.{attr}", edits))
            for binop in flips:
                flipped = ast.BinOp(
                    binop.left,
                    ast.Sub() if isinstance(binop.op, ast.Add) else ast.Add(),
                    binop.right,
                )
                text = f"({ast.unparse(flipped)})"
                edit = (binop.lineno, binop.col_offset, binop.end_col_offset, text)
                target = f"line {binop.lineno}: {ast.unparse(binop)}"
                out.append(Mutant(rel, node.name, method.name, "sign", target, [edit]))
    return out


def apply(source: str, edits: list[tuple[int, int, int, str]]) -> str:
    lines = source.splitlines(keepends=True)
    # Right to left within a line, so that earlier offsets stay valid (ast offsets are in
    # UTF-8 bytes: the sources are ASCII where they are mutated).
    for line, start, end, text in sorted(edits, key=lambda e: (e[0], e[1]), reverse=True):
        row = lines[line - 1]
        lines[line - 1] = row[:start] + text + row[end:]
    return "".join(lines)


def run_tests(src: Path, family: str, jobs: int) -> tuple[bool, str]:
    """(killed, which part failed): the family's conformance cases, then tests/distributions."""
    env = dict(os.environ, PYTHONPATH=str(src))
    base = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider"]
    if jobs > 1:
        base += ["-n", str(jobs)]
    runs = [
        ("conformance", ["tests/test_conformance.py", "-k", family]),
        ("distributions", ["tests/distributions/"]),
    ]
    for label, args in runs:
        done = subprocess.run(base + args, cwd=ROOT, env=env, capture_output=True, text=True)
        if done.returncode not in (0, 5):  # 5: no test selected
            return True, label
    return False, ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", nargs="*", help="only these classes")
    parser.add_argument("--ops", nargs="*", default=["detach", "perturb", "sign"])
    parser.add_argument("--jobs", type=int, default=2, help="pytest-xdist workers")
    parser.add_argument("--list", action="store_true", help="list the mutants and stop")
    opts = parser.parse_args()

    mutants = [
        m
        for path in sorted(FAMILIES.glob("*.py"))
        if not path.name.startswith("_")
        for m in mutants_of(path)
        if m.op in opts.ops and (not opts.family or m.cls in opts.family)
    ]
    if opts.list:
        for m in mutants:
            print(m.name)
        print(f"{len(mutants)} mutants")
        return 0

    results = []
    with tempfile.TemporaryDirectory(prefix="aleatorch-mutants-") as tmp:
        src = Path(tmp) / "src"
        shutil.copytree(ROOT / "src", src)
        check = subprocess.run(
            [sys.executable, "-c", "import aleatorch; print(aleatorch.__file__)"],
            env=dict(os.environ, PYTHONPATH=str(src)),
            capture_output=True,
            text=True,
            check=True,
        )
        assert check.stdout.strip().startswith(str(src)), "the copy is not the one imported"
        baseline: dict[str, bool] = {}
        for m in mutants:
            if m.cls not in baseline:
                killed, where = run_tests(src, m.cls, opts.jobs)
                baseline[m.cls] = not killed
                if killed:
                    print(f"{m.cls}: the UNMUTATED copy fails ({where}): its mutants skipped")
            if not baseline[m.cls]:
                continue
            target = src / m.path
            original = target.read_text()
            start = time.perf_counter()
            try:
                target.write_text(apply(original, m.edits))
                killed, where = run_tests(src, m.cls, opts.jobs)
            finally:
                target.write_text(original)
            seconds = time.perf_counter() - start
            results.append((m, killed, where))
            status = f"killed ({where})" if killed else "SURVIVED"
            print(f"{m.name:70s} {status:26s} {seconds:5.1f}s", flush=True)

    survivors = [m for m, killed, _ in results if not killed]
    print()
    print(f"{'mutant':70s} result")
    for m, killed, where in results:
        print(f"{m.name:70s} {'killed by ' + where if killed else 'SURVIVED'}")
    print(
        f"\n{len(results)} mutants run, {len(results) - len(survivors)} killed, "
        f"{len(survivors)} survived"
    )
    for m in survivors:
        print(f"  survivor: {m.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
