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


def _rates(df: pd.DataFrame, by: str, weights: str = "all") -> float:
    y = (df["재등록결과"] == "등록").astype(float)
    rates = y.groupby([df[by], df["문자발송"]]).mean().unstack()
    diff = rates[1] - rates[0]
    if weights == "all":
        w = df[by].value_counts(normalize=True)
    elif weights == "sent":
        w = df.loc[df["문자발송"] == 1, by].value_counts(normalize=True)
    elif weights == "unsent":
        w = df.loc[df["문자발송"] == 0, by].value_counts(normalize=True)
    else:
        return float(diff.mean())
    return float((diff * w.reindex(diff.index)).sum())


def _separates(df: pd.DataFrame, scenario: str) -> bool:
    """Every banked mistake gives a value of its own, and the draw shows its scenario plainly."""
    counts = df.groupby(["시설명", "문자발송"]).size().unstack(fill_value=0)
    if len(counts) != len(CENTRES) or counts.min().min() < 40:
        return False
    y = (df["재등록결과"] == "등록").astype(float)
    sent = df["문자발송"] == 1
    naive = float(y[sent].mean() - y[~sent].mean())
    ate = _rates(df, "시설명")
    att = _rates(df, "시설명", "sent")
    others = [_rates(df, "시설명", "plain"), att, _rates(df, "프로그램"), _rates(df, "상담문의"), naive,
              LESSON_EFFECT, float((df["재등록결과"] != "미신청")[sent].mean() - (df["재등록결과"] != "미신청")[~sent].mean())]
    if ate < 0.02 or min(abs(ate - v) for v in others) < 0.004 or abs(att - naive) < 0.004:
        return False
    if scenario == "overstates" and not naive > ate + 0.015:
        return False
    if scenario == "understates" and not 0.01 < naive < ate - 0.015:
        return False
    if scenario == "flips" and not naive < -0.01:
        return False
    unweighted, atc = _rates(df, "시설명", "plain"), _rates(df, "시설명", "unsent")
    if min(abs(att - unweighted), abs(att - atc)) < 0.002:
        return False
    applied = (df["재등록결과"] != "미신청").astype(float)
    if abs(float(applied[sent].mean() - applied[~sent].mean()) - naive) < 0.002:
        return False
    by_member = y.groupby(df["회원ID"]).max().mean()
    members = df.groupby("회원ID")["문자발송"].sum()
    return bool((members >= 2).any() and int(sent.sum()) != int((members > 0).sum())
                and int((members > 0).sum()) != len(members) and abs(by_member - y.mean()) > 1e-4
                and (df["재등록결과"] == "대기").any())


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


def _draw(rng: np.random.Generator, scenario: str) -> tuple[pd.DataFrame, dict]:
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

    ids = rng.choice(16 ** 12, n_members, replace=False)
    table = pd.DataFrame({
        "회원ID": [f"M{int(i):012x}" for i in ids[member]],
        "시설명": np.array(CENTRES, dtype=object)[c],
        "프로그램": prog.astype(str),
        "성별": sex[member],
        "나이": age[member],
        "종료월": end_month,
        "문자발송": sent,
        "상담문의": inquiry,
        "재등록결과": result,
    })
    order = np.lexsort((table["회원ID"].to_numpy(), table["프로그램"].to_numpy(), table["종료월"].to_numpy()))
    table = table.iloc[order].reset_index(drop=True)

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
    return table, {"params": params, "ate": ate, "naive": naive}


def make(rng: np.random.Generator) -> tuple[dict[str, pd.DataFrame], dict]:
    scenario = str(rng.choice(SCENARIOS))
    for _ in range(60):
        table, planted = _draw(rng, scenario)
        if _separates(table, scenario):
            truth = {"params": planted["params"], "effects": [
                {"name": "sms_reenrolment_effect", "value": round(planted["ate"], 5), "question": "q5",
                 "interval": "ci"},
                {"name": "naive_difference_expected", "value": round(planted["naive"], 5), "question": "q3",
                 "interval": "ci"},
            ]}
            return {"sports_sms_pilot.csv": table}, truth
    raise RuntimeError(f"no m05 draw separates the misconceptions in 60 tries ({scenario})")
