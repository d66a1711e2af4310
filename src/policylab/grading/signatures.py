"""What the solution and each misconception hand to every test cell, on one datasets folder.

The diagnosis (policylab.grading.diagnosis) names a learner's mistake by comparing the values the
learner's kernel exported for a failed test cell with the values each misconception exports for
the same cell on the same data. Those values are computed here once per module and datasets
folder, in one trusted kernel (our own solution code, never a learner's), and cached under
``grading/.cache/diagnosis/`` keyed by a fingerprint of the source folder, the data and this
package, so a batch pays for it once.

How one kernel serves ~25 misconceptions: the source notebook runs top to bottom; at each answer
cell that has misconceptions, each one is tried in turn — its code instead of the answer, then
the cells up to its test cells, which export their values as at grading — and the answer is run
again. A learner who made a mistake upstream carries it into later questions, so each entry is
also tried after every upstream entry whose names flow into its answer cell (``pairs``). After every
trial the test cells must export the solution's values again; if they do not (a mistake that changed
shared data in place), the namespace is put back from the snapshot taken when the clean run first reached
that answer cell (TrialKernel.snapshot), or, failing that, the kernel restarts and replays the clean
prefix, so one trial never leaks into the next.
"""
from __future__ import annotations

import ast
import hashlib
import json
import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

import policylab
from policylab.grading.bank import Misconception, load_bank
from policylab.grading.checks import split_test_cell
from policylab.grading.trial_kernel import kernel_for, release
from policylab.grading.values import EXPORT_MIME, export_line

CACHE_VERSION = 5
REPEATS = 5  # extra runs of an entry whose values change run to run
RANDOM = re.compile(r"random|rng|choice\(|sample\(|shuffle\(|permutation\(")  # code that may draw
FAILED_SUFFIX = ".failed"


@dataclass
class Signatures:
    module: str
    solution: dict[str, dict] = field(default_factory=dict)        # test grade_id → {name: plain doc}
    misconceptions: dict[str, dict] = field(default_factory=dict)  # misconception id → {test grade_id → {name: doc}}
    failed: dict[str, str] = field(default_factory=dict)           # misconception id → why it has no values
    errors: dict[str, str] = field(default_factory=dict)           # misconception id → the error its answer raises
    # two mistakes in a row: "<upstream id>+<id>" → {test grade_id → {name: doc}}, and the upstream one alone
    pairs: dict[str, dict] = field(default_factory=dict)
    upstream: dict[str, dict] = field(default_factory=dict)
    # an entry whose values change run to run (it draws unseeded random numbers): REPEATS more runs
    repeats: dict[str, list] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps({"version": CACHE_VERSION, "module": self.module, "solution": self.solution,
                           "misconceptions": self.misconceptions, "failed": self.failed, "errors": self.errors,
                           "pairs": self.pairs, "upstream": self.upstream, "repeats": self.repeats},
                          ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> "Signatures":
        doc = json.loads(text)
        if doc.get("version") != CACHE_VERSION:
            raise ValueError("old cache format")
        return cls(doc["module"], doc["solution"], doc["misconceptions"], doc["failed"], doc["errors"],
                   doc["pairs"], doc["upstream"], doc["repeats"])


def _meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def _is_test(cell) -> bool:
    meta = _meta(cell)
    return cell.cell_type == "code" and bool(meta.get("grade")) and not meta.get("solution")


def _assigned(code: str) -> set[str]:
    """Top-level names a cell binds: removed before a trial, so a mistake that fails half-way
    does not inherit the right answer from the run before it."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return set()
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
    return names


def fingerprint(source_dir: Path, datasets: Path) -> str:
    """Changes when the source notebooks, the bank, the data or this package change."""
    digest = hashlib.sha256(f"v{CACHE_VERSION}".encode())
    files = sorted(p for p in source_dir.glob("*") if p.is_file() and not p.is_symlink())
    manifest, draw = datasets / "MANIFEST.json", datasets / "DRAW.json"  # a draw is named by its fingerprint
    files += [draw] if draw.is_file() else [manifest] if manifest.is_file() \
        else sorted(p for p in datasets.glob("*") if p.is_file())
    package = Path(policylab.__file__).parent / "grading"
    files += sorted(package.glob("*.py"))
    for path in files:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:20]


def _exports(outputs: list, nonce: str, grade_id: str) -> dict | None:
    for out in outputs:
        data = out.get("data") or {}
        doc = data.get(EXPORT_MIME)
        if isinstance(doc, dict) and doc.get("nonce") == nonce and doc.get("grade_id") == grade_id:
            return doc.get("values")
    return None


def _reads(code: str) -> set[str]:
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return set()
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _writes(code: str) -> set[str]:
    """Names a cell may change: bound, stored into (``df[c] = …``, ``obj.a = …``) or called a method on
    (``lst.append(…)``, ``df.drop(…, inplace=True)``): an over-estimate, so pruning never drops a cell that matters."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return {"*"}
    names = _assigned(code)
    for node in ast.walk(tree):
        target = None
        if isinstance(node, (ast.Subscript, ast.Attribute)) and isinstance(node.ctx, (ast.Store, ast.Del)):
            target = node
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            target = node.func
        while isinstance(target, (ast.Subscript, ast.Attribute)):
            target = target.value
        if isinstance(target, ast.Name):
            names.add(target.id)
    return names


def needed_cells(cells: list, index: dict, bank: list[Misconception], targets: set[str]) -> set[int]:
    """The code cells a trial of ``bank`` on ``targets`` needs: the targets, the entries' answer cells, and
    every earlier cell that may change a name one of them reads (transitively)."""
    keep = {index[t] for t in targets if t in index} | {index[m.cell] for m in bank if m.cell in index} \
        | {index[t] for m in bank for t in m.targets if t in index}
    wanted: set[str] = set().union(*(_reads(cells[i].source) for i in keep), *(_reads(m.code) for m in bank))
    for i in range(max(keep, default=-1), -1, -1):
        if cells[i].cell_type != "code":
            continue
        if i in keep or (_writes(cells[i].source) & (wanted | {"*"})):
            keep.add(i)
            wanted |= _reads(cells[i].source)
    return keep


def _upstream(cells: list, index: dict, m: Misconception, by_cell: dict) -> list[Misconception]:
    """Misconceptions of earlier answer cells whose names flow into ``m``'s answer cell."""
    x = index[m.cell]
    found = []
    for y, upstream in by_cell.items():
        if y >= x:
            continue
        tainted = set().union(*(_assigned(u.code) for u in upstream)) | _assigned(cells[y].source)
        for j in range(y + 1, x):
            if cells[j].cell_type == "code" and not _is_test(cells[j]) and _reads(cells[j].source) & tainted:
                tainted |= _assigned(cells[j].source)
        if (_reads(cells[x].source) | _reads(m.code)) & tainted:
            found += upstream
    return found


def compute_signatures(module_id: str, source: Path, bank: list[Misconception], *, root: Path,
                       datasets: Path, timeout: int = 120, max_pairs: int = 200,
                       targets: set[str] | None = None) -> Signatures:
    """Run the source notebook once, trying every misconception at its answer cell, and each one
    after the upstream mistakes whose values flow into it (``pairs``, at most ``max_pairs``)."""
    nb = nbformat.read(source, as_version=4)
    cells = nb.cells
    index = {_meta(c).get("grade_id"): i for i, c in enumerate(cells) if _meta(c).get("grade_id")}
    nonce = secrets.token_hex(8)

    def as_run(i: int) -> str:  # what cell i executes: a test cell runs its probe and exports
        cell = cells[i]
        if not _is_test(cell):
            return cell.source
        parts = split_test_cell(cell.source)
        probe = parts.probe + ("\n" if parts.probe and not parts.probe.endswith("\n") else "")
        return probe + export_line(nonce, _meta(cell)["grade_id"], parts.exported_names)

    sig = Signatures(module_id)
    by_cell: dict[int, list[Misconception]] = {}
    for m in bank:
        if m.cell not in index or any(t not in index for t in m.targets):
            sig.failed[m.id] = "answer or test cell not in the source notebook"
            continue
        by_cell.setdefault(index[m.cell], []).append(m)
    budget = [max_pairs]
    # one learner's failed cells: only the cells those trials need run (a draw's kernel starts per learner)
    keep = needed_cells(cells, index, bank, set(targets)) if targets is not None else None

    def skip(i: int) -> bool:
        return cells[i].cell_type != "code" or (keep is not None and i not in keep)

    env = dict(os.environ, POLICYLAB_ROOT=str(root), POLICYLAB_DATASETS=str(datasets),
               NBGRADER_EXECUTION="autograde", PYDEVD_DISABLE_FILE_VALIDATION="1")
    kernel = kernel_for(source, cells, env, timeout)
    ok = False
    try:
        done = 0  # cells 0..done-1 have run in order, cleanly
        # answer cells with trials whose clean state (cells before it run) was snapshotted in the kernel
        # (TrialKernel.snapshot); tried once, on the first pass through the cell while ``clean``: the kernel
        # has run only solution cells in order since it started or a snapshot was put back
        snaps: set[int] = set()
        tried: set[int] = set()
        clean = True

        def run_through(stop: int, record: dict | None) -> None:
            """Run cells done..stop-1 in order; a test cell's exports go into ``record``."""
            nonlocal done
            for i in range(done, stop):
                if clean and i in by_cell and i not in tried:
                    tried.add(i)
                    if kernel.snapshot(i):
                        snaps.add(i)
                if skip(i):
                    continue
                outputs = kernel.run(as_run(i))
                if _is_test(cells[i]) and record is not None:
                    values = _exports(outputs, nonce, _meta(cells[i])["grade_id"])
                    if values is not None:
                        record[_meta(cells[i])["grade_id"]] = values
            done = max(done, stop)

        def trial(swaps: dict[int, Misconception], last: int, targets: tuple[str, ...]) -> tuple[dict, str]:
            """Cells from the first swapped one to ``last`` with the swaps, on the clean state before it: its
            snapshot put back (the block ends with ``settle``), else the solution's names from there removed
            and, after the trial, the solution run again."""
            nonlocal done, clean
            first = min(swaps)
            fresh = first in snaps and kernel.restore(first)
            if not fresh:
                if done <= last:  # the trial before this one left its state
                    back_to(first)
                code = [j for j in range(first, last + 1) if cells[j].cell_type == "code" and not _is_test(cells[j])]
                forget = set().union(*(_assigned(cells[j].source) for j in code),
                                     *(_assigned(m.code) for m in swaps.values()))
                kernel.run(f"for _n in {sorted(forget)!r}:\n    globals().pop(_n, None)\n")
            clean = False
            got, raised = {}, ""
            for j in range(first, last + 1):
                if skip(j) and j not in swaps:
                    continue
                outputs = kernel.run(swaps[j].code if j in swaps else as_run(j))
                if j in swaps and j == max(swaps):
                    raised = next((o.get("ename", "") for o in outputs if o.get("output_type") == "error"), "")
                gid = _meta(cells[j]).get("grade_id")
                if _is_test(cells[j]) and gid in targets:
                    values = _exports(outputs, nonce, gid)
                    if values is not None:
                        got[gid] = values
            done = first
            if not fresh:
                settle(first, last)
            return got, raised

        def settle(first: int, last: int) -> None:
            """The solution's state through ``last`` again after a trial from ``first``, checked against the
            solution's exports: a trace left (an in-place change) is undone from the snapshot, else by a restart."""
            restored: dict = {}
            run_through(last + 1, restored)
            if any(restored.get(t) != sig.solution.get(t) for t in restored):
                back_to(first)
                restored = {}
                run_through(last + 1, restored)
                if any(restored.get(t) != sig.solution.get(t) for t in restored):
                    restart()
                    run_through(last + 1, None)

        def restart() -> None:
            nonlocal done, clean
            kernel.start()
            snaps.clear()
            tried.clear()
            done, clean = 0, True

        def back_to(i: int) -> None:
            """The clean state before cell i: its snapshot, else a new kernel and a replay from the first cell."""
            nonlocal done, clean
            if i in snaps and kernel.restore(i):
                done, clean = i, True
            else:
                restart()
                run_through(i, None)

        for i in range(len(cells)):
            trials = by_cell.get(i, [])
            if not trials:
                if i >= done:
                    run_through(i + 1, sig.solution)
                continue
            if i < done:  # an earlier trial block ran past this answer: start clean
                back_to(i)
            last = max(index[t] for m in trials for t in m.targets)
            run_through(last + 1, sig.solution)
            for m in trials:
                got, raised = trial({i: m}, last, m.targets)
                sig.misconceptions[m.id] = got
                if RANDOM.search(m.code):  # unseeded draws: run again; if values wander, see how far
                    again = [trial({i: m}, last, m.targets)[0]]
                    if again[0] != got:
                        again += [trial({i: m}, last, m.targets)[0] for _ in range(REPEATS - 1)]
                        sig.repeats[m.id] = again
                if raised:
                    sig.errors[m.id] = raised
                if len(got) < len(m.targets):
                    sig.failed[m.id] = "a test cell did not export values"
                for u in _upstream(cells, index, m, by_cell):
                    if budget[0] <= 0:
                        break
                    budget[0] -= 1
                    if u.id not in sig.upstream or any(t not in sig.upstream[u.id] for t in m.targets):
                        alone, _ = trial({index[u.cell]: u}, last, m.targets)
                        sig.upstream.setdefault(u.id, {}).update(alone)
                    sig.pairs[f"{u.id}+{m.id}"] = trial({index[u.cell]: u, i: m}, last, m.targets)[0]
            if done <= last:  # the last trial's state is still in the kernel
                back_to(i)
                settle(i, last)
        ok = True
    finally:
        release(source, kernel, ok)
    return sig


def cache_base(root: Path) -> Path:
    """The grader's cache folder: $POLICYLAB_CACHE_DIR (one cache for several course copies, the test
    suite's scratch courses), else <root>/grading/.cache."""
    return Path(os.environ["POLICYLAB_CACHE_DIR"]) if os.environ.get("POLICYLAB_CACHE_DIR") \
        else Path(root) / "grading" / ".cache"


def cache_path(module_id: str, *, root: Path, datasets: Path | None = None,
               targets: frozenset[str] | None = None) -> Path:
    """Where the module's signatures on ``datasets`` (only for ``targets``' test cells, if given) are cached."""
    root = Path(root)
    datasets = Path(datasets) if datasets else root / "datasets"
    key = fingerprint(root / "solutions" / module_id, datasets)
    if targets is not None:
        key += "-" + hashlib.sha256(",".join(sorted(targets)).encode()).hexdigest()[:8]
    return cache_base(root) / "diagnosis" / f"{module_id}-{key}.json"


PER_DRAW_PAIRS = int(os.environ.get("POLICYLAB_PER_DRAW_PAIRS", "0"))


def signatures(module_id: str, *, root: Path, datasets: Path | None = None,
               targets: frozenset[str] | None = None) -> Signatures:
    """The module's signatures on ``datasets`` (default: the course's), from the cache when fresh.

    A computation that fails leaves a ``.failed`` marker beside the cache file (so waiting
    graders give up at once) and raises.
    """
    root = Path(root)
    datasets = Path(datasets) if datasets else root / "datasets"
    cache = cache_path(module_id, root=root, datasets=datasets, targets=targets)
    if cache.is_file():
        try:
            return Signatures.from_json(cache.read_text(encoding="utf-8"))
        except (ValueError, KeyError):
            pass
    cache.parent.mkdir(parents=True, exist_ok=True)
    marker = Path(str(cache) + FAILED_SUFFIX)
    marker.unlink(missing_ok=True)
    source_dir = root / "solutions" / module_id
    try:
        sources = sorted(source_dir.glob("*.ipynb"))
        bank = load_bank(source_dir / "misconceptions.yml")
        if targets is not None:  # one learner's failed cells: only the entries that could explain them
            bank = [m for m in bank if set(m.targets) & targets]
        pairs = {} if targets is None else {"max_pairs": PER_DRAW_PAIRS, "targets": set(targets)}
        sig = compute_signatures(module_id, sources[0], bank, root=root, datasets=datasets, **pairs) if sources \
            else Signatures(module_id)
    except BaseException as exc:
        marker.write_text(f"{type(exc).__name__}: {exc}\n", encoding="utf-8")
        raise
    if not os.environ.get("POLICYLAB_CACHE_DIR") and not (datasets / "DRAW.json").is_file():
        # a shared cache holds other courses' entries too; each learner's draw keeps its own
        for stale in cache.parent.glob(f"{module_id}-*.json"):
            stale.unlink(missing_ok=True)
    tmp = cache.with_suffix(f".tmp-{os.getpid()}")
    tmp.write_text(sig.to_json(), encoding="utf-8")
    tmp.replace(cache)
    return sig
