"""Mutation testing of the rule modules: the score per module and every surviving mutant.

mutmut (the `dev` extra) copies `infra/` into `mutants/`, makes small changes ("mutants") to
the modules listed under `[tool.mutmut] only_mutate` in pyproject.toml, and runs, for each
mutant, the tests that call the mutated function in the pytest process. A mutant is killed
when one of them fails; a survivor is a change to a rule that no test notices. Tests that run
`npq-events` in a subprocess are not mapped to mutants (they still run with the mutant in
place when an in-process test maps them), so rules are best pinned through
`infra.cli.main.main(argv)` called in the test process.

Not run in CI: a fresh run takes tens of minutes on two cores. Run it from the repository root:

    .venv/bin/python bench/mutation.py                  # every module, 2 workers, fresh
    .venv/bin/python bench/mutation.py --max-children 1 --module infra/rules/verify.py
    .venv/bin/python bench/mutation.py --survivors      # after adding tests: what survived
    .venv/bin/python bench/mutation.py --report-only    # the last run's figures again

It prints, per module: mutants, killed (a test failed, or it timed out), survived, no tests
(no in-process test calls the function), other (suspicious, segfault), unchecked (the run was
interrupted before them), and the score, killed / (mutants - skipped - unchecked); then every
survivor and untested mutant with its diff, except those bench/equivalent-mutants.txt lists as
equivalent (a change no test can tell from the code, with why).
The workers run at low priority (nice 10) with CI=true (Hypothesis's derandomized profile, so
two runs on the same code agree). mutmut's own log goes to mutants/bench-mutation.log.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import tomllib
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MUTANTS = ROOT / "mutants"
MUTMUT = Path(sys.executable).with_name("mutmut")
EQUIVALENTS = ROOT / "bench" / "equivalent-mutants.txt"
TARGET = 90.0  # percent killed per module (the project's aim)
# mutmut's exit codes per mutant (mutmut/stats.py, status_by_exit_code), grouped as reported.
KILLED = {1, 3, 24, -24, 36, 37, 152, 255}  # a test failed, or it timed out / type check
SURVIVED = {0}
NO_TESTS = {5, 33}
SKIPPED = {34}
UNCHECKED = {None}  # an interrupted run


def modules() -> list[str]:
    """The files mutmut mutates, from pyproject.toml (the one place they are listed)."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mutmut"]
    return list(config["only_mutate"])


def equivalents() -> dict[str, str]:
    """The survivors judged equivalent (no test can tell them from the code), with why."""
    if not EQUIVALENTS.is_file():
        return {}
    listed = {}
    for line in EQUIVALENTS.read_text().splitlines():
        if line.startswith("infra."):
            name, _, why = line.partition(": ")
            listed[name] = why
    return listed


def mutant_pattern(module: str) -> str:
    """mutmut's name pattern for every mutant of one file (infra.rules.verify.*)."""
    return module.removesuffix(".py").replace("/", ".") + ".*"


def run(
    max_children: int, selected: list[str], fresh: bool, names: list[str] | None = None
) -> float:
    """One mutmut run: every mutant of `selected`, or only `names` (kept results stand)."""
    if fresh and MUTANTS.exists():
        shutil.rmtree(MUTANTS)
    MUTANTS.mkdir(exist_ok=True)
    command = [str(MUTMUT), "run", "--max-children", str(max_children)]
    if names is not None:
        command += names
    elif selected != modules():
        command += [mutant_pattern(module) for module in selected]
    log = MUTANTS / "bench-mutation.log"
    print(f"$ {' '.join(command)}   (log: {log.relative_to(ROOT)})", flush=True)
    started = time.monotonic()
    with log.open("w") as handle:
        done = subprocess.run(
            command,
            cwd=ROOT,
            env={**os.environ, "CI": "true"},
            stdout=handle,
            stderr=subprocess.STDOUT,
            preexec_fn=lambda: os.nice(10),
            check=False,
        )
    elapsed = time.monotonic() - started
    if done.returncode != 0:
        tail = log.read_text(errors="replace").splitlines()[-20:]
        sys.exit(f"mutmut run exited {done.returncode}; last lines of {log}:\n" + "\n".join(tail))
    return elapsed


def results(module: str) -> dict[str, int | None]:
    """Each mutant's exit code so far. During a run mutmut rewrites the file as results come
    in, so a read that meets it half-written is tried again."""
    meta = MUTANTS / f"{module}.meta"
    for _attempt in range(20):
        if not meta.is_file():
            return {}
        try:
            return json.loads(meta.read_text())["exit_code_by_key"]
        except (json.JSONDecodeError, KeyError):
            time.sleep(0.1)
    sys.exit(f"{meta} stays unreadable: is a mutmut run still writing it?")


def unfinished(selected: list[str], wanted: tuple[str, ...]) -> list[str]:
    """The mutants of `selected` whose last status is one of `wanted`."""
    return sorted(
        name
        for module in selected
        for name, code in results(module).items()
        if status(code) in wanted
    )


def recheck(max_children: int, selected: list[str]) -> float:
    """After tests were added: the survivors again, then any mutant left unchecked (mutmut
    makes new mutants of a function whose code changed). A killed mutant stays killed while
    tests are only added, so this gives the figures of a fresh run in a fraction of its time."""
    elapsed = 0.0
    for wanted in (("survived", "no tests", "unchecked"), ("unchecked",)):
        names = unfinished(selected, wanted)
        if names:
            elapsed += run(max_children, selected, fresh=False, names=names)
    return elapsed


def status(code: int | None) -> str:
    if code in KILLED:
        return "killed"
    if code in SURVIVED:
        return "survived"
    if code in NO_TESTS:
        return "no tests"
    if code in SKIPPED:
        return "skipped"
    if code in UNCHECKED:
        return "unchecked"
    return "other"


def report(selected: list[str]) -> list[str]:
    """Print the table and return the names of the mutants no test killed."""
    header = f"{'module':34} {'mutants':>7} {'killed':>6} {'surv.':>5} {'no tests':>8} "
    print(header + f"{'other':>5} {'unchecked':>9} {'score':>6}")
    unkilled: list[str] = []
    for module in selected:
        codes = results(module)
        counts = Counter(status(code) for code in codes.values())
        counted = len(codes) - counts["skipped"] - counts["unchecked"]
        score = 100.0 * counts["killed"] / counted if counted else 0.0
        mark = "" if score >= TARGET else f"  (under {TARGET:.0f}%)"
        print(
            f"{module:34} {len(codes):>7} {counts['killed']:>6} {counts['survived']:>5} "
            f"{counts['no tests']:>8} {counts['other']:>5} {counts['unchecked']:>9} "
            f"{score:>5.1f}%{mark}"
        )
        unkilled += sorted(
            name for name, code in codes.items() if status(code) in ("survived", "no tests")
        )
    return unkilled


def show(names: list[str]) -> None:
    for name in names:
        shown = subprocess.run(
            [str(MUTMUT), "show", name], cwd=ROOT, capture_output=True, text=True, check=False
        )
        print(shown.stdout.rstrip() or f"# {name}: (no diff: {shown.stderr.strip()})")
        print()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--max-children", type=int, default=2, help="mutmut workers (default 2: the cores)"
    )
    parser.add_argument(
        "--module",
        action="append",
        choices=modules(),
        help="only this file's mutants (repeatable; default every configured file)",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="keep mutants/ and mutmut's earlier results (default: start afresh)",
    )
    parser.add_argument(
        "--survivors",
        action="store_true",
        help="keep mutants/ and check again only what the last run did not kill (after adding "
        "tests; a killed mutant stays killed)",
    )
    parser.add_argument(
        "--report-only", action="store_true", help="print the last run's figures, run nothing"
    )
    parser.add_argument("--no-diffs", action="store_true", help="list survivors without diffs")
    args = parser.parse_args()
    selected = args.module or modules()
    if args.survivors:
        if not MUTANTS.exists():
            sys.exit("no mutants/ directory: run without --survivors first")
        elapsed = recheck(args.max_children, selected)
        print(f"mutmut run: {elapsed / 60:.1f} min with {args.max_children} workers")
    elif not args.report_only:
        elapsed = run(args.max_children, selected, fresh=not args.resume)
        print(f"mutmut run: {elapsed / 60:.1f} min with {args.max_children} workers")
    if not MUTANTS.exists():
        sys.exit("no mutants/ directory: run without --report-only first")
    print()
    unkilled = report(selected)
    known = equivalents()
    new = [name for name in unkilled if name not in known]
    print(
        f"\n{len(unkilled)} mutants not killed (survived, or no in-process test); "
        f"{len(unkilled) - len(new)} of them listed as equivalent in "
        f"{EQUIVALENTS.relative_to(ROOT)}, {len(new)} not:\n"
    )
    if args.no_diffs:
        print("\n".join(new))
    else:
        show(new)
    checked = {name for module in selected for name in results(module)}
    stale = sorted(name for name in known if name in checked and name not in unkilled)
    if stale:
        print("listed as equivalent but killed now (remove them from the list):")
        print("\n".join(stale))
    return 0


if __name__ == "__main__":
    sys.exit(main())
