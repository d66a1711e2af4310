"""m04's expected values on one datasets folder (a learner's draw of the FAKE raw sample). Trainer-side, never released.

Called once per draw by ``policylab.grading.reference.expected``; the file is read once here. The
identifier patterns and the exercise's definitions live with the draw's recipe
(``policylab.data.synth.draws.m04``), which checks on every draw that they find exactly the
identifiers it planted.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from policylab.data.synth.draws import m04


def _found(memos: pd.Series, kind: str) -> list[str]:
    return [m.group(0) for text in memos for m in m04.PATTERNS[kind].finditer(text)]


def reference(data: Path) -> dict:
    raw = pd.read_csv(Path(data) / m04.FILE)
    memos = raw["메모"]
    mobiles, plates = _found(memos, "휴대전화번호"), _found(memos, "차량번호")
    others = {kind: _found(memos, kind) for kind in ("주민등록번호", "유선전화번호", "이메일")}
    receipts = memos.str.extractall(r"접수번호 (\d{4}-\d{6})")[0].tolist()
    dongho = memos.str.extractall(r"(\d{3}동 \d{3,4}호)")[0].tolist()

    release = m04.release_of(raw)
    quasi = ["연령대", "성별", "행정동"]
    people = m04.people_per_class(release, quasi)
    width, sizes = m04.band_choice(release, m04.ages(raw), ["성별"])
    table = m04.people_table(release)

    return {
        "q1": {"n_mobile": len(mobiles), "numbers": mobiles,
               "decoys": plates + receipts + dongho + sum(others.values(), [])},
        "q2": {"n_plate": len(plates), "plates": plates,
               "decoys": mobiles + receipts + dongho + sum(others.values(), [])},
        "q3": {"memo_clean": m04.mask_memo(raw)},
        "q4": {"vehicle_id": raw["차량번호"].map(m04.vehicle_pseudonym).tolist(),
               "n_vehicles": int(raw["차량번호"].str.replace(r"\s", "", regex=True).nunique())},
        "q5": {"release": release},
        "q6": {"k_value": int(people.min()), "n_risky": int((people < 5).sum()), "rows": len(raw)},
        "q7": {"band_width": width, "band_sizes": sizes},
        "q8": {"published": table.mask((table > 0) & (table < 5)),
               "suppressed": int(((table > 0) & (table < 5)).sum().sum())},
    }
