"""The planted policy effects: the one place the generator and the tests read them from.

Learners must estimate these values; they are never written to ``datasets/`` or its
README. Everything here is a plain constant so tests can import it cheaply.
"""
from __future__ import annotations

import datetime as dt

#: The one seed every table is generated from.
SEED = 20250101

#: Reference date of the published snapshot (데이터기준일자).
SNAPSHOT_DATE = dt.date(2026, 6, 30)

#: The study period of the time-stamped tables.
PERIOD_START = dt.date(2023, 1, 1)
PERIOD_END = dt.date(2026, 6, 30)

# --- Parking -----------------------------------------------------------------------------
#: The per-5-minute pricing reform at the 1급지/2급지 paid lots (role "A" in generate.LOTS).
PER5_PRICING_DATE = dt.date(2025, 1, 1)
#: The lot that goes from free to paid, and the date (the comparison lots stay free).
FREE_TO_PAID_LOT = "351-2-000013"
FREE_TO_PAID_DATE = dt.date(2024, 7, 1)
#: Interrupted time series: change in the monthly share of stays over 4 hours at the
#: per-5-minute lots, from January 2025 (a level change; the slope is unchanged).
LONG_STAY_MINUTES = 240
LONG_STAY_SHARE_CHANGE = -0.06
#: ... on top of an underlying rise of the long-stay share per month (why a naive
#: before/after comparison understates the drop).
LONG_STAY_SHARE_TREND = 0.0012
#: Difference-in-differences: change in daily entries at the newly paid lot relative to the
#: free comparison lots (the free 노외 lots of 급지 3).
FREE_TO_PAID_COMPARISON = ("351-2-000014", "351-2-000015", "351-2-000016")
FREE_TO_PAID_DAILY_ENTRIES = -6.0
#: ... on top of a common rise in daily entries at all four lots, per year.
FREE_LOTS_DAILY_ENTRIES_TREND = 2.0

# --- SMS reminder trial ------------------------------------------------------------------
SMS_ARMS = ("미발송", "일반문자", "간편문자")
SMS_BASELINE_PAID_30D = 0.40
#: Effect on the probability of paying within 30 days, versus no message.
SMS_EFFECT = {"일반문자": 0.04, "간편문자": 0.08}

# --- Sports facilities -------------------------------------------------------------------
SENIOR_AGE = 65
#: Regression discontinuity: relative jump in the number of applications to discounted
#: programmes at age 65 (0.30 = 30% more at the cut-off than the trend from below predicts).
SENIOR_DISCOUNT_ENROLMENT_JUMP = 0.30
#: Interrupted time series: change in the share of pool-programme applications that are
#: waitlisted, from the July-2023 class restructure (a level change).
POOL_RESTRUCTURE_DATE = dt.date(2023, 7, 1)
POOL_WAITLIST_SHARE_CHANGE = -0.12

# --- Civil complaints --------------------------------------------------------------------
#: Difference-in-differences: change in monthly 주차질서 complaints in the newly paid lot's
#: 행정동 relative to the other 행정동, from FREE_TO_PAID_DATE.
COMPLAINT_DONG = "다솜동"
COMPLAINT_PARKING_MONTHLY_CHANGE = 4.0

# --- Facility energy ---------------------------------------------------------------------
#: Staggered difference-in-differences: proportional change in monthly electricity use once
#: a facility's LED retrofit is in service (the month after the retrofit date).
LED_ELECTRICITY_CHANGE = -0.10

# --- Citizen survey ----------------------------------------------------------------------
#: Probability of answering 4 or 5 on overall satisfaction, by age band (sex and 행정동 shift it
#: by SURVEY_SEX_SHIFT and SURVEY_DONG_SHIFT). The planted quantity is the population share
#: of satisfied residents, survey_population_share(margins), which raking recovers and the
#: unweighted sample mean overstates because 65+ are over-sampled.
SURVEY_AGE_BANDS = ("18-29", "30-39", "40-49", "50-64", "65+")
SURVEY_SATISFIED_BY_AGE = {"18-29": 0.48, "30-39": 0.50, "40-49": 0.55, "50-64": 0.62, "65+": 0.80}
SURVEY_SEX_SHIFT = {"남": -0.02, "여": 0.02}
SURVEY_DONG_SHIFT = {"중앙동": 0.03, "다솜동": -0.04, "새내동": 0.02, "하늘동": -0.02}
#: How much more likely a resident aged 65+ is to be in the sample than a younger one.
SURVEY_OVERSAMPLE_65 = 3.0


def survey_satisfied_probability(dong: str, sex: str, age_band: str) -> float:
    return (SURVEY_SATISFIED_BY_AGE[age_band] + SURVEY_SEX_SHIFT[sex]
            + SURVEY_DONG_SHIFT.get(dong, 0.0))


def survey_population_share(margins) -> float:
    """The planted population share of satisfied residents, from the published margins
    (a table with 행정동, 성별, 연령대, 인구수)."""
    probs = [survey_satisfied_probability(d, s, a)
             for d, s, a in zip(margins["행정동"], margins["성별"], margins["연령대"])]
    weights = margins["인구수"].astype(float)
    return float((weights * probs).sum() / weights.sum())
