"""A trainer-only table in the autograded notebook: the learner's own figures, beside the mark scheme.

On a converted module every learner's numbers differ, so a written answer is marked against that
learner's draw. This autograde step adds, after the written question's mark scheme, a markdown cell
with the reference values computed on the draw the notebook was graded on (policylab.grading.reference).
Formgrader shows it to the trainer; the learner's feedback drops it (``TRAINER_ONLY`` metadata,
policylab.grading.feedback), so it never reaches a learner.
"""
from __future__ import annotations

import os
from pathlib import Path

import nbformat
from nbgrader.preprocessors import NbGraderPreprocessor

TRAINER_ONLY = "trainer_only"
SCHEME_END = "=== END MARK SCHEME ==="


def is_trainer_only(cell) -> bool:
    return bool(cell.get("metadata", {}).get("policylab", {}).get(TRAINER_ONLY))


def _plain(value) -> str:
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1e-3 or abs(value) >= 1e6 else f"{value:,.3f}"
    if isinstance(value, (list, tuple)) and len(value) <= 4 and all(isinstance(v, (int, float)) for v in value):
        return "[" + ", ".join(_plain(float(v)) if isinstance(v, float) else str(v) for v in value) + "]"
    if isinstance(value, (int, str)) and len(str(value)) <= 60:
        return str(value)
    return f"({type(value).__name__})"


def figures_markdown(module_id: str, data: Path, root: Path) -> str:
    from policylab.data.draws import draw_info
    from policylab.grading.reference import compute

    info = draw_info(data) or {}
    rows = [f"| {q} | `{name}` | {_plain(v)} |" for q, values in compute(module_id, data, root=root).items()
            for name, v in values.items() if not _plain(v).startswith("(")]
    return ("**강사용: 이 학습자의 자료로 계산한 값** (학습자 피드백에는 나가지 않습니다)\n\n"
            f"학습자 {info.get('learner', '?')}, 자료 지문 {info.get('fingerprint', '?')}. 서술형 답의 숫자는 이 값과 맞는지 봅니다"
            f" (`policylab variants show {info.get('learner', '?')} {module_id}`와 같은 값).\n\n"
            "| 문항 | 값 | 이 학습자의 정답 |\n|---|---|---|\n" + "\n".join(rows) + "\n")


class AddTrainerFigures(NbGraderPreprocessor):
    """After grading a converted module's notebook: the learner's figures after the mark scheme."""

    def preprocess(self, nb, resources):
        from policylab.data.draws import draw_info

        data = Path(os.environ.get("POLICYLAB_DATASETS") or "")
        info = draw_info(data) if data.parts else None
        if not info or not os.environ.get("POLICYLAB_ROOT"):
            return nb, resources
        try:
            text = figures_markdown(info["module"], data, Path(os.environ["POLICYLAB_ROOT"]))
        except Exception as exc:  # noqa: BLE001 - the table is a convenience: grading goes on
            self.log.warning("trainer figures skipped: %s: %s", type(exc).__name__, exc)
            return nb, resources
        nb.cells = [c for c in nb.cells if not is_trainer_only(c)]  # never trust one the submission carries
        cell = nbformat.v4.new_markdown_cell(text, metadata={"policylab": {TRAINER_ONLY: True}})
        after = max((i for i, c in enumerate(nb.cells) if c.cell_type == "markdown" and SCHEME_END in c.source),
                    default=len(nb.cells) - 1)
        nb.cells.insert(after + 1, cell)
        return nb, resources
