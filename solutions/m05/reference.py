"""m05's expected values on one datasets folder (a learner's draw of the re-enrolment SMS pilot).

Trainer-side, never released: the hidden tests ask ``policylab.grading.reference.expected("m05")``.
The outcome is re-enrolling for the next month (재등록결과 '등록'; a waitlisted application is not one);
the centre (시설명) is the confounder: each centre had its own budget and drew its recipients by lottery.
"""
from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

Z95 = 1.959963984540054
LADDER = {"A": 1, "B": 1, "C": 2, "D": 3, "E": 4, "F": 5}


def reference(data: Path) -> dict:
    pilot = pd.read_csv(Path(data) / "sports_sms_pilot.csv")
    y = (pilot["재등록결과"] == "등록").astype(float)
    sent = pilot["문자발송"] == 1

    # Q1, Q2: output (members who got the reminder) and outcome (re-enrolment rate over all endings)
    sent_members = int(pilot.loc[sent, "회원ID"].nunique())
    reenrol_rate = float(y.mean())

    # Q3: the naive comparison, with its 95% interval (two independent proportions)
    p1, p0, n1, n0 = y[sent].mean(), y[~sent].mean(), int(sent.sum()), int((~sent).sum())
    naive = float(p1 - p0)
    se_naive = math.sqrt(p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0)

    # Q4–Q6: within each centre (the lottery's strata), then weighted by all endings (ATE) or by the sent (ATT)
    groups = y.groupby([pilot["시설명"], pilot["문자발송"]])
    rates, sizes = groups.mean().unstack(), groups.size().unstack()
    stratum_diff = (rates[1] - rates[0]).sort_index()
    w_all = pilot["시설명"].value_counts(normalize=True).reindex(stratum_diff.index)
    w_sent = pilot.loc[sent, "시설명"].value_counts(normalize=True).reindex(stratum_diff.index)
    adjusted = float((stratum_diff * w_all).sum())
    att = float((stratum_diff * w_sent).sum())
    var = rates[1] * (1 - rates[1]) / sizes[1] + rates[0] * (1 - rates[0]) / sizes[0]
    se_adjusted = math.sqrt(float((w_all ** 2 * var).sum()))

    return {
        "q1": {"sent_members": sent_members},
        "q2": {"reenrol_rate": reenrol_rate},
        "q3": {"naive_diff": naive, "ci": [naive - Z95 * se_naive, naive + Z95 * se_naive]},
        "q4": {"stratum_diff": stratum_diff},
        "q5": {"adjusted_diff": adjusted, "ci": [adjusted - Z95 * se_adjusted, adjusted + Z95 * se_adjusted]},
        "q6": {"att_diff": att},
        "q7": {"selection_bias": naive - att},
        "q8": {"smsl_levels": dict(LADDER)},
    }
