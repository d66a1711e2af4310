"""Raw synthetic tables, deterministic from one seed.

The raw tables look like the corporation's operational records *before* a data steward
anonymizes them: they carry fake plates, names, phone numbers and birth dates.
``policylab.data.publish`` turns them into ``datasets/``. Every planted effect comes from
``policylab.data.synth.truth``; nothing here hard-codes an effect size. The makers live by domain in
``places``, ``people``, ``parking`` and ``services``; this module runs them, one stream per table.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from policylab.data.synth import truth
from policylab.data.synth.parking import make_parking_sessions
from policylab.data.synth.people import make_raw_sample
from policylab.data.synth.places import make_parking_lots, make_parking_tariffs
from policylab.data.synth.services import (
    make_complaints,
    make_energy_monthly,
    make_sms_trial,
    make_sports_enrolments,
    make_survey,
    make_survey_margins,
)

# --- Everything --------------------------------------------------------------------------

def table_rng(seed: int, table: str) -> np.random.Generator:
    """An independent stream per table, so changing one table never shifts another's values."""
    return np.random.default_rng([seed, *table.encode("utf-8")])


def generate_raw(*, seed: int = truth.SEED) -> dict[str, pd.DataFrame]:
    """Every raw table, keyed by name. Deterministic: the same seed gives the same tables."""
    margins = make_survey_margins(table_rng(seed, "survey_margins"))
    return {
        "parking_lots": make_parking_lots(table_rng(seed, "parking_lots")),
        "parking_tariffs": make_parking_tariffs(),
        "parking_sessions": make_parking_sessions(table_rng(seed, "parking_sessions")),
        "sms_trial": make_sms_trial(table_rng(seed, "sms_trial")),
        "sports_enrolments": make_sports_enrolments(table_rng(seed, "sports_enrolments")),
        "complaints": make_complaints(table_rng(seed, "complaints")),
        "energy_monthly": make_energy_monthly(table_rng(seed, "energy_monthly")),
        "survey": make_survey(table_rng(seed, "survey"), margins),
        "survey_margins": margins,
        "raw_sample": make_raw_sample(table_rng(seed, "raw_sample")),
    }
