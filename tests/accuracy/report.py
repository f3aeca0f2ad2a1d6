"""Measure every group and print (or write) the worst-error table and the PENDING list.

Usage (from the repository root)::

    .venv/bin/python -m tests.accuracy.report           # print the table and the failures
    .venv/bin/python -m tests.accuracy.report --write   # also rewrite docs/accuracy.md's table
                                                        # and tests/accuracy/pending.py
"""

from __future__ import annotations

import argparse
import json
import math
import time

from .harness import BUDGET, EPS, METHOD_ORDER, ROOT, TABLE, groups, measure

DOCS = ROOT / "docs" / "accuracy.md"
PENDING_FILE = ROOT / "tests" / "accuracy" / "pending.py"
START, END = "<!-- accuracy-table:start -->", "<!-- accuracy-table:end -->"
SHORT = {
    "log_prob": "log_prob",
    "cdf": "cdf",
    "survival_function": "sf",
    "log_cdf": "log_cdf",
    "log_survival_function": "log_sf",
    "icdf": "icdf",
    "entropy": "entropy",
    "mean": "mean",
    "variance": "variance",
    "kl": "KL",
}


def _cell(m, dtype) -> str:
    if m is None:
        return ""
    if m.error is not None:
        return "**raises**" if "NotImplemented" not in m.error else "**n/a**"
    v = m.worst / EPS[dtype]
    text = "inf" if math.isinf(v) else ("0" if v == 0 else f"{v:.2g}")
    return f"**{text}**" if not m.ok else text


def table(results) -> str:
    families = sorted({g[0] for g in results})
    methods = [m for m in METHOD_ORDER if any(g[1] == m for g in results)]
    lines = [
        "| family | " + " | ".join(SHORT[m] for m in methods) + " |",
        "|---" * (len(methods) + 1) + "|",
    ]
    for fam in families:
        cells = []
        for meth in methods:
            a = results.get((fam, meth, "float64"))
            b = results.get((fam, meth, "float32"))
            cells.append(
                "" if a is None and b is None else f"{_cell(a, 'float64')} / {_cell(b, 'float32')}"
            )
        lines.append(f"| {fam} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def pending_source(results) -> str:
    head = PENDING_FILE.read_text().split("PENDING:")[0]
    body = ["PENDING: dict[tuple[str, str, str], tuple[float, str]] = {"]
    for g, m in sorted(results.items()):
        if not m.ok:
            what = m.error if m.error is not None else m.worst_case
            worst = "math.inf" if math.isinf(m.worst) else f"{m.worst:.3g}"
            key = "(" + ", ".join(json.dumps(k) for k in g) + ")"
            body.append(
                f"    {key}: (\n        {worst},\n        {json.dumps(what[:300])},\n    ),"
            )
    body.append("}")
    if len(body) == 2:
        body = [body[0] + "}"]
    text = head.replace("import math\n\n", "") + "\n".join(body) + "\n"
    if "math.inf" in text:
        text = text.replace('"""\n\nPENDING', '"""\n\nimport math\n\nPENDING', 1)
    return text


def main(argv=None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--family", action="append", help="measure only these families")
    parser.add_argument("--cases", action="store_true", help="list every case over budget")
    args = parser.parse_args(argv)
    if args.write and args.family:
        parser.error("--write needs every family")
    t0 = time.perf_counter()
    chosen = [g for g in groups() if not args.family or g[0] in args.family]
    results = {g: measure(*g) for g in chosen}
    elapsed = time.perf_counter() - t0
    md = table(results)
    print(md)
    bad = {g: m for g, m in results.items() if not m.ok}
    print(f"\n{len(results)} groups, {len(bad)} over budget, measured in {elapsed:.1f} s")
    for g, m in sorted(bad.items()):
        print(g, f"{m.worst:.3g}", m.error or m.worst_case)
        if args.cases:
            for line in m.over:
                print("    ", line)
    if args.write:
        prov = TABLE["provenance"]
        note = (
            f"Cells: worst error in units of eps (float64 / float32); budget "
            f"{BUDGET['float64'] / EPS['float64']:.0f} / {BUDGET['float32'] / EPS['float32']:.0f}; "
            f"**bold** = over budget (pending), n/a = the method raises NotImplementedError. "
            f"References: mpmath {prov['mpmath']} at {prov['dps']} digits."
        )
        text = DOCS.read_text()
        a, b = text.index(START) + len(START), text.index(END)
        DOCS.write_text(text[:a] + "\n" + note + "\n\n" + md + "\n" + text[b:])
        PENDING_FILE.write_text(pending_source(results))
        print(f"wrote {DOCS} and {PENDING_FILE}")


if __name__ == "__main__":
    main()
