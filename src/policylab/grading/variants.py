"""The trainer's side of per-learner draws: build them for the roster, and show one learner's figures.

``policylab variants build`` prepares every learner's draw of every converted module (for the hub:
into a folder each learner's server mounts read-only as ``$POLICYLAB_DRAWS``); ``policylab variants
show`` prints what a trainer marks written answers against: the draw's planted parameters and the
reference values computed on it.
"""
from __future__ import annotations

import time
from pathlib import Path

from policylab.course.modules import get_module, load_modules
from policylab.data.draws import DrawError, load_variant_key
from policylab.data.synth.draws.build import build_draw, read_truth, record_key, truth_path
from policylab.grading.reference import compute
from policylab.grading.roster import load_roster


def converted_modules(root: Path) -> list[str]:
    return [m.id for m in load_modules(root, ready_only=True) if m.converted]


def build_variants(root: Path, *, learners: list[str] | None = None, modules: list[str] | None = None,
                   base: Path | None = None, progress=None) -> list[tuple[str, str, Path, float]]:
    """Build (or find fresh) each learner's draw of each module: [(learner, module, folder, seconds)]."""
    modules = list(modules or converted_modules(root))
    for module_id in modules:
        if not get_module(module_id, root).converted:
            raise DrawError(f"{module_id}은(는) 개인별 자료를 쓰지 않는 모듈입니다(course.yml의 converted).")
    learners = list(learners or [r.learner_id for r in load_roster(root)])
    if not learners:
        raise DrawError("명단(grading/roster.csv)에 학습자가 없습니다. --learners로 지정하거나 명단을 만드세요.")
    key, _ = load_variant_key()
    record_key(root, key)
    done = []
    for learner in learners:
        for module_id in modules:
            started = time.monotonic()
            folder = build_draw(module_id, learner, key=key, root=root, base=base)
            if base is not None and not truth_path(root, learner, module_id).is_file():
                build_draw(module_id, learner, key=key, root=root)  # the trainer's copy keeps the truth
            done.append((learner, module_id, folder, time.monotonic() - started))
            if progress:
                progress(learner, module_id)
    return done


def _fmt(value) -> str:
    import pandas as pd

    if isinstance(value, float):
        return f"{value:,.4f}"
    if isinstance(value, (pd.Series, pd.DataFrame)):
        text = value.head(8).to_string()
        return "\n      " + text.replace("\n", "\n      ") + (f"\n      … ({len(value)}행)" if len(value) > 8 else "")
    if hasattr(value, "params"):
        return f"적합 결과 (nobs {int(value.nobs)})"
    return str(value)


def describe(root: Path, learner: str, module_id: str) -> str:
    """A learner's draw as a trainer needs it: identity, planted parameters, reference values."""
    key, demo = load_variant_key()
    folder = build_draw(module_id, learner, key=key, root=root)
    truth = read_truth(root, learner, module_id)
    lines = [f"학습자 {learner} · {module_id} · 지문 {truth.get('fingerprint')}" + (" · 데모 키" if demo else ""),
             f"자료 폴더: {folder}", "", "심어 둔 값 (학습자에게 보이지 않음):"]
    for name, value in (truth.get("params") or {}).items():
        lines.append(f"  {name}: {value}")
    for effect in truth.get("effects") or []:
        lines.append(f"  효과 {effect['name']}: {effect['value']}")
    lines += ["", "이 학습자의 자료로 계산한 정답 (서술형 채점 기준의 숫자):"]
    for question, values in compute(module_id, folder, root=root).items():
        lines.append(f"  {question}:")
        for name, value in values.items():
            lines.append(f"    {name} = {_fmt(value)}")
    return "\n".join(lines)
