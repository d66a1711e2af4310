"""m11's per-learner draw: a youth discount (청년 할인) at the sports centres, for ages *below* a cut-off.

Same story and schema as the shared ``sports_enrolments.csv.gz`` (services.py): one row per member,
programme and month applied for (enrolled or waitlisted), ages at the month's end, 85 = 85 and over.
The lesson works the senior discount (65 and over, six programmes); here each learner's draw has its own
youth discount: a drawn set of programmes gives members aged 19 up to a drawn cut-off (25…35 but 29, the first
age without it) 30% off. Teenagers (under 19) get their own 청소년 discount on the same programmes, so a
window that reaches below 19 crosses a second fee change: the bandwidth the exercise asks for is the
widest window that stays at 19 and over (cut-off − 19). The senior discount stays as in the shared data.

Applications by age are linear in levels from 16 to past the widest window (so the local linear fit at the right
bandwidth is unbiased), then fall away; the discount multiplies the treated ages' applications by
1 + effect. Truth: the expected jump in applications at the cut-off (the reference's CI must hold it).
Draws are rejected when a banked mistake or the lesson's rule would land near the right answer: a global
polynomial, the bandwidth that maximises the jump, the lesson's bandwidth 10.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from policylab.data.synth.places import FACILITIES
from policylab.data.synth.services import PROGRAMMES

AGES = np.arange(16, 91)
TOP_CODE = 85
TEEN_AGE = 19            # 청소년: under 19
SENIOR_AGE = 65
SENIOR_JUMP = 0.30
SEASON = np.array([0.90, 0.90, 1.00, 1.05, 1.10, 1.05, 1.05, 1.10, 1.05, 1.10, 1.00, 0.95])
SENIOR_SET = {p[0] for p in PROGRAMMES if p[1]}
BANDWIDTHS = range(3, 16)
LESSON_BANDWIDTH = 10
CUTOFFS = (25, 26, 27, 28, 30, 31, 32, 33, 34, 35)   # 29 would make the right bandwidth the lesson's 10
MEMBERS_PER_BIRTH_MONTH = 4


def _local_linear(age: np.ndarray, n: np.ndarray, cutoff: int, h: int) -> tuple[float, float]:
    """(jump treated − untreated at the cut-off, untreated line at the cut-off); treated = below."""
    w = (age >= cutoff - h) & (age < cutoff + h)
    x = age[w] - cutoff
    t = (age[w] < cutoff).astype(float)
    design = np.column_stack([np.ones_like(x, dtype=float), t, x, t * x])
    beta = np.linalg.lstsq(design, n[w].astype(float), rcond=None)[0]
    return float(beta[1]), float(beta[0])


def _z_hc3(age: np.ndarray, n: np.ndarray, cutoff: int, h: int) -> float:
    """|jump| / its HC3 standard error, as the exercise's statsmodels fit reports it."""
    w = (age >= cutoff - h) & (age < cutoff + h)
    x = (age[w] - cutoff).astype(float)
    t = (age[w] < cutoff).astype(float)
    X = np.column_stack([np.ones_like(x), t, x, t * x])
    y = n[w].astype(float)
    inv = np.linalg.inv(X.T @ X)
    beta = inv @ X.T @ y
    e = y - X @ beta
    lev = np.einsum("ij,jk,ik->i", X, inv, X)
    cov = inv @ (X.T * (e / (1 - lev)) ** 2) @ X @ inv
    return abs(float(beta[1])) / float(np.sqrt(cov[1, 1]))


def _global_cubic(age: np.ndarray, n: np.ndarray, cutoff: int) -> float:
    x = (age - cutoff).astype(float)
    t = (age < cutoff).astype(float)
    design = np.column_stack([np.ones_like(x), t, x, x ** 2, x ** 3])
    return float(np.linalg.lstsq(design, n.astype(float), rcond=None)[0][1])


def _separates(age: np.ndarray, n: np.ndarray, n_other: np.ndarray, cutoff: int) -> bool:
    h = cutoff - TEEN_AGE
    jump, base = _local_linear(age, n, cutoff, h)
    if jump <= 0 or base <= 0:
        return False
    jumps = {b: _local_linear(age, n, cutoff, b)[0] for b in BANDWIDTHS}
    if max(jumps, key=jumps.get) == h:                 # the jump-maximising bandwidth must be a mistake
        return False
    others = [_global_cubic(age, n, cutoff), jumps[LESSON_BANDWIDTH], max(jumps.values()),
              _local_linear(age, n, cutoff + 1, h)[0], _local_linear(age, n_other, cutoff, h)[0],
              _local_linear(age, n, cutoff - 5, 5)[0], _local_linear(age, n, cutoff + 5, 5)[0]]
    if min(abs(jump - v) for v in others) <= 0.05 * abs(jump):
        return False
    # the checks the exercise asks for pass on the draw (no chance 5% false alarm to explain away)
    return _z_hc3(age, n_other, cutoff, h) < 1.96 and _z_hc3(age, n, cutoff + 5, 5) < 1.96


def _profile(rng: np.random.Generator, cutoff: int) -> np.ndarray:
    """Relative applications by age: a straight line from 16 to past the widest window, then a decline."""
    slope = rng.uniform(-0.02, 0.01)
    knot = max(cutoff + 12, 2 * cutoff - 17)
    a = AGES.astype(float)
    level = 1 + slope * (np.minimum(a, knot) - cutoff)
    decline = rng.uniform(0.01, 0.03)
    level = level * np.exp(-decline * np.maximum(a - knot, 0) - 0.10 * np.maximum(a - 78, 0))
    return np.maximum(level, 0.05)


def make(rng: np.random.Generator) -> tuple[dict[str, pd.DataFrame], dict]:
    names = [p[0] for p in PROGRAMMES]
    info = {p[0]: p for p in PROGRAMMES}
    start = pd.Timestamp(2023, 1, 1) + pd.DateOffset(months=int(rng.integers(0, 13)))
    months = pd.date_range(start, periods=int(rng.integers(24, 37)), freq="MS")
    n_m = len(months)
    for _ in range(200):
        cutoff = int(rng.choice(CUTOFFS))
        youth = sorted(rng.choice(names, int(rng.integers(3, 6)), replace=False).tolist(), key=names.index)
        if not (set(youth) - SENIOR_SET and set(youth) & SENIOR_SET):   # neither the lesson's list nor its complement
            continue
        effect = float(np.round(rng.uniform(0.15, 0.35), 3))
        teen = float(np.round(rng.uniform(0.30, 0.60), 3))
        cohort = np.exp(rng.normal(0, rng.uniform(0.005, 0.015), len(AGES)))   # birth-year sizes
        profiles = {p: _profile(rng, cutoff) for p in names}
        means, cells = {}, []
        for f, (facility, _dong, has_pool) in enumerate(FACILITIES):
            for p in names:
                _, _senior, pool, _fee, _classes, female = info[p]
                if pool and not has_pool:
                    continue
                scale = (3.5 if pool else 2.2) * (0.8 if f == 2 else 1.0)
                mult = np.ones(len(AGES))
                if p in youth:
                    mult = np.where(AGES < TEEN_AGE, 1 + teen, np.where(AGES < cutoff, 1 + effect, 1.0))
                if p in SENIOR_SET:
                    mult = mult * np.where(AGES >= SENIOR_AGE, 1 + SENIOR_JUMP, 1.0)
                season = SEASON[months.month.to_numpy() - 1]
                for sex, share in (("여", female), ("남", 1 - female)):
                    mu = scale * share * np.outer(season, profiles[p] * cohort)     # months × ages, untreated
                    if p in youth:
                        means[(f, p, sex)] = mu
                    cells.append((f, p, sex, rng.poisson(mu * mult)))
        by_age = {p: sum(c.sum(axis=0) for f, q, s, c in cells if q == p) for p in names}
        keep = AGES < TOP_CODE
        n_youth = sum(by_age[p] for p in youth)[keep]
        n_other = sum(by_age[p] for p in names if p not in youth)[keep]
        if _separates(AGES[keep], n_youth, n_other, cutoff):
            break
    else:
        raise RuntimeError("no m11 draw separates the bank")

    # rows: one per application
    at = int(np.flatnonzero(AGES == cutoff)[0])
    planted = float(effect * sum(mu[:, at].sum() for mu in means.values()))
    parts = []
    for f, p, sex, counts in cells:
        mi, ai = np.nonzero(counts)
        reps = counts[mi, ai]
        parts.append(pd.DataFrame({"month": np.repeat(mi, reps), "age": np.repeat(AGES[ai], reps),
                                   "facility": f, "prog": p, "sex": sex}))
    rows = pd.concat(parts, ignore_index=True)
    n = len(rows)
    abs_month = start.year * 12 + start.month - 1 + rows["month"].to_numpy()
    birth_abs = abs_month - 12 * rows["age"].to_numpy() - rng.integers(0, 12, n)
    sex_code = (rows["sex"] == "남").to_numpy().astype(np.int64)
    slot = rng.integers(0, MEMBERS_PER_BIRTH_MONTH, n)
    key = ((birth_abs * 2 + sex_code) * len(FACILITIES) + rows["facility"].to_numpy()) * MEMBERS_PER_BIRTH_MONTH + slot
    uniq, member = np.unique(key, return_inverse=True)
    n_members = len(uniq)
    ids = np.array([f"M{v:012x}" for v in rng.choice(16 ** 12, n_members, replace=False)], dtype=object)
    special = rng.choice(3, n_members, p=(0.96, 0.03, 0.01))[member]   # none, 장애인, 국가유공자
    attend = rng.beta(6, 2.5, n_members)[member]

    prog = rows["prog"].to_numpy()
    age = rows["age"].to_numpy()
    in_youth = np.isin(prog, youth)
    in_senior = np.isin(prog, sorted(SENIOR_SET))
    kind = np.full(n, "일반", dtype=object)
    kind[in_youth & (age < TEEN_AGE)] = "청소년"
    kind[in_youth & (age >= TEEN_AGE) & (age < cutoff)] = "청년"
    kind[in_senior & (age >= SENIOR_AGE)] = "경로"
    any_discount = in_youth | in_senior
    kind[any_discount & (special == 1)] = "장애인"
    kind[any_discount & (special == 2)] = "국가유공자"
    base_fee = np.array([info[p][3] for p in prog])
    rate = np.select([kind == "청년", kind == "일반"], [0.7, 1.0], 0.5)
    fee = (np.round(base_fee * rate / 100) * 100).astype(np.int64)
    pool = np.array([info[p][2] for p in prog])
    waitlisted = rng.random(n) < np.where(pool, 0.25, 0.04)
    classes = np.array([info[p][4] for p in prog])
    out = pd.DataFrame({
        "회원ID": ids[member], "나이": age, "성별": rows["sex"].to_numpy(),
        "시설명": np.array([x[0] for x in FACILITIES], dtype=object)[rows["facility"].to_numpy()],
        "프로그램": prog, "수강월": months.strftime("%Y-%m").to_numpy()[rows["month"].to_numpy()],
        "감면구분": kind, "수강료": np.where(waitlisted, 0, fee).astype(np.int64),
        "출석일수": np.where(waitlisted, 0, rng.binomial(classes, attend)).astype(np.int64),
        "대기여부": waitlisted.astype(np.int64)})
    order = np.lexsort((out["회원ID"].to_numpy(), out["프로그램"].to_numpy(), out["시설명"].to_numpy(),
                        out["수강월"].to_numpy()))
    out = out.iloc[order].reset_index(drop=True)
    params = {"months": [months[0].strftime("%Y-%m"), months[-1].strftime("%Y-%m")], "cutoff": cutoff,
              "bandwidth": cutoff - TEEN_AGE, "youth_programmes": youth, "youth_effect_relative": effect,
              "teen_effect_relative": teen, "applications": n, "members": n_members}
    truth = {"params": params,
             "effects": [{"name": "youth_discount_jump_applications", "value": round(planted, 1),
                          "question": "q4", "interval": "ci"}]}
    return {"sports_enrolments.csv.gz": out}, truth
