"""m05's per-learner draw: a re-enrolment SMS pilot at the sports centres (sports_sms_pilot.csv).

One row is one course that ended in the pilot's three months (a member who ended two programmes has
two rows). Each centre got its own SMS budget, so the share of endings that got the reminder differs
by centre; inside a centre a lottery picked who got it. Centres also differ in how often members
re-enrol anyway, so the centre confounds the naive sent-vs-not-sent comparison, and the size and the
direction of that bias are drawn per learner: the naive difference overstates the effect on some
draws, understates it on others, and has the wrong sign on the rest (``params.scenario``).
``상담문의`` (the member phoned or visited about classes after the reminder) is post-treatment: the SMS
raises it and it goes with re-enrolling, so stratifying on it is a banked mistake.

Truth: the planted effect of the SMS on re-enrolling (registered, not waitlisted) over all endings
(the population-weighted stratified estimate's interval must hold it) and the naive difference the
centres' budgets produce in expectation (the naive comparison's interval must hold it).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from policylab.data.synth.places import FACILITIES
from policylab.data.synth.services import PROGRAMMES

CENTRES = tuple(f[0] for f in FACILITIES)
POOL_CENTRES = {f[0] for f in FACILITIES if f[2]}
SCENARIOS = ("overstates", "understates", "flips")
LESSON_EFFECT = 0.04          # the lesson's free-trial voucher effect: a learner who copies it must be wrong
PROGRAMME_SHIFT = {"수영강습": 0.04, "아쿠아로빅": 0.06, "헬스": -0.05, "요가": 0.02, "탁구": 0.03, "배드민턴": 0.0,
                   "필라테스": -0.02, "골프": -0.04}   # re-enrolment differs a little by programme


def _strat(g: np.ndarray, k: int, y: np.ndarray, sent: np.ndarray, weights: str = "all") -> float:
    """The stratified difference in re-enrolment (sent − not sent) over strata ``g`` (codes 0…k−1), as
    pandas computes it in the exercise: strata missing a group drop out of the weighted sum."""
    n1 = np.bincount(g[sent], minlength=k)
    n0 = np.bincount(g[~sent], minlength=k)
    with np.errstate(invalid="ignore", divide="ignore"):
        diff = np.bincount(g[sent], y[sent], k) / n1 - np.bincount(g[~sent], y[~sent], k) / n0
    if weights == "plain":
        return float(np.nanmean(diff))
    w = {"all": n1 + n0, "sent": n1, "unsent": n0}[weights]
    return float(np.nansum(diff * w / w.sum()))


def _separates(d: dict, scenario: str) -> bool:
    """Every banked mistake gives a value of its own, and the draw shows its scenario plainly."""
    c, sent, result, member = d["centre"], d["sent"] == 1, d["result"], d["member"]
    counts = np.array([[np.sum((c == k) & sent), np.sum((c == k) & ~sent)] for k in range(len(CENTRES))])
    if counts.min() < 40:
        return False
    y = (result == "등록").astype(float)
    naive = float(y[sent].mean() - y[~sent].mean())
    ate = _strat(c, 3, y, sent)
    shows = {"overstates": naive > ate + 0.015, "understates": 0.01 < naive < ate - 0.015, "flips": naive < -0.01}
    if not shows[scenario]:
        return False
    att, unweighted, atc = (_strat(c, 3, y, sent, w) for w in ("sent", "plain", "unsent"))
    applied = (result != "미신청").astype(float)
    prog_codes = np.unique(d["programme"], return_inverse=True)[1]
    others = [unweighted, att, _strat(prog_codes, prog_codes.max() + 1, y, sent), _strat(d["inquiry"], 2, y, sent),
              naive, LESSON_EFFECT, float(applied[sent].mean() - applied[~sent].mean())]
    if ate < 0.02 or min(abs(ate - v) for v in others) < 0.004 or abs(att - naive) < 0.004:
        return False
    if min(abs(att - unweighted), abs(att - atc), abs(others[-1] - naive)) < 0.002:
        return False
    n_members = member.max() + 1
    ever = np.zeros(n_members)
    np.maximum.at(ever, member, y)
    sent_per_member = np.bincount(member, sent.astype(float), n_members)
    return bool((sent_per_member >= 2).any() and int(sent.sum()) != int((sent_per_member > 0).sum())
                and int((sent_per_member > 0).sum()) != n_members and abs(ever.mean() - y.mean()) > 1e-4
                and (result == "대기").any())


def _params(rng: np.random.Generator, scenario: str) -> dict:
    """Centre-level parameters whose expected naive difference shows the scenario."""
    for _ in range(2000):
        share = rng.dirichlet([4, 4, 4])
        if share.min() < 0.18:
            continue
        base = rng.uniform(0.30, 0.72, 3)
        send = rng.uniform(0.15, 0.85, 3)
        tau = float(rng.uniform(0.05, 0.12))
        tau_c = np.clip(tau + rng.uniform(-0.035, 0.035, 3), 0.02, None)
        sent_w = share * send / (share * send).sum()
        kept_w = share * (1 - send) / (share * (1 - send)).sum()
        ate = float((share * tau_c).sum())
        naive = float((sent_w * (base + tau_c)).sum() - (kept_w * base).sum())
        ok = {"overstates": naive > ate + 0.04, "understates": 0.03 < naive < ate - 0.03,
              "flips": naive < -0.03}[scenario]
        if ok:
            return {"share": share, "base": base, "send": send, "tau": tau_c}
    raise RuntimeError(f"no m05 centre parameters for {scenario}")


def _draw(rng: np.random.Generator, scenario: str) -> tuple[dict, dict]:
    p = _params(rng, scenario)
    n_members = int(rng.integers(1500, 2301))
    centre = rng.choice(3, n_members, p=p["share"])
    sex = np.where(rng.random(n_members) < 0.58, "여", "남")
    age = np.clip(np.round(np.where(rng.random(n_members) < 0.3, rng.normal(66, 7, n_members),
                                    rng.normal(41, 12, n_members))), 16, 85).astype(int)
    n_courses = np.where(rng.random(n_members) < rng.uniform(0.12, 0.22), 2, 1)
    member = np.repeat(np.arange(n_members), n_courses)
    n = len(member)
    c = centre[member]
    programmes = np.array([pr[0] for pr in PROGRAMMES])
    pool = np.array([pr[2] for pr in PROGRAMMES])
    weights = np.array([5.4 if pr[2] else 2.9 for pr in PROGRAMMES]) * np.array([1.0 if pr[1] else 0.6 for pr in PROGRAMMES])
    prog = np.empty(n, dtype=object)
    for k, name in enumerate(CENTRES):
        at = np.flatnonzero(c == k)
        w = weights * (1.0 if name in POOL_CENTRES else ~pool)
        prog[at] = rng.choice(programmes, len(at), p=w / w.sum())
    start = pd.Timestamp(2025, 1, 1) + pd.DateOffset(months=int(rng.integers(2, 9)))
    months = pd.date_range(start, periods=3, freq="MS").strftime("%Y-%m").to_numpy()
    end_month = rng.choice(months, n)

    tau = p["tau"][c]
    base = (p["base"][c] + np.array([PROGRAMME_SHIFT[x] for x in prog]) + 0.05 * (age[member] >= 60)
            + rng.normal(0, 0.03, n))
    base = np.clip(base, 0.05, 0.92 - tau)
    sent = np.zeros(n, dtype=int)
    for k in range(3):                       # the centre's lottery: its budget's share of its endings
        at = np.flatnonzero(c == k)
        sent[rng.choice(at, int(round(p["send"][k] * len(at))), replace=False)] = 1
    u = rng.random(n)
    applied = u < base + tau * sent
    wait = float(rng.uniform(0.04, 0.10))
    waitlisted = applied & (rng.random(n) < wait)
    result = np.where(applied & ~waitlisted, "등록", np.where(applied, "대기", "미신청"))
    q0, gamma = float(rng.uniform(0.12, 0.22)), float(rng.uniform(0.15, 0.30))
    closeness = 0.7 * u + 0.3 * rng.random(n)          # members about to re-enrol ask about classes more
    inquiry = (closeness < (q0 + gamma * sent) * 1.1).astype(int)

    keep = 1 - wait
    is_sent = sent == 1
    ate = float(keep * tau.mean())
    naive = float(keep * ((base + tau)[is_sent].mean() - base[~is_sent].mean()))
    params = {
        "scenario": scenario, "months": list(months), "members": n_members, "endings": n,
        "centres": {name: {"endings": int((c == k).sum()), "sent_share": round(float(sent[c == k].mean()), 3),
                           "baseline_apply": round(float(p["base"][k]), 3), "effect_apply": round(float(p["tau"][k]), 3)}
                    for k, name in enumerate(CENTRES)},
        "waitlist_share": round(wait, 3), "inquiry_base": round(q0, 3), "inquiry_boost": round(gamma, 3),
        "expected_naive": round(naive, 4), "expected_bias": round(naive - ate, 4),
    }
    arrays = {"centre": c, "member": member, "programme": prog.astype(str), "sex": sex[member], "age": age[member],
              "month": end_month, "sent": sent, "inquiry": inquiry, "result": result}
    return arrays, {"params": params, "ate": ate, "naive": naive}


def _table(rng: np.random.Generator, d: dict) -> pd.DataFrame:
    ids = rng.choice(16 ** 12, d["member"].max() + 1, replace=False)
    table = pd.DataFrame({
        "회원ID": [f"M{int(i):012x}" for i in ids[d["member"]]],
        "시설명": np.array(CENTRES, dtype=object)[d["centre"]],
        "프로그램": d["programme"],
        "성별": d["sex"],
        "나이": d["age"],
        "종료월": d["month"],
        "문자발송": d["sent"],
        "상담문의": d["inquiry"],
        "재등록결과": d["result"],
    })
    order = np.lexsort((table["회원ID"].to_numpy(), table["프로그램"].to_numpy(), table["종료월"].to_numpy()))
    return table.iloc[order].reset_index(drop=True)


def make(rng: np.random.Generator) -> tuple[dict[str, pd.DataFrame], dict]:
    scenario = str(rng.choice(SCENARIOS))
    for _ in range(60):
        arrays, planted = _draw(rng, scenario)
        if _separates(arrays, scenario):
            table = _table(rng, arrays)
            truth = {"params": planted["params"], "effects": [
                {"name": "sms_reenrolment_effect", "value": round(planted["ate"], 5), "question": "q5",
                 "interval": "ci"},
                {"name": "naive_difference_expected", "value": round(planted["naive"], 5), "question": "q3",
                 "interval": "ci"},
            ]}
            return {"sports_sms_pilot.csv": table}, truth
    raise RuntimeError(f"no m05 draw separates the misconceptions in 60 tries ({scenario})")
