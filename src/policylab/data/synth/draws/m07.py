"""m07's per-learner draw: a three-arm reminder trial for no-shows at the sports facilities' court
reservations (facility_noshow_trial.csv).

One row is one court reservation. At booking, each reservation was drawn by lottery (simple
randomization, a third each) into 통상안내 (the booking confirmation only, as today: the control),
알림문자 (a reminder the day before) or 알림+취소링크 (the reminder with a one-tap cancel link). The
pre-registered primary outcome is 노쇼 (neither came nor cancelled); 사전취소 (cancelled in advance, so
the slot could be re-let) is what the link is meant to raise; 다음달예약건수 (the booker's reservations in
the next month, a count) is the secondary outcome: do reminders put people off booking?

Varies per learner: the months, the number of reservations, the control arm's no-show and cancel
rates, each reminder's effect on them (the link's extra effect over the plain reminder may be small),
and the reminders' effect on next month's bookings (either sign).

Truth: the plain reminder's effect on the no-show rate (q2's interval), the pooled effect of any
reminder (q4's interval, weighted by the realized arm sizes) and the link's effect on the mean of
next month's bookings (q5's interval).
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from policylab.data.synth.places import FACILITIES

CONTROL, REMIND, LINK = "통상안내", "알림문자", "알림+취소링크"
ARMS = (CONTROL, REMIND, LINK)
COURTS = {"한빛스포츠센터": ("테니스장", "풋살장", "배드민턴장"), "새내국민체육센터": ("풋살장", "배드민턴장", "탁구장"),
          "누리체육관": ("배드민턴장", "탁구장", "농구장")}
MDE = 0.03                     # the exercise's minimum detectable reduction (Q6)
Z95 = 1.959963984540054


def _phi_sf(z: float) -> float:
    return 0.5 * math.erfc(z / math.sqrt(2))


def _z_p(x1: float, n1: int, x2: float, n2: int, alternative: str = "two-sided") -> float:
    """proportions_ztest's p for group 1 − group 2 (pooled standard error)."""
    p = (x1 + x2) / (n1 + n2)
    z = (x1 / n1 - x2 / n2) / math.sqrt(p * (1 - p) * (1 / n1 + 1 / n2))
    return {"two-sided": 2 * _phi_sf(abs(z)), "smaller": 1 - _phi_sf(z), "larger": _phi_sf(z)}[alternative]


def _welch_p(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sided p of the difference of two means (normal approximation: each arm has 800+ bookers, so
    Welch's t is within a hair of it; only used to tell the banked answers apart)."""
    se = math.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))
    return 2 * _phi_sf(abs(a.mean() - b.mean()) / se)


def _n_per_arm(p_new: float, p_base: float, *, two_sided: bool, h: float | None = None) -> int:
    """NormalIndPower's n per arm (equal arms, power 0.8, alpha 0.05) in closed form."""
    if h is None:
        h = 2 * math.asin(math.sqrt(p_new)) - 2 * math.asin(math.sqrt(p_base))
    z_a = 1.959963984540054 if two_sided else 1.6448536269514722
    return math.ceil(2 * ((z_a + 0.8416212335729143) / abs(h)) ** 2)


def _wilson(x: float, n: int) -> tuple[float, float]:
    p, z = x / n, Z95
    centre, half = (p + z * z / (2 * n)) / (1 + z * z / n), z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def _newcombe_vs_wald(x1: float, n1: int, x0: float, n0: int) -> float:
    """The larger gap between the ends of Newcombe's interval (confint_proportions_2indep's default) and
    Wald's for p1 − p0: the hidden test takes a hand-computed Wald interval (z = 1.96) within 5e-6."""
    p1, p0 = x1 / n1, x0 / n0
    (l1, u1), (l0, u0) = _wilson(x1, n1), _wilson(x0, n0)
    d = p1 - p0
    newcombe = (d - math.sqrt((p1 - l1) ** 2 + (u0 - p0) ** 2), d + math.sqrt((u1 - p1) ** 2 + (p0 - l0) ** 2))
    half = Z95 * math.sqrt(p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0)
    return max(abs(newcombe[0] - (d - half)), abs(newcombe[1] - (d + half)))


def _far(a: float, b: float, rel: float = 1e-3) -> bool:
    return abs(a - b) > rel * max(abs(a), abs(b), 1e-300)


def _separates(d: dict) -> bool:
    """Every banked mistake gives a value of its own on this draw, and the draw reads plainly."""
    arm, noshow, cancel, rebook = d["arm"], d["noshow"], d["cancel"], d["rebook"]
    idx = [arm == k for k in range(3)]
    n = [int(i.sum()) for i in idx]
    if min(n) < 800 or len(set(n)) < 3:
        return False
    ns = [float(noshow[i].sum()) for i in idx]
    rate = [ns[k] / n[k] for k in range(3)]
    canc = [float(cancel[i].mean()) for i in idx]
    # Q1: the primary outcome differs from cancellations and from "did not use the slot"
    if min(abs(rate[k] - canc[k]) for k in range(3)) < 0.01:
        return False
    # Q2 / Q4: the reminder's effect is a reduction, the two reminder arms differ, so per-arm, pooled and
    # arm-vs-arm comparisons all differ
    if not (rate[1] < rate[0] - 0.01 and abs(rate[0] - rate[2]) > 0.005 and abs(rate[1] - rate[2]) > 0.003):
        return False
    if _newcombe_vs_wald(ns[1], n[1], ns[0], n[0]) < 3e-5:
        return False
    # Q3: registered one-sided (link < reminder): the one-sided p is neither tiny nor near a half
    p_one = _z_p(ns[2], n[2], ns[1], n[1], "smaller")
    if not (1e-6 < p_one < 0.4):
        return False
    # Q4: pooled two-sided p is not the per-arm p, and halving it (one-sided) moves it beyond the detector's
    # absolute tolerance (1e-9)
    p_pool = _z_p(ns[1] + ns[2], n[1] + n[2], ns[0], n[0])
    if not (_far(p_pool, _z_p(ns[1], n[1], ns[0], n[0])) and 1e-6 < p_pool < 0.5):
        return False
    # Q5: the count outcome's Welch p differs from a proportions test on "booked again at all", and the
    # other comparisons
    a, b, c = rebook[idx[2]], rebook[idx[0]], rebook[idx[1]]
    p_welch = _welch_p(a, b)
    booked = [float((x > 0).sum()) for x in (a, b)]
    p_prop = _z_p(booked[0], len(a), booked[1], len(b))
    if not (0.001 < p_welch < 0.9 and _far(p_welch, p_prop, 0.02) and _far(p_welch, _welch_p(a, c), 0.02)
            and abs(a.mean() - b.mean()) > 0.02):
        return False
    # Q6: every banked sample size differs from the registered one (one-sided, reduction, control's rate)
    p0 = rate[0]
    right = _n_per_arm(p0 - MDE, p0, two_sided=False)
    observed = rate[2] - p0
    wrong = [_n_per_arm(p0 - MDE, p0, two_sided=True), _n_per_arm(p0 + MDE, p0, two_sided=False),
             _n_per_arm(rate[1] - MDE, rate[1], two_sided=False), _n_per_arm(rate[2] - MDE, rate[2], two_sided=False),
             _n_per_arm(p0 + observed, p0, two_sided=False), _n_per_arm(0, 0, two_sided=False, h=MDE), 2 * right]
    return min(abs(right - w) for w in wrong) >= 3


def _draw(rng: np.random.Generator) -> tuple[dict, dict]:
    n = int(rng.integers(3000, 6001))
    arm = rng.integers(0, 3, n)                     # simple randomization: about a third each
    fac = rng.choice(len(FACILITIES), n, p=rng.dirichlet([6, 5, 4]))
    court = np.empty(n, dtype=object)
    for f, (name, *_r) in enumerate(FACILITIES):
        at = np.flatnonzero(fac == f)
        court[at] = rng.choice(COURTS[name], len(at), p=rng.dirichlet([3, 3, 3]))
    outside = rng.random(n) < rng.uniform(0.2, 0.4)         # 관외 bookers no-show more often
    weekend = rng.random(n) < 0.38

    base_noshow = float(rng.uniform(0.10, 0.20))
    base_cancel = float(rng.uniform(0.05, 0.10))
    tau_remind = float(rng.uniform(0.015, 0.045))             # the plain reminder's cut in no-shows
    tau_link = tau_remind + float(rng.uniform(0.0, 0.025))   # the link's extra cut may be small
    up_remind, up_link = float(rng.uniform(0.005, 0.02)), float(rng.uniform(0.02, 0.06))
    shift = 0.04 * (outside - outside.mean()) + 0.02 * (weekend - weekend.mean())
    p_noshow = base_noshow + shift - np.array([0.0, tau_remind, tau_link])[arm]
    p_cancel = base_cancel + 0.5 * shift + np.array([0.0, up_remind, up_link])[arm]
    u = rng.random(n)
    noshow = (u < p_noshow).astype(int)
    cancel = ((u >= p_noshow) & (u < p_noshow + p_cancel)).astype(int)

    lam0 = float(rng.uniform(1.2, 2.6))
    delta = rng.choice([-1, 1], 2) * rng.uniform(0.08, 0.3, 2)   # reminders' effect on next month's bookings
    lam = lam0 + 0.3 * (~outside) - 0.3 * (~outside).mean() + np.array([0.0, delta[0], delta[1]])[arm]
    k = float(rng.uniform(1.5, 4.0))                         # gamma-Poisson: bookers differ a lot
    rebook = rng.poisson(lam * rng.gamma(k, 1 / k, n))

    start = pd.Timestamp(int(rng.choice([2025, 2026])), int(rng.integers(3, 10)), 1)
    days = pd.date_range(start, start + pd.DateOffset(months=2) - pd.Timedelta(days=1), freq="D")
    day = np.sort(rng.integers(0, len(days), n))
    sizes = [int((arm == a).sum()) for a in range(3)]
    pooled = (sizes[1] * -tau_remind + sizes[2] * -tau_link) / (sizes[1] + sizes[2])
    params = {"reservations": n, "months": [days[0].strftime("%Y-%m"), days[-1].strftime("%Y-%m")],
              "arm_sizes": dict(zip(ARMS, sizes)), "control_noshow": round(base_noshow, 4),
              "control_cancel": round(base_cancel, 4), "noshow_effect": {REMIND: round(-tau_remind, 4), LINK: round(-tau_link, 4)},
              "cancel_effect": {REMIND: round(up_remind, 4), LINK: round(up_link, 4)},
              "rebook_control_mean": round(lam0, 3), "rebook_effect": {REMIND: round(float(delta[0]), 4), LINK: round(float(delta[1]), 4)},
              "rebook_dispersion_k": round(k, 3)}
    arrays = {"arm": arm, "fac": fac, "court": court, "outside": outside, "day": day, "days": days,
              "noshow": noshow, "cancel": cancel, "rebook": rebook}
    planted = {"params": params, "remind": -tau_remind, "pooled": pooled, "rebook_link": float(delta[1])}
    return arrays, planted


def _table(rng: np.random.Generator, d: dict) -> pd.DataFrame:
    n = len(d["arm"])
    ids = rng.choice(16 ** 10, n, replace=False)
    return pd.DataFrame({
        "예약ID": [f"R{int(i):010x}" for i in ids],
        "이용일": d["days"][d["day"]].strftime("%Y-%m-%d"),
        "시설명": np.array([f[0] for f in FACILITIES], dtype=object)[d["fac"]],
        "종목": d["court"],
        "회원구분": np.where(d["outside"], "관외", "관내"),
        "배정군": np.array(ARMS, dtype=object)[d["arm"]],
        "노쇼": d["noshow"],
        "사전취소": d["cancel"],
        "다음달예약건수": d["rebook"],
    })


def make(rng: np.random.Generator) -> tuple[dict[str, pd.DataFrame], dict]:
    for _ in range(200):
        arrays, planted = _draw(rng)
        if _separates(arrays):
            truth = {"params": planted["params"], "effects": [
                {"name": "알림문자의 노쇼율 효과 (알림문자 − 통상안내)", "value": round(planted["remind"], 5),
                 "question": "q2", "interval": "ci"},
                {"name": "알림(두 문자 합침)의 노쇼율 효과 (실현된 집단 크기로 가중)", "value": round(planted["pooled"], 5),
                 "question": "q4", "interval": "ci"},
                {"name": "알림+취소링크의 다음 달 예약 건수 효과 (평균의 차이, 건)", "value": round(planted["rebook_link"], 5),
                 "question": "q5", "interval": "ci"},
            ]}
            return {"facility_noshow_trial.csv": _table(rng, arrays)}, truth
    raise RuntimeError("no m07 draw separates the misconceptions in 200 tries")
