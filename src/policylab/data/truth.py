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
