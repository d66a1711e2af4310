"""Item analysis for trainers: per question, how many got it right and which known mistakes the rest made.

Trainers use it to decide what to reteach. It is built from the snapshot's questions.csv alone
(the grader's diagnosis is in its ``misconception`` column), counts only autograded questions of
submissions that were scored, and shows no row describing fewer than ``MIN_GROUP`` learners —
like the dashboard, it is aggregate-only: no learner's identity or answer appears.
"""
from __future__ import annotations

import html
import time
from pathlib import Path
from typing import TYPE_CHECKING

from policylab.reports.aggregates import MIN_GROUP
from policylab.reports.display import FONT_FAMILY

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

COLUMNS = ("module", "question", "title", "learners", "correct_pct", "misconception", "mistake", "share_pct")


def item_analysis(questions: "pd.DataFrame", *, min_n: int = MIN_GROUP) -> "pd.DataFrame":
    """One row per module × question × outcome: ``misconception`` is ``(정답)`` for right answers,
    a bank id for a named mistake, ``(알 수 없는 오답)`` for wrong answers no known mistake matches.
    Questions answered by fewer than ``min_n`` learners are left out (``learners`` says how many)."""
    import pandas as pd

    auto = questions[(questions["kind"] == "auto") & questions["score"].notna()].copy()
    if auto.empty:
        return pd.DataFrame(columns=list(COLUMNS))
    right = auto["score"] >= auto["max_score"]
    auto["outcome"] = auto["misconception"].where(auto["misconception"] != "", "(알 수 없는 오답)")
    auto.loc[right, "outcome"] = "(정답)"
    auto.loc[right, "mistake"] = ""
    rows = []
    for (module, question), group in auto.groupby(["module", "question"], sort=True):
        n = group["learner_id"].nunique()
        if n < min_n:
            continue
        correct = 100.0 * (group["outcome"] == "(정답)").sum() / len(group)
        for outcome, part in group.groupby("outcome", sort=False):
            rows.append({"module": module, "question": question, "title": group["title"].iloc[0], "learners": n,
                         "correct_pct": round(correct, 1), "misconception": outcome,
                         "mistake": part["mistake"].iloc[0] if outcome not in ("(정답)", "(알 수 없는 오답)") else "",
                         "share_pct": round(100.0 * len(part) / len(group), 1)})
    out = pd.DataFrame(rows, columns=list(COLUMNS))
    order = {"(정답)": 0, "(알 수 없는 오답)": 2}
    return (out.assign(_o=out["misconception"].map(order).fillna(1))
               .sort_values(["module", "question", "_o", "share_pct"], ascending=[True, True, True, False])
               .drop(columns="_o").reset_index(drop=True))


PERSIST_COLUMNS = ("module", "question", "misconception", "learners", "still_at_last")


def persisting_mistakes(checks: "pd.DataFrame | None", *, min_n: int = MIN_GROUP) -> "pd.DataFrame":
    """From the checks before submitting: per module × question × named mistake, how many learners made it
    in some check (``learners``) and how many still made it at their last check of that module
    (``still_at_last``): the mistakes checking did not cure. Rows about fewer than ``min_n`` learners are
    left out; learners are counted, never named."""
    import pandas as pd

    if checks is None or checks.empty:
        return pd.DataFrame(columns=list(PERSIST_COLUMNS))
    last = checks.groupby(["learner_id", "module"])["attempt"].transform("max") == checks["attempt"]
    named = checks[checks["verdict"] == "named"]
    rows = []
    for (module, question, mistake), group in named.groupby(["module", "question", "misconception"], sort=True):
        n = group["learner_id"].nunique()
        if n >= min_n:
            rows.append({"module": module, "question": question, "misconception": mistake, "learners": n,
                         "still_at_last": group.loc[last[group.index], "learner_id"].nunique()})
    return pd.DataFrame(rows, columns=list(PERSIST_COLUMNS))


def write_item_analysis(questions: "pd.DataFrame", out_dir: Path,
                        checks: "pd.DataFrame | None" = None) -> tuple[Path, Path]:
    """``item_analysis.csv`` (Excel-readable) and ``items.html`` (the trainers' page) in ``out_dir``."""
    table = item_analysis(questions)
    csv_path = Path(out_dir) / "item_analysis.csv"
    table.to_csv(csv_path, index=False, encoding="utf-8-sig")
    body = []
    for (module, question), group in table.groupby(["module", "question"], sort=False):
        first = group.iloc[0]
        body.append(f"<h3>{html.escape(module)} · {html.escape(str(first['title']))} "
                    f"<small>({html.escape(question)}, 학습자 {int(first['learners'])}명, 정답률 "
                    f"{first['correct_pct']:.0f}%)</small></h3>")
        rows = "".join(
            f"<tr><td>{html.escape(str(r.misconception))}</td><td>{r.share_pct:.0f}%</td>"
            f"<td>{html.escape(str(r.mistake))}</td></tr>" for r in group.itertuples())
        body.append(f"<table><thead><tr><th>결과</th><th>비율</th><th>실수 설명</th></tr></thead>"
                    f"<tbody>{rows}</tbody></table>")
    if not body:
        body.append(f"<p>학습자 {MIN_GROUP}명 이상이 채점된 문항이 아직 없습니다.</p>")
    persisting = persisting_mistakes(checks)
    body.append("<h2>제출 전 확인에서 반복된 실수</h2><p>학습자가 제출 전 확인(policylab check)에서 채점기가 알아본 실수와, "
                "그 모듈의 마지막 확인에서도 같은 실수가 남은 학습자 수입니다. 확인으로 고쳐지지 않은 실수는 다시 가르칠 "
                f"후보입니다. 학습자 {MIN_GROUP}명 미만인 행은 싣지 않습니다.</p>")
    if persisting.empty:
        body.append("<p>해당하는 실수가 아직 없습니다.</p>")
    else:
        rows = "".join(f"<tr><td>{html.escape(r.module)}</td><td>{html.escape(r.question)}</td>"
                       f"<td>{html.escape(r.misconception)}</td><td>{r.learners}명</td><td>{r.still_at_last}명</td></tr>"
                       for r in persisting.itertuples())
        body.append("<table><thead><tr><th>모듈</th><th>문항</th><th>실수</th><th>확인에서 한 학습자</th>"
                    f"<th>마지막 확인에도 남은 학습자</th></tr></thead><tbody>{rows}</tbody></table>")
    page = f"""<!DOCTYPE html>
<html lang="ko"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>문항 분석 (강사용)</title>
<style>body {{ font-family: {FONT_FAMILY}; max-width: 1000px; margin: 2em auto; padding: 0 1em; color: #222; }}
table {{ border-collapse: collapse; width: 100%; margin-bottom: 1.5em; }}
th, td {{ text-align: left; padding: 4px 10px; border-bottom: 1px solid #ddd; vertical-align: top; }}
th {{ background: #f3f5f8; }} small {{ color: #555; font-weight: normal; }}</style></head>
<body><h1>문항 분석 (강사용)</h1>
<p>자동 채점 문항마다 정답 비율과, 틀린 답 가운데 채점기가 알아본 흔한 실수의 비율입니다. 무엇을 다시 가르칠지
정하는 데 쓰십시오. 학습자 {MIN_GROUP}명 미만이 채점된 문항은 싣지 않습니다. 개인별 답은 담지 않습니다.
생성 시각: {time.strftime("%Y-%m-%d %H:%M")}</p>
{chr(10).join(body)}
</body></html>
"""
    html_path = Path(out_dir) / "items.html"
    html_path.write_text(page, encoding="utf-8")
    return csv_path, html_path
