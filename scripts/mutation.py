"""A sampled, time-boxed mutation campaign over the protocol core and the Home Assistant layer.

Run it by hand through scripts/mutation (never from scripts/test: it takes tens of minutes).

How it works:
  1. The tree as it is right now (tracked and untracked files that git does not ignore) is copied
     to a fresh temporary folder outside the repository, once per layer. The product files are
     never written: every mutant lives in that copy (mutmut's own mutants/ folder inside it), so
     an interrupted campaign leaves the tree as it was.
  2. mutmut's generator lists every mutant of every module; a seeded random sample is drawn per
     module (N per module, or a percentage), the same sample for the same seed and source.
  3. mutmut needs the tests green with no mutant active. When one fails there (work in progress
     in the tree, or a test that reads the source files, which are mutmut's trampolines in its
     copy) the layer's tests run once on the instrumented copy, the failing ones are deselected,
     and mutmut starts again.
  4. mutmut runs the sample: one run of the tests records which tests reach which function, then
     each mutant runs only those tests, fastest first, with -x (first failure kills it) and a
     wall-clock limit (timeouts count as killed). Core mutants run tests/core, Home Assistant
     layer mutants run tests/components/lwm2m (benchmark smoke tests left out of both). Each
     test starts with the integration's functools caches empty (see PLUGIN below).
  5. Rechecked in fresh processes: a mutant no test reaches in-process ("no tests") runs the
     layer's tests that start child processes (the runner), which mutmut's mapping cannot see;
     a survivor in code run at import time runs the layer's whole selection (see recheck()).
  6. When the budget is spent the run is stopped; mutants not reached are reported as not run.
  7. The report: kill rate per module, totals for the core and for the HA layer, and each
     survivor with file:line and the mutation, so a test can be written that kills it.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import difflib
import fnmatch
import json
import math
import multiprocessing
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import libcst as cst
from mutmut.mutation.diff_apply import get_diff_for_mutant, read_functions_from_index
from mutmut.mutation.file_mutation import mutate_file_contents
from mutmut.stats import status_by_exit_code
from mutmut.utils.format_utils import get_mutant_name, orig_function_and_class_names_from_key

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "custom_components/lwm2m"
CORE = f"{PACKAGE}/lwm2m"


@dataclass(frozen=True)
class Layer:
    name: str
    title: str
    tests: tuple[str, ...]
    ignore: tuple[str, ...]
    cost: float  # rough seconds per mutant, to share the budget between the layers

    def owns(self, rel: str) -> bool:
        if self.name == "core":
            return rel.startswith(CORE + "/")
        return rel.startswith(PACKAGE + "/") and "/" not in rel[len(PACKAGE) + 1 :]


LAYERS = (
    Layer("core", "protocol core", ("tests/core",), ("tests/core/test_bench_smoke.py",), 6.0),
    Layer(
        "ha",
        "Home Assistant layer",
        ("tests/components/lwm2m",),
        ("tests/components/lwm2m/test_bench_smoke.py",),
        15.0,
    ),
)

# Statuses mutmut gives an exit code (mutmut.stats.status_by_exit_code), folded into the report's columns.
COLUMN = {
    "killed": "killed",
    "timeout": "timeout",
    "survived": "survived",
    "no tests": "no_tests",
    "caught by type check": "killed",
    "not checked": "not_run",
    "skipped": "not_run",
}
# Anything else (suspicious, segfault, interrupted) is an error: neither killed nor survived.

# Lines left unmutated unless --mutate-logging: a changed log message or argument is rarely worth a test.
LOGGING_PATTERNS = [r"^\s*_LOGGER\.\w+\("]

# A pytest plugin loaded into every test run of the campaign. mutmut forks each mutant's run from a
# process that has already run the tests, so a functools cache filled there (the bundled object
# model, built by the mutated ObjectDefinition.from_dict) would hide the mutant: emptied before
# each test, the cached functions run again under the mutant, and the first run maps every test
# that needs them.
PLUGIN = "lwm2m_mutation_reset"
PLUGIN_SOURCE = '''"""scripts/mutation: each test starts with the integration's functools caches empty."""

import sys

import pytest


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    for name, module in list(sys.modules.items()):
        if module is None or not name.startswith("custom_components."):
            continue
        for value in list(vars(module).values()):
            clear = getattr(value, "cache_clear", None)
            if callable(clear) and getattr(value, "__module__", None) == name:
                clear()
'''
PLUGIN_ENV: dict[str, str] = {}

STOP_MESSAGES = ("failed to collect stats", "Failed to run clean test", "FAILED: Unable to force test failures")


@dataclass
class Mutant:
    name: str
    rel: str
    layer: str
    status: str = "not_run"
    line: int | None = None
    before: str = ""
    after: str = ""
    diff: str = ""
    rechecked: bool = False  # run again in a fresh process (see recheck)


@dataclass
class LayerRun:
    layer: Layer
    workdir: Path
    mutants: list[Mutant]
    deselected: list[str] = field(default_factory=list)
    note: str = ""


def log(message: str) -> None:
    print(f"[mutation {time.strftime('%H:%M:%S')}] {message}", flush=True)


# ---------------------------------------------------------------------------------------------
# The copy of the tree


def tree_files() -> list[str]:
    out = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return [p for p in out.split("\0") if p and "node_modules/" not in p]


def copy_tree(files: list[str], dest: Path) -> None:
    dest.mkdir(parents=True)
    for rel in files:
        src = ROOT / rel
        if not src.is_file():  # deleted (or a submodule) since git listed it
            continue
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(OSError):
            shutil.copy2(src, target)
    # tests/core/conftest.py finds the OMA registry at <checkout>/../shared/lwm2m-registry; the
    # copy and mutmut's mutants/ folder inside it both look one level up.
    shared = ROOT.parent / "shared"
    if shared.is_dir():
        for link in (dest.parent / "shared", dest / "shared"):
            if not link.exists():
                link.symlink_to(shared)


# ---------------------------------------------------------------------------------------------
# Listing and sampling the mutants


def module_matches(rel: str, layer: Layer, patterns: list[str]) -> bool:
    """--module: a layer's name, a path or its tail (client.py, codecs/tlv.py), or a glob."""
    for raw in patterns:
        pattern = raw.strip("/")
        if rel == pattern or rel.endswith("/" + pattern):
            return True
        if pattern == layer.name or fnmatch.fnmatch(rel, pattern) or fnmatch.fnmatch(rel, f"*/{pattern}"):
            return True
    return False


def list_mutants(copy: Path, rel: str) -> list[str]:
    source = (copy / rel).read_text()
    mutated = mutate_file_contents(rel, source, None, None)
    return [get_mutant_name(Path(rel), name) for name in mutated.mutant_names]


def sample(names: list[str], rel: str, args: argparse.Namespace) -> list[str]:
    count = math.ceil(len(names) * args.percent / 100) if args.percent is not None else args.sample
    count = min(count, len(names))
    # One generator per module: a module's sample depends on the seed and its own mutants only.
    rng = random.Random(f"{args.seed}:{rel}")
    return sorted(rng.sample(names, count), key=lambda n: (len(n), n))


# ---------------------------------------------------------------------------------------------
# Running


def pytest_selection(layer: Layer, deselected: list[str]) -> list[str]:
    args = list(layer.tests)
    args += [f"--ignore={path}" for path in layer.ignore]
    for nodeid in deselected:
        args += ["--deselect", nodeid]
    return args


def failing_tests(output: str) -> list[str]:
    """Node ids of pytest's short summary (FAILED/ERROR lines); parameters may hold spaces."""
    found: list[str] = []
    for match in re.finditer(r"^(?:FAILED|ERROR) (\S+::.*)$", output, re.M):
        rest = match.group(1)
        bracket = rest.find("[")
        dash = rest.find(" - ")
        if bracket != -1 and (dash == -1 or bracket < dash):
            end = rest.find("] - ", bracket)
            nodeid = rest[: end + 1] if end != -1 else rest.rstrip()
        else:
            nodeid = rest if dash == -1 else rest[:dash]
        nodeid = nodeid.strip().removeprefix("mutants/")
        if nodeid not in found:
            found.append(nodeid)
    return found


def failing_on_the_copy(run: LayerRun, deadline: float, attempt: int) -> list[str]:
    """The layer's tests run once, without -x, on mutmut's instrumented copy with no mutant active.

    What fails there fails before any mutation: other people's work in progress in the tree, or a
    test that reads the source files (the copy's files are mutmut's trampolines). Deselected.
    """
    cmd = [sys.executable, "-m", "pytest", "-q", "-rfE", "-p", "no:randomly", "-p", PLUGIN]
    cmd += pytest_selection(run.layer, run.deselected)
    limit = max(30.0, deadline - time.monotonic())
    log(f"{run.layer.name}: a test failed with no mutant active; running all of them once to find every such test")
    logfile = run.workdir / f"unmutated-{attempt}.log"
    with open(logfile, "wb") as out:
        proc = start(cmd, run.workdir / "mutants", out, {"MUTANT_UNDER_TEST": ""})
        try:
            proc.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            pass
        finally:
            kill_group(proc)
    return failing_tests(logfile.read_text(errors="replace"))


def write_config(run: LayerRun, args: argparse.Namespace) -> None:
    """The [tool.mutmut] section, in the copy's pyproject.toml only."""
    files = sorted({m.rel for m in run.mutants})
    top = sorted(
        p.name
        for p in run.workdir.iterdir()
        if p.name not in {"custom_components", "tests", "pyproject.toml", "mutants", "shared"}
        and not p.name.endswith(".log")
    )
    section = {
        "source_paths": ["custom_components"],
        "only_mutate": files,
        "pytest_add_cli_args_test_selection": pytest_selection(run.layer, run.deselected),
        "pytest_add_cli_args": ["-p", "no:randomly", "-p", PLUGIN],
        "also_copy": top,
        "timeout_multiplier": float(args.timeout_multiplier),
        "timeout_constant": float(args.timeout_constant),
        "use_git_change_detection": False,
        "track_dependencies": True,
    }
    write_section(run.workdir, section | generator_settings(args))


def generator_settings(args: argparse.Namespace) -> dict[str, object]:
    """What decides which mutants exist and their names: the same for the listing and for mutmut."""
    return {
        "source_paths": ["custom_components"],
        "do_not_mutate_patterns": [] if args.mutate_logging else LOGGING_PATTERNS,
    }


def write_section(workdir: Path, section: dict[str, object]) -> None:
    lines = ["", "", "[tool.mutmut]"]
    lines += [f"{key} = {json.dumps(value)}" for key, value in section.items()]
    pyproject = workdir / "pyproject.toml"
    text = pyproject.read_text()
    if "[tool.mutmut]" in text:  # the tree may one day carry its own section: ours wins in the copy
        text = text[: text.index("[tool.mutmut]")]
    pyproject.write_text(text + "\n".join(lines) + "\n")


def read_results(workdir: Path, rels: set[str]) -> dict[str, int | None]:
    results: dict[str, int | None] = {}
    for rel in rels:
        meta = workdir / "mutants" / (rel + ".meta")
        for _ in range(5):
            try:
                results.update(json.loads(meta.read_text())["exit_code_by_key"])
                break
            except FileNotFoundError:
                break
            except (json.JSONDecodeError, KeyError):  # being written right now
                time.sleep(0.1)
    return results


# Every process group this script starts, so that an interrupt ends them all (and only them).
CHILDREN: list[subprocess.Popen[bytes]] = []


def start(cmd: list[str], cwd: Path, out: IO[bytes], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        cmd,
        cwd=cwd,
        env=os.environ | PLUGIN_ENV | (env or {}),
        stdout=out,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,  # its own group: stopped as a whole, with what its tests started
    )
    CHILDREN.append(proc)
    return proc


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)


def run_mutmut(run: LayerRun, args: argparse.Namespace, deadline: float) -> dict[str, int | None]:
    """mutmut run over the sample, stopped at the deadline; the exit code of each mutant."""
    names = [m.name for m in run.mutants]
    rels = {m.rel for m in run.mutants}
    mutmut = Path(sys.executable).with_name("mutmut")
    snapshot: dict[str, int | None] = {}
    for attempt in range(1, args.retries + 2):
        write_config(run, args)
        shutil.rmtree(run.workdir / "mutants", ignore_errors=True)
        logfile = run.workdir / f"mutmut-{attempt}.log"
        log(f"{run.layer.name}: mutmut run of {len(names)} mutants (attempt {attempt}, log {logfile})")
        with open(logfile, "wb") as out:
            proc = start([str(mutmut), "run", "--max-children", str(args.jobs), *names], run.workdir, out)
            try:
                last_report = time.monotonic()
                while proc.poll() is None:
                    time.sleep(2)
                    now = time.monotonic()
                    if now >= deadline:
                        snapshot = read_results(run.workdir, rels)
                        log(f"{run.layer.name}: budget spent, stopping mutmut")
                        kill_group(proc)
                        run.note += "stopped by the budget. "
                        return snapshot
                    if now - last_report >= args.progress_seconds:
                        last_report = now
                        progress(run, read_results(run.workdir, rels), deadline)
            except BaseException:
                snapshot = read_results(run.workdir, rels)
                kill_group(proc)
                run.note += "interrupted. "
                raise
            finally:
                if proc.poll() is None:
                    kill_group(proc)
        snapshot = read_results(run.workdir, rels)
        output = logfile.read_text(errors="replace")
        stopped = next((msg for msg in STOP_MESSAGES if msg in output), None)
        if proc.returncode == 0 or not stopped:
            if proc.returncode:
                run.note += f"mutmut exited with {proc.returncode} (see {logfile}). "
            return snapshot
        if stopped.startswith("FAILED: Unable") or attempt > args.retries:
            run.note += f"mutmut stopped: {stopped!r} (see {logfile}). "
            return snapshot
        new = [t for t in failing_on_the_copy(run, deadline, attempt) if t not in run.deselected]
        new = new or [t for t in failing_tests(output) if t not in run.deselected]  # a flaky one
        if not new:
            run.note += f"mutmut stopped: {stopped!r} (see {logfile}). "
            return snapshot
        log(f"{run.layer.name}: deselecting {len(new)} test(s) that fail with no mutant active, and retrying: {new}")
        run.deselected += new
    return snapshot


def child_process_tests(run: LayerRun) -> list[str]:
    """The layer's test files that start a Python child process, whose code mutmut's mapping cannot see."""
    names: list[str] = []
    for folder in run.layer.tests:
        for file in sorted((run.workdir / "mutants" / folder).rglob("test_*.py")):
            name = str(file.relative_to(run.workdir / "mutants"))
            text = file.read_text(errors="replace")
            if name not in run.layer.ignore and ("sys.executable" in text or "create_subprocess" in text):
                names.append(name)
    return names


def import_time_functions(source: str) -> set[str]:
    """Top-level functions a module calls while it is imported (directly, or through one another)."""
    tree = ast.parse(source)
    functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}

    def called(nodes: list[ast.AST]) -> set[str]:
        names: set[str] = set()
        stack = list(nodes)
        while stack:
            node = stack.pop()
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                # only the defaults (and decorators) of a definition run when it is defined
                stack += [d for d in (*node.args.defaults, *node.args.kw_defaults) if d is not None]
                stack += [] if isinstance(node, ast.Lambda) else node.decorator_list
                continue
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                names.add(node.func.id)
            stack += list(ast.iter_child_nodes(node))
        return names & functions.keys()

    found = called(list(tree.body))
    todo = list(found)
    while todo:
        for name in called(list(functions[todo.pop()].body)) - found:
            found.add(name)
            todo.append(name)
    return found


def recheck(run: LayerRun, args: argparse.Namespace, deadline: float) -> None:
    """Two kinds of mutant that mutmut's forked, pre-imported runs cannot judge, run in fresh processes.

    'no tests': mutmut maps tests to functions in its own process, so no test reaches the function
    there; a test that starts the runner (`python -m custom_components.lwm2m.lwm2m`) in a child
    process may (the child inherits MUTANT_UNDER_TEST): those tests are run.
    Survivors in code that runs while its module is imported (a table of entity descriptions built
    by a module-level call): mutmut's runs fork from a process that imported the module with no
    mutant active, so the mutant never ran; the layer's whole selection runs in a fresh process.
    """
    if args.no_recheck or not (run.workdir / "mutants").is_dir():
        return
    try:
        stats = json.loads((run.workdir / "mutants" / "mutmut-stats.json").read_text())
        durations: dict[str, float] = stats["duration_by_test"]
    except (OSError, ValueError, KeyError):
        durations = {}
    base = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:randomly", "-p", PLUGIN]
    for nodeid in run.deselected:
        base += ["--deselect", nodeid]
    work: list[tuple[Mutant, list[str], float]] = []

    children = child_process_tests(run)
    no_tests = [m for m in run.mutants if m.status == "no_tests"]
    if no_tests and children:
        clean = sum(d for t, d in durations.items() if t.split("::")[0] in children) or 60.0
        limit = (clean + args.timeout_constant) * args.timeout_multiplier
        work += [(m, base + children, limit) for m in no_tests]
        log(f"{run.layer.name}: {len(no_tests)} 'no tests' mutants run the {len(children)} child-process test files")

    at_import: dict[str, set[str]] = {}
    for m in run.mutants:
        if m.status == "survived" and m.rel not in at_import:
            at_import[m.rel] = import_time_functions((run.workdir / m.rel).read_text())
    import_time = [
        m
        for m in run.mutants
        if m.status == "survived"
        and orig_function_and_class_names_from_key(m.name)[1] is None
        and orig_function_and_class_names_from_key(m.name)[0] in at_import.get(m.rel, set())
    ]
    if import_time:
        limit = ((sum(durations.values()) or 120.0) + args.timeout_constant) * args.timeout_multiplier
        work += [(m, base + pytest_selection(run.layer, run.deselected), limit) for m in import_time]
        log(f"{run.layer.name}: {len(import_time)} survivors in import-time code run the whole selection afresh")

    running: dict[subprocess.Popen[bytes], tuple[Mutant, float, float]] = {}
    done = 0
    try:
        while work or running:
            while work and len(running) < args.jobs and time.monotonic() < deadline:
                mutant, cmd, limit = work.pop(0)
                out = open(run.workdir / "recheck.log", "ab")  # noqa: SIM115 - closed with the process
                proc = start(cmd, run.workdir / "mutants", out, {"MUTANT_UNDER_TEST": mutant.name})
                out.close()
                running[proc] = (mutant, time.monotonic(), limit)
            if not running:
                break
            time.sleep(0.5)
            for proc, (mutant, began, limit) in list(running.items()):
                now = time.monotonic()
                if proc.poll() is None and now - began < limit and now < deadline:
                    continue
                if proc.poll() is None:
                    kill_group(proc)
                    if now - began < limit:  # the budget, not the mutant
                        del running[proc]
                        continue
                    mutant.status = "timeout"
                elif proc.returncode in (1, 3):  # failed tests, or pytest's internal error
                    mutant.status = "killed"
                elif proc.returncode != 0:
                    mutant.status = "error"
                mutant.rechecked = True
                done += 1
                del running[proc]
    finally:
        for proc in running:
            kill_group(proc)
    if work:
        run.note += f"{len(work)} mutants not rechecked in a fresh process (budget). "
    if done:
        log(f"{run.layer.name}: rechecked {done} mutants in fresh processes")


def progress(run: LayerRun, results: dict[str, int | None], deadline: float) -> None:
    sampled = {m.name for m in run.mutants}
    done = [status_by_exit_code[code] for name, code in results.items() if code is not None and name in sampled]
    counts = {s: done.count(s) for s in sorted(set(done))}
    left = max(0, deadline - time.monotonic()) / 60
    log(f"{run.layer.name}: {len(done)}/{len(sampled)} mutants done {counts}; {left:.1f} min of budget left")


# ---------------------------------------------------------------------------------------------
# Describing the survivors


def function_def_line(source: str, mutant_name: str) -> int | None:
    func, cls = orig_function_and_class_names_from_key(mutant_name)
    tree = ast.parse(source)
    body = tree.body
    if cls:
        classes = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == cls]
        if not classes:
            return None
        body = classes[0].body
    for node in body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == func:
            return node.lineno
    return None


def describe(run: LayerRun, mutant: Mutant) -> None:
    """file:line of the first changed line, the changed lines before and after, the diff."""

    cwd = os.getcwd()
    try:
        os.chdir(run.workdir)
        functions = read_functions_from_index(mutant.name, mutant.rel)
        if functions is None:
            mutant.diff = get_diff_for_mutant(mutant.name, path=mutant.rel)
            return
    except Exception as exc:  # a report line is better than no report
        mutant.diff = f"(no diff: {exc})"
        return
    finally:
        os.chdir(cwd)
    orig, mutated = (cst.Module([function]).code.strip().split("\n") for function in functions)
    mutant.diff = "\n".join(difflib.unified_diff(orig, mutated, mutant.rel, mutant.rel, lineterm=""))
    first_change = None
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=orig, b=mutated, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        first_change = i1 if first_change is None else first_change
        mutant.before = "\n".join(filter(None, [mutant.before, *(line.strip() for line in orig[i1:i2])]))
        mutant.after = "\n".join(filter(None, [mutant.after, *(line.strip() for line in mutated[j1:j2])]))
    # The function's `def` line, in mutmut's text of it and in the file, ties the two together.
    func, _ = orig_function_and_class_names_from_key(mutant.name)
    def_line = function_def_line((run.workdir / mutant.rel).read_text(), mutant.name)
    pattern = re.compile(rf"\s*(async\s+)?def\s+{re.escape(func)}\s*(\[.*\])?\s*\(")  # def f[T](...) too
    def_index = next((i for i, text in enumerate(orig) if pattern.match(text)), None)
    if first_change is not None and def_line is not None and def_index is not None:
        mutant.line = def_line + first_change - def_index


# ---------------------------------------------------------------------------------------------
# The report


def classify(code: int | None) -> str:
    if code is None:
        return "not_run"
    return COLUMN.get(status_by_exit_code[code], "error")


def module_label(rel: str) -> str:
    return (
        rel.removeprefix(CORE + "/").removeprefix(PACKAGE + "/")
        if rel.startswith(CORE)
        else rel.removeprefix(PACKAGE + "/")
    )


def rate(row: dict[str, int]) -> str:
    tested = row["killed"] + row["timeout"] + row["survived"] + row["no_tests"]
    if not tested:
        return "-"
    return f"{100 * (row['killed'] + row['timeout']) / tested:5.1f}%"


def report(runs: list[LayerRun], args: argparse.Namespace, totals_of_listing: dict[str, int], elapsed: float) -> str:
    cols = ("sampled", "killed", "timeout", "survived", "no_tests", "not_run", "error")
    out: list[str] = []
    out.append("")
    out.append(
        f"Mutation campaign: seed {args.seed}, "
        + (f"{args.percent}% per module" if args.percent is not None else f"{args.sample} per module")
        + f", budget {args.budget_minutes} min, {elapsed / 60:.1f} min spent"
    )
    out.append(
        "kill rate = (killed + timeout) / (killed + timeout + survived + no tests); "
        "not run (budget) and errors are left out"
    )
    header = f"{'module':<34}" + "".join(f"{c.replace('_', ' '):>9}" for c in cols) + f"{'kill rate':>10}"
    for run in runs:
        out.append("")
        out.append(f"== {run.layer.title} ({run.layer.name}): tests {' '.join(run.layer.tests)}")
        if run.deselected:
            out.append(f"   deselected (they fail with no mutant active): {', '.join(run.deselected)}")
        if run.note:
            out.append(f"   note: {run.note.strip()}")
        out.append(header)
        total = dict.fromkeys(cols, 0)
        for rel in sorted({m.rel for m in run.mutants}):
            row = dict.fromkeys(cols, 0)
            for mutant in run.mutants:
                if mutant.rel == rel:
                    row["sampled"] += 1
                    row[mutant.status] += 1
            for c in cols:
                total[c] += row[c]
            label = f"{module_label(rel)} (of {totals_of_listing.get(rel, 0)})"
            out.append(f"{label:<34}" + "".join(f"{row[c]:>9}" for c in cols) + f"{rate(row):>10}")
        out.append(f"{'TOTAL ' + run.layer.name:<34}" + "".join(f"{total[c]:>9}" for c in cols) + f"{rate(total):>10}")

    out.append("")
    out.append(
        "Surviving mutants (file:line  original -> mutated); 'no tests' = no in-process test reaches the function"
    )
    rechecked = [m for run in runs for m in run.mutants if m.rechecked]
    if rechecked:
        killed = sum(m.status in ("killed", "timeout") for m in rechecked)
        out.append(
            f"({len(rechecked)} mutants rechecked in fresh processes ('no tests' ones against the tests that start "
            f"child processes, import-time ones against the whole selection): {killed} killed there, counted so)"
        )
    for run in runs:
        survivors = [m for m in run.mutants if m.status in ("survived", "no_tests")]
        for rel in sorted({m.rel for m in survivors}):
            out.append("")
            out.append(f"-- {rel}")
            for mutant in sorted((m for m in survivors if m.rel == rel), key=lambda m: (m.line or 0, m.name)):
                where = f"{rel}:{mutant.line}" if mutant.line else rel
                tag = ""
                if mutant.status == "no_tests":
                    tag = " [no tests; child-process tests run: survived]" if mutant.rechecked else " [no tests]"
                elif mutant.rechecked:
                    tag = " [import-time code; whole selection run afresh: survived]"
                before = mutant.before.replace("\n", " / ") or "?"
                after = mutant.after.replace("\n", " / ") or "(line removed)"
                out.append(f"{where}{tag}  ({mutant.name.rpartition('.')[2]})")
                out.append(f"      - {before}")
                out.append(f"      + {after}")
                if args.diffs:
                    out.extend("      " + line for line in mutant.diff.splitlines())
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------


def parse_args(argv: list[str]) -> argparse.Namespace:
    env = os.environ.get
    parser = argparse.ArgumentParser(
        prog="scripts/mutation",
        description="Sampled, time-boxed mutation testing (mutmut) of the protocol core and the Home Assistant layer.",
        epilog="Defaults can also come from MUTATION_SAMPLE, MUTATION_PERCENT, MUTATION_SEED, "
        "MUTATION_BUDGET_MINUTES, MUTATION_JOBS, MUTATION_TIMEOUT_MULTIPLIER, MUTATION_TIMEOUT_CONSTANT.",
    )
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--sample", type=int, default=int(env("MUTATION_SAMPLE", "20")), help="mutants per module (20)")
    size.add_argument(
        "--percent",
        type=float,
        default=float(os.environ["MUTATION_PERCENT"]) if env("MUTATION_PERCENT") else None,
        help="or this percentage of each module's mutants",
    )
    parser.add_argument("--seed", type=int, default=int(env("MUTATION_SEED", "1")), help="sampling seed (1)")
    parser.add_argument(
        "--module",
        action="append",
        default=[],
        help="only this module: a path, a tail of one (client.py, codecs/tlv.py), a glob, "
        "or 'core'/'ha' for all of a layer; repeatable",
    )
    parser.add_argument("--layer", choices=("core", "ha", "both"), default="both", help="which layer (both)")
    parser.add_argument(
        "--budget-minutes",
        type=float,
        default=float(env("MUTATION_BUDGET_MINUTES", "30")),
        help="wall-clock budget for the whole campaign; what is not reached is reported as not run (30)",
    )
    parser.add_argument("--jobs", type=int, default=int(env("MUTATION_JOBS", "2")), help="mutants tested at once (2)")
    parser.add_argument(
        "--timeout-multiplier",
        type=float,
        default=float(env("MUTATION_TIMEOUT_MULTIPLIER", "2")),
        help="per-mutant wall limit = (clean time of its tests + constant) x multiplier (2)",
    )
    parser.add_argument(
        "--timeout-constant",
        type=float,
        default=float(env("MUTATION_TIMEOUT_CONSTANT", "15")),
        help="seconds added to the clean time before multiplying (15)",
    )
    parser.add_argument(
        "--retries", type=int, default=3, help="reruns after tests that fail with no mutant active stop mutmut (3)"
    )
    parser.add_argument(
        "--mutate-logging", action="store_true", help="mutate _LOGGER calls too (left alone by default)"
    )
    parser.add_argument(
        "--no-recheck",
        action="store_true",
        help="skip the recheck in fresh processes of 'no tests' mutants (against the tests that start child "
        "processes) and of survivors in import-time code (against the whole selection)",
    )
    parser.add_argument("--diffs", action="store_true", help="print the full diff of each survivor")
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    parser.add_argument("--keep", action="store_true", help="keep the temporary copy (for mutmut show/browse)")
    parser.add_argument("--workdir", type=Path, help="where to make the copy (a new temporary folder)")
    parser.add_argument("--list", action="store_true", help="only list the modules and their mutant counts")
    parser.add_argument("--progress-seconds", type=float, default=60, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.percent is not None:
        args.sample = None
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    deadline = started + args.budget_minutes * 60

    parent = args.workdir or Path(tempfile.gettempdir())
    parent.mkdir(parents=True, exist_ok=True)
    base = Path(tempfile.mkdtemp(prefix="lwm2m-mutation-", dir=parent)).resolve()
    if base.is_relative_to(ROOT):
        print(f"mutation: the copy must live outside the repository, not in {base}", file=sys.stderr)
        shutil.rmtree(base)
        return 2

    def on_signal(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    # Also where the shell started us with SIGINT ignored (a background job): ^C or kill -INT stops
    # the campaign the same way, with a report of what was done and nothing left running.
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        return campaign(args, base, started, deadline)
    finally:
        if args.keep:
            print(f"\nThe copy is kept in {base} (cd {base}/<layer> && {Path(sys.executable).parent}/mutmut show NAME)")
        else:
            shutil.rmtree(base, ignore_errors=True)


def campaign(args: argparse.Namespace, base: Path, started: float, deadline: float) -> int:
    plugin_dir = base / "plugin"
    plugin_dir.mkdir()
    (plugin_dir / f"{PLUGIN}.py").write_text(PLUGIN_SOURCE)
    PLUGIN_ENV["PYTHONPATH"] = os.pathsep.join(filter(None, [str(plugin_dir), os.environ.get("PYTHONPATH")]))
    runs: list[LayerRun] = []
    totals: dict[str, int] = {}
    interrupted = False
    try:
        files = tree_files()
        layers = [layer for layer in LAYERS if args.layer in (layer.name, "both")]
        log(f"copying the tree ({len(files)} files) to {base}")
        for layer in layers:
            copy_tree(files, base / layer.name)

        first = base / layers[0].name
        write_section(first, generator_settings(args))
        os.chdir(first)  # mutmut reads its configuration from the working directory
        log("listing the mutants of every module")
        pool = ProcessPoolExecutor(max(1, args.jobs), mp_context=multiprocessing.get_context("fork"))
        for layer in layers:
            run = LayerRun(layer, base / layer.name, [])
            modules = sorted(
                rel for rel in files if rel.endswith(".py") and layer.owns(rel) and (run.workdir / rel).is_file()
            )
            if args.module:
                modules = [rel for rel in modules if module_matches(rel, layer, args.module)]
            for rel, names in zip(modules, pool.map(list_mutants, [run.workdir] * len(modules), modules), strict=True):
                totals[rel] = len(names)
                if args.list:
                    print(f"{layer.name:5} {rel:60} {len(names):5} mutants")
                    continue
                run.mutants += [Mutant(name, rel, layer.name) for name in sample(names, rel, args)]
            if run.mutants:
                runs.append(run)
        pool.shutdown()
        os.chdir(ROOT)
        if args.list:
            return 0
        if not runs:
            print("mutation: no module matched, or no mutants in them", file=sys.stderr)
            return 2
        for run in runs:
            log(
                f"{run.layer.name}: {len(run.mutants)} mutants sampled from {len({m.rel for m in run.mutants})} modules"
            )

        for index, run in enumerate(runs):
            # This layer's share of what is left, by the expected cost of the layers still to run.
            later = runs[index:]
            weight = [len(r.mutants) * r.layer.cost for r in later]
            left = deadline - time.monotonic()
            layer_deadline = time.monotonic() + left * weight[0] / sum(weight)
            results = run_mutmut(run, args, layer_deadline)
            for mutant in run.mutants:
                mutant.status = classify(results.get(mutant.name))
            recheck(run, args, layer_deadline if index < len(runs) - 1 else deadline)
    except KeyboardInterrupt:
        interrupted = True
        log("interrupted: reporting what was done (the product files were never touched)")
        for run in runs:
            if (run.workdir / "mutants").is_dir():
                results = read_results(run.workdir, {m.rel for m in run.mutants})
                for mutant in run.mutants:
                    if mutant.status == "not_run":
                        mutant.status = classify(results.get(mutant.name))
    finally:
        os.chdir(ROOT)
        for proc in CHILDREN:
            if proc.poll() is None:
                kill_group(proc)

    for run in runs:
        for mutant in run.mutants:
            if mutant.status in ("survived", "no_tests"):
                describe(run, mutant)
    print(report(runs, args, totals, time.monotonic() - started))
    if args.json:
        fields = ("name", "rel", "line", "layer", "status", "rechecked", "before", "after", "diff")
        args.json.write_text(
            json.dumps([{f: getattr(m, f) for f in fields} for run in runs for m in run.mutants], indent=1)
        )
    return 130 if interrupted else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
