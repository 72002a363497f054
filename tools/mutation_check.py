"""A quick mutation check of one module: do its tests fail when its code is subtly wrong?

    .venv/bin/python tools/mutation_check.py sync_pipeline/lib/flows/orders/release/ \\
        --tests sync_pipeline_tests/orders/test_release_scenarios.py sync_pipeline_tests/flows \\
        --sample 40 --seed 1

Each mutant is one small, plausible bug put into one line: a comparison flipped or made
non-strict (`<` → `<=`, `==` → `!=`, `in` → `not in`), `and` ↔ `or`, a `not` dropped, a guard
forced true (`if cond:` → `if True:`), a constant nudged (True ↔ False, n → n + 1), `+` ↔ `-`,
or a statement deleted (a call, `continue`, `break`, `return`, an assignment with a call).
For each, the given tests run with `-x` in a scratch copy of the repository (never in your
checkout, so an interrupted check leaves nothing behind), and the mutant is

- caught: some test failed (or the run hit its time limit, the baseline run's time x factor);
- survived: every test passed. Read each survivor: either it reveals a behaviour no test
  protects (write that test), or it is equivalent (the program cannot behave differently;
  note it and move on).

Why our own script and not mutmut or cosmic-ray: mutmut 3 rewrites every function into
trampolines inside a `mutants/` copy and runs its own forking runner, which fights the
subprocesses our tests start (the CLI, Dagster run workers, uvicorn servers); cosmic-ray runs
the whole test command per mutant with no per-module test selection beyond what you type. A
mutant here is a plain edit of a copy, so any test that passes normally behaves normally.

Not part of `make test`: a run takes minutes to an hour, depending on the module and tests.
"""

from __future__ import annotations

import argparse
import ast
import os
import queue
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
_SWAPS: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
}


@dataclass(frozen=True)
class Mutant:
    file: str  # relative to the repository root
    line: int
    start: tuple[int, int]  # (line, column) of the replaced source segment
    end: tuple[int, int]
    replacement: str
    description: str

    @property
    def name(self) -> str:
        return f"{self.file}:{self.line}: {self.description}: {self.replacement}"

    def apply(self, source: str) -> str:
        lines = source.splitlines(keepends=True)
        offsets = [0]
        for text in lines:
            offsets.append(offsets[-1] + len(text.encode("utf-8")))
        data = source.encode("utf-8")
        begin = offsets[self.start[0] - 1] + self.start[1]
        finish = offsets[self.end[0] - 1] + self.end[1]
        return (data[:begin] + self.replacement.encode("utf-8") + data[finish:]).decode("utf-8")


def _segment(node: ast.AST) -> tuple[tuple[int, int], tuple[int, int]]:
    return (node.lineno, node.col_offset), (node.end_lineno or node.lineno, node.end_col_offset or 0)  # type: ignore[attr-defined]


def _is_docstring(node: ast.stmt, parent: ast.AST) -> bool:
    body = getattr(parent, "body", None)
    return (
        bool(body) and body[0] is node and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
    )


def mutants_of(file: Path) -> list[Mutant]:
    """Every single-point mutant of one module, in source order."""
    source = file.read_text(encoding="utf-8")
    tree = ast.parse(source)
    rel = str(file.resolve().relative_to(REPO))
    found: list[Mutant] = []

    def add(node: ast.AST, replacement: str, description: str) -> None:
        start, end = _segment(node)
        found.append(Mutant(rel, node.lineno, start, end, replacement, description))  # type: ignore[attr-defined]

    for parent in ast.walk(tree):
        for node in ast.iter_child_nodes(parent):
            if isinstance(node, ast.Compare):
                for index, op in enumerate(node.ops):
                    swapped = _SWAPS.get(type(op))
                    if swapped is None:
                        continue
                    ops = [*node.ops]
                    ops[index] = swapped()
                    mutated = ast.Compare(left=node.left, ops=ops, comparators=node.comparators)
                    add(node, f"({ast.unparse(mutated)})", f"{type(op).__name__} → {swapped.__name__}")
            elif isinstance(node, ast.BoolOp):
                other = ast.Or() if isinstance(node.op, ast.And) else ast.And()
                add(node, f"({ast.unparse(ast.BoolOp(op=other, values=node.values))})", "and ↔ or")
            elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
                add(node, f"({ast.unparse(node.operand)})", "`not` dropped")
            elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Sub):
                other_op: ast.operator = ast.Sub() if isinstance(node.op, ast.Add) else ast.Add()
                mutated_binop = ast.BinOp(left=node.left, op=other_op, right=node.right)
                add(node, f"({ast.unparse(mutated_binop)})", "+ ↔ -")
            elif isinstance(node, ast.Constant) and isinstance(node.value, bool):
                add(node, str(not node.value), f"{node.value} → {not node.value}")
            elif isinstance(node, ast.Constant) and type(node.value) is int and 0 <= node.value <= 10_000:
                add(node, str(node.value + 1), f"{node.value} → {node.value + 1}")
            if isinstance(node, ast.If | ast.While) and not isinstance(node.test, ast.Constant):
                add(node.test, "True", "guard forced true")
            if isinstance(node, ast.stmt) and not _is_docstring(node, parent):
                deletable = isinstance(node, ast.Continue | ast.Break | ast.Return) or (
                    isinstance(node, ast.Expr | ast.Assign | ast.AugAssign)
                    and any(isinstance(n, ast.Call) for n in ast.walk(node))
                )
                body = getattr(parent, "body", []) + getattr(parent, "orelse", [])
                if deletable and len(body) > 1 and not isinstance(node, ast.Assign):
                    add(node, "pass", "statement deleted")
    return sorted(found, key=lambda m: (m.file, m.start))


def _copy_repo(target: Path) -> None:
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = REPO / name
        if source.is_file():
            destination = target / name
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination)


def _run_tests(copy: Path, tests: list[str], timeout: float | None) -> tuple[str, float]:
    env = {**os.environ, "PYTHONPATH": str(copy), "PYTHONDONTWRITEBYTECODE": "1"}
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-x",
        "-q",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:randomly",
        *tests,
    ]
    started = time.monotonic()
    try:
        result = subprocess.run(command, cwd=copy, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return "timeout", time.monotonic() - started
    return ("passed" if result.returncode == 0 else "failed"), time.monotonic() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("targets", nargs="+", help="module files or folders to mutate")
    parser.add_argument("--tests", nargs="+", required=True, help="pytest paths or node ids to run")
    parser.add_argument("--sample", type=int, default=None, help="check a random sample of this many")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2, help="mutants checked at once (one copy each)")
    parser.add_argument("--timeout-factor", type=float, default=3.0)
    parser.add_argument("--list", action="store_true", help="only list the mutants")
    parser.add_argument(
        "--only",
        nargs="+",
        default=None,
        help="check only these mutants, named as printed: 'file:line: description: replacement'",
    )
    args = parser.parse_args(argv)

    files = sorted(
        {f for t in args.targets for f in ([Path(t)] if Path(t).is_file() else Path(t).rglob("*.py"))}
    )
    mutants = [m for f in files for m in mutants_of(f)]
    if args.only is not None:
        wanted = {name.strip() for name in args.only}
        mutants = [m for m in mutants if m.name in wanted]
    if args.sample is not None and args.sample < len(mutants):
        mutants = sorted(
            random.Random(args.seed).sample(mutants, args.sample), key=lambda m: (m.file, m.start)
        )
    if args.list:
        for m in mutants:
            print(m.name)
        print(f"{len(mutants)} mutants")
        return 0

    with tempfile.TemporaryDirectory(prefix="mutation-check-") as scratch:
        copies = [Path(scratch) / f"copy{i}" for i in range(max(1, args.workers))]
        for copy in copies:
            _copy_repo(copy)
        verdict, baseline = _run_tests(copies[0], args.tests, None)
        if verdict != "passed":
            print(f"the tests fail without any mutant ({verdict}); fix them first", file=sys.stderr)
            return 2
        limit = baseline * args.timeout_factor + 30
        print(
            f"baseline: tests pass in {baseline:.0f}s; {len(mutants)} mutants, time limit {limit:.0f}s each"
        )

        todo: queue.Queue[Mutant] = queue.Queue()
        for m in mutants:
            todo.put(m)
        results: list[tuple[Mutant, str]] = []
        lock = threading.Lock()

        def work(copy: Path) -> None:
            while True:
                try:
                    mutant = todo.get_nowait()
                except queue.Empty:
                    return
                path = copy / mutant.file
                original = path.read_text(encoding="utf-8")
                try:
                    mutated = mutant.apply(original)
                    ast.parse(mutated)
                    path.write_text(mutated, encoding="utf-8")
                    outcome, _ = _run_tests(copy, args.tests, limit)
                except SyntaxError:
                    outcome = "invalid"
                finally:
                    path.write_text(original, encoding="utf-8")
                status = {"failed": "caught", "timeout": "caught", "passed": "SURVIVED"}.get(outcome, outcome)
                with lock:
                    results.append((mutant, status))
                    print(f"[{len(results)}/{len(mutants)}] {status:8} {mutant.name}", flush=True)

        threads = [threading.Thread(target=work, args=(copy,)) for copy in copies]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    valid = [(m, s) for m, s in results if s != "invalid"]
    survived = [m for m, s in valid if s == "SURVIVED"]
    caught = len(valid) - len(survived)
    score = 100.0 * caught / len(valid) if valid else 0.0
    print(f"\ncaught {caught} / {len(valid)} ({score:.0f} %); survived {len(survived)}")
    for m in sorted(survived, key=lambda m: (m.file, m.start)):
        print(f"  survived: {m.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
