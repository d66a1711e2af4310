"""m01's reference: every autograded question's expected values on one datasets folder (a learner's draw).

Trainer-side only (never released): the hidden tests ask ``policylab.grading.reference.expected("m01")``.
"""
from __future__ import annotations

import math
from pathlib import Path

import pandas as pd


def _fee(row, minutes: int) -> int:
    units = math.ceil(max(0, minutes - row["주차기본시간"]) / row["추가단위시간"])
    return int(row["주차기본요금"] + units * row["추가단위요금"])


def reference(data: Path) -> dict:
    lots = pd.read_csv(Path(data) / "parking_lots.csv")
    paid = lots[lots["요금정보"] == "유료"]
    street = paid[paid["주차장유형"] == "노상"]
    biggest = street[street["주차구획수"] == street["주차구획수"].max()].iloc[0]
    free = int(lots["주차구획수"].iloc[0])  # cell A
    free = free - 5                        # B
    free = free + 3                        # C
    free = free - 5                        # B once more
    return {
        "q1": {"n_lots": len(lots), "shape": lots.shape, "ids": sorted(lots["주차장관리번호"])},
        "q2": {"free_final": free},
        "q3": {"fee": _fee(lots.iloc[0], 97)},
        "q4": {"spaces": int(lots.loc[lots["주차장유형"] == "노외", "주차구획수"].sum())},
        "q5": {"n_paid": len(paid), "share_pct": float(paid["주차구획수"].sum() / lots["주차구획수"].sum() * 100)},
        "q6": {"typical_fee": float(paid["주차기본요금"].median())},
        "q7": {"name": biggest["주차장명"]},
        "q8": {"fee": _fee(biggest, 90)},
    }
