"""Name the mistake: which misconception of the bank a failed answer matches.

For a failed test cell, the learner's exported values are compared with the values each of that
cell's misconceptions exports on the same data (policylab.grading.signatures). A misconception
is told apart by the names where it differs from the solution; the learner matches it when every
one of those names holds the misconception's value (numbers within a relative 1e-6, tables cell
by cell). Several matches: the most specific one (the one that differs from the solution in the
most names; the bank's order breaks ties).

A learner who made two mistakes carries the first into the second question's values (a wrong
filter in Q5, then the right kind of mistake in Q7 on the wrong rows), so no single entry's values
match. For mistakes of *kind* — a number where a name was asked, text where a number was — the
kind still shows: when no values match, an entry whose values differ from the solution's in type
on every distinguishing name is named if the learner's values have exactly those types, and no
other entry of the question has the same type pattern. None: the answer is wrong in a way the
bank does not know, and the feedback says so honestly. The expected value is never shown.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

from policylab.grading.bank import Misconception, load_bank
from policylab.grading.signatures import FAILED_SUFFIX, Signatures
from policylab.grading.values import decode

UNEXPLAINED = "알려진 실수와 일치하지 않습니다. 문제의 조건(단위, 기간, 대상)과 계산 과정을 다시 확인해 보세요."
REL, ABS = 1e-6, 1e-9


@dataclass(frozen=True)
class Diagnosis:
    grade_id: str
    misconception: str | None   # the bank id, or None when no known mistake matches
    text: str                   # Korean, for the learner


def _close(a, b) -> bool:
    """Equal within REL/ABS for numbers, element by element for containers, arrays and tables."""
    import numpy as np
    import pandas as pd

    if isinstance(a, bool) or isinstance(b, bool) or isinstance(a, str) or isinstance(b, str) or a is None or b is None:
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float, np.number)) and isinstance(b, (int, float, np.number)):
        a, b = float(a), float(b)
        return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=REL, abs_tol=ABS)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, (pd.Series, pd.DataFrame)) and type(a) is type(b):
        try:
            test = pd.testing.assert_series_equal if isinstance(a, pd.Series) else pd.testing.assert_frame_equal
            test(a, b, check_dtype=False, check_exact=False, rtol=REL, atol=ABS, check_names=False)
            return True
        except (AssertionError, TypeError, ValueError):
            return False
    if type(a).__name__ == "FitSummary" and type(b).__name__ == "FitSummary":  # a statsmodels fit, as plain results
        fields_a = {k: v for k, v in vars(a).items() if k != "model"}
        fields_b = {k: v for k, v in vars(b).items() if k != "model"}
        return (getattr(a.model, "formula", None) == getattr(b.model, "formula", None)
                and fields_a.keys() == fields_b.keys() and all(_close(fields_a[k], fields_b[k]) for k in fields_a))
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
        if a.shape != b.shape:
            return False
        try:
            return bool(np.allclose(a, b, rtol=REL, atol=ABS, equal_nan=True))
        except TypeError:
            return bool(np.array_equal(a, b))
    try:
        return bool(a == b)
    except Exception:  # noqa: BLE001 - values that cannot be compared are not the same
        return False


def same(doc_a: dict | None, doc_b: dict | None) -> bool:
    """Two exported plain-data documents hold the same value (within the tolerance)."""
    if doc_a is None or doc_b is None:
        return doc_a is doc_b
    if doc_a == doc_b:
        return True
    if "unsupported" in (doc_a.get("t"), doc_b.get("t")) or "missing" in (doc_a.get("t"), doc_b.get("t")):
        return False
    try:
        return _close(decode(doc_a), decode(doc_b))
    except Exception:  # noqa: BLE001 - a document that does not decode matches nothing
        return False


def signature_names(m: Misconception, grade_id: str, sig: Signatures) -> list[str]:
    """The names where misconception ``m`` differs from the solution at test cell ``grade_id``."""
    known = sig.__dict__.setdefault("_names", {})  # asked once per entry and cell for each failed answer
    if (m.id, grade_id) not in known:
        mine = sig.misconceptions.get(m.id, {}).get(grade_id)
        right = sig.solution.get(grade_id)
        known[m.id, grade_id] = [] if not mine or right is None else \
            [n for n in sorted(mine) if not same(mine[n], right.get(n))]
    return known[m.id, grade_id]


_LOADED: dict[str, tuple[Signatures, list[Misconception]]] = {}


def load_for_grading(signatures_file: str, bank_file: str, *, lesson: str = "", wait: float = 900.0):
    """(signatures, bank) for a grading worker, read once per process.

    The batch computes the signatures while its workers start; a worker that needs them first
    waits for the file (or for its ``.failed`` marker, then diagnoses nothing).
    """
    if signatures_file in _LOADED:
        return _LOADED[signatures_file]
    path, deadline = Path(signatures_file), time.monotonic() + wait
    while not path.is_file():
        if Path(signatures_file + FAILED_SUFFIX).exists() or time.monotonic() > deadline:
            return None
        time.sleep(0.2)
    try:
        loaded = (Signatures.from_json(path.read_text(encoding="utf-8")), load_bank(Path(bank_file), lesson=lesson))
    except Exception:  # noqa: BLE001 - an unreadable cache costs the diagnosis, never the grade
        return None
    _LOADED[signatures_file] = loaded
    return loaded


def diagnose(grade_id: str, values: dict, sig: Signatures, bank: list[Misconception],
             answer_errors: dict[str, str] | None = None) -> Diagnosis:
    """The misconception that a failed test cell's exported ``values`` match, if any.

    ``answer_errors``: {answer cell grade_id: the error its code raised} in the learner's notebook.
    A misconception that leaves names undefined (its code raises) matches only a learner whose
    answer cell raised the same error: a blank answer leaves them undefined too, and is no mistake.
    """
    best, best_size = None, 0
    for m in bank:
        if grade_id not in m.targets:
            continue
        names = signature_names(m, grade_id, sig)
        mine = sig.misconceptions.get(m.id, {}).get(grade_id, {})
        if any(mine[n].get("t") == "missing" for n in names) and (
                not sig.errors.get(m.id) or (answer_errors or {}).get(m.cell) != sig.errors[m.id]):
            continue
        if names and all(same(values.get(n), mine[n]) for n in names) and len(names) > best_size:
            best, best_size = m, len(names)
    if best is None:
        best = _within_random_spread(grade_id, values, sig, bank)
    if best is None:
        best = _after_upstream(grade_id, values, sig, bank)
    if best is None:
        best = _by_kind(grade_id, values, sig, bank, answer_errors)
    if best is None:
        return Diagnosis(grade_id, None, UNEXPLAINED)
    return Diagnosis(grade_id, best.id, best.feedback())


SPREAD, FLOOR = 10.0, 0.03


def _summary(value) -> "list[float] | None":
    """Numbers that describe a value drawn at random: the numbers themselves when few, else the
    mean, spread and quartiles (the draws of two runs differ one by one, their summary does not)."""
    import numpy as np

    try:
        arr = np.asarray(value, dtype=float).ravel()
    except (TypeError, ValueError):
        return None
    if arr.size == 0 or not np.isfinite(arr).all():
        return None
    return arr.tolist() if arr.size <= 10 else [float(arr.mean()), float(arr.std()),
                                                  *map(float, np.percentile(arr, [25, 50, 75]))]


def _within_random_spread(grade_id: str, values: dict, sig: Signatures, bank: list[Misconception]):
    """An entry that draws unseeded random numbers gives different values on every run, so its values
    cannot be matched exactly. The learner matches it when, on every name where it differs from the
    solution, the learner's numbers lie within SPREAD times the run-to-run range of its six runs
    (at least FLOOR relative: a median or a percentile moves in steps), and some differ from the
    solution's (a discrete statistic can land on the solution's value by chance)."""
    right = sig.solution.get(grade_id) or {}
    for m in bank:
        runs = [sig.misconceptions.get(m.id, {}).get(grade_id)] + [r.get(grade_id) for r in sig.repeats.get(m.id, [])]
        if grade_id not in m.targets or len(runs) < 3 or any(r is None for r in runs):
            continue
        names = [n for n in sorted(runs[0]) if any(not same(r.get(n), right.get(n)) for r in runs)]
        if not names or all(same(values.get(n), right.get(n)) for n in names):
            continue
        fits = True
        for n in names:
            try:
                drawn = [_summary(decode(r[n])) for r in runs]
                mine = _summary(decode(values[n])) if n in values else None
            except Exception:  # noqa: BLE001 - not numbers: not a random draw we can place
                drawn, mine = [None], None
            if mine is None or any(d is None or len(d) != len(mine) for d in drawn):
                fits = False
                break
            for k, x in enumerate(mine):
                centre = sum(d[k] for d in drawn) / len(drawn)
                spread = max(d[k] for d in drawn) - min(d[k] for d in drawn)
                if abs(x - centre) > max(SPREAD * spread, FLOOR * abs(centre), 1e-9):
                    fits = False
                    break
            if not fits:
                break
        if fits:
            return m
    return None


def _after_upstream(grade_id: str, values: dict, sig: Signatures, bank: list[Misconception]) -> Misconception | None:
    """The entry whose values, made on top of an upstream mistake, the learner's values match.

    Only where the entry itself changes something beyond the upstream mistake alone: a learner who
    made only the upstream mistake is not told they made this one too."""
    right = sig.solution.get(grade_id) or {}
    best, best_size = None, 0
    for m in bank:
        if grade_id not in m.targets:
            continue
        for key, tests in sig.pairs.items():
            upstream_id, _, mine_id = key.partition("+")
            both, alone = tests.get(grade_id), sig.upstream.get(upstream_id, {}).get(grade_id)
            if mine_id != m.id or not both or alone is None:
                continue
            names = [n for n in sorted(both) if not same(both[n], right.get(n))]
            own = [n for n in names if not same(both[n], alone.get(n))]
            if not own or any(both[n].get("t") == "missing" for n in names):
                continue
            if all(same(values.get(n), both[n]) for n in names) and len(own) > best_size:
                best, best_size = m, len(own)
    return best


def _kind(doc: dict | None) -> tuple:
    return (doc or {}).get("t"), (doc or {}).get("dtype")


def _by_kind(grade_id: str, values: dict, sig: Signatures, bank: list[Misconception],
             answer_errors: dict[str, str] | None) -> Misconception | None:
    """The one entry whose type pattern (not values) the learner's values show, if unambiguous."""
    right = sig.solution.get(grade_id) or {}
    patterns: dict[tuple, list[Misconception]] = {}
    for m in bank:
        if grade_id not in m.targets:
            continue
        mine = sig.misconceptions.get(m.id, {}).get(grade_id, {})
        names = signature_names(m, grade_id, sig)
        if not names or any(_kind(mine[n]) == _kind(right.get(n)) or mine[n].get("t") == "missing" for n in names):
            continue
        patterns.setdefault(tuple((n, _kind(mine[n])) for n in names), []).append(m)
    found = [ms[0] for pattern, ms in patterns.items()
             if len(ms) == 1 and all(_kind(values.get(n)) == kind for n, kind in pattern)]
    return found[0] if len(found) == 1 else None
