"""Release PolicyLab's Korean feedback pages through nbgrader's exchange (``nbgrader release_feedback``).

:func:`policylab.grading.feedback.write_feedback` writes ``grading/feedback/<learner>/<module>/<notebook>.html``,
which is nbgrader's ``feedback_directory``: nbgrader's own ``ExchangeReleaseFeedback`` copies
exactly those files (never nbgrader's English ones) to ``<exchange>/<course>/feedback/<hash>.html``,
the hash being nbgrader's ``notebook_hash`` of the learner's private submission secret. A learner
then fetches them with the Assignments tab's "Fetch Feedback" (``ExchangeFetchFeedback``), which
finds only the hashes its own submissions produce; the hub layout makes that folder ``2771``
(not listable), so nobody can find another learner's page by listing it.

nbgrader needs ``timestamp.txt`` and ``submission_secret.txt`` next to the pages. GenerateFeedback
writes them; PolicyLab's status pages (no autograded notebook) have none, so they are copied from
the collected submission. Every released page is made world-readable (``0644``): the exchange
folder, not the file, keeps it private.
"""
from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from policylab.course.nbconfig import load_config, make_api
from policylab.course.paths import find_root
from policylab.grading.submissions import submission_dir


class ReleaseError(RuntimeError):
    """Feedback cannot be released; the message (Korean, for trainers) says what to fix."""


@dataclass
class ReleaseReport:
    module: str
    released: dict[str, list[Path]] = field(default_factory=dict)  # learner → pages in the exchange
    skipped: dict[str, str] = field(default_factory=dict)          # learner → why (Korean)


def exchange_config(root: Path, exchange: Path | None = None):
    """The course's nbgrader config plus every ``nbgrader_config.py`` on the Jupyter config path
    (on the hub, the trainers' folder `policylab hub init` writes sets ``Exchange.root`` and the course id)."""
    from jupyter_core.paths import jupyter_config_path
    from traitlets.config.loader import PyFileConfigLoader

    config = load_config(root)
    for folder in reversed(jupyter_config_path()):
        if (Path(folder) / "nbgrader_config.py").is_file():
            config.merge(PyFileConfigLoader("nbgrader_config.py", path=folder).load_config())
    config.CourseDirectory.root = str(root)
    if exchange is not None:
        config.Exchange.root = str(exchange)
    return config


def release_feedback(module_id: str, *, root: Path | None = None, learners: list[str] | None = None,
                     exchange: Path | None = None) -> ReleaseReport:
    """Release the written feedback of ``module_id`` (every learner, or ``learners``) to the exchange."""
    from nbgrader.utils import notebook_hash

    root = Path(root) if root else find_root()
    config = exchange_config(root, exchange)
    if not config.Exchange.get("root") or not Path(config.Exchange.root).is_dir():
        raise ReleaseError("nbgrader 교환 폴더(Exchange.root)를 찾을 수 없습니다. 허브의 강사 서버(터미널)에서 "
                           "실행하거나 --exchange 로 지정하십시오.")
    if not config.CourseDirectory.get("course_id"):
        raise ReleaseError("과정 ID(CourseDirectory.course_id)가 설정되어 있지 않습니다.")
    api = make_api(config)
    feedback_root = Path(api.coursedir.format_path(api.coursedir.feedback_directory, ".", ".")).resolve()
    out = Path(config.Exchange.root) / config.CourseDirectory.course_id / "feedback"
    report = ReleaseReport(module=module_id)
    folders = sorted(p for p in feedback_root.glob(f"*/{module_id}") if p.is_dir())
    for folder in folders:
        learner = folder.parent.name
        if learners and learner not in learners:
            continue
        pages = sorted(folder.glob("*.html"))
        submitted = submission_dir(root, learner, module_id)
        for name in ("timestamp.txt", "submission_secret.txt"):
            if not (folder / name).is_file() and (submitted / name).is_file():
                shutil.copyfile(submitted / name, folder / name)
        if not pages:
            report.skipped[learner] = "피드백 페이지가 없습니다(`policylab feedback` 를 먼저 실행하십시오)."
            continue
        if not (folder / "submission_secret.txt").is_file():
            report.skipped[learner] = "제출 비밀값(submission_secret.txt)이 없어 배포할 수 없습니다."
            continue
        result = api.release_feedback(module_id, student_id=learner)
        if not result.get("success"):
            text = (result.get("error") or result.get("log") or "").strip().splitlines()
            report.skipped[learner] = "nbgrader 배포 실패: " + (text[-1][:200] if text else "알 수 없는 오류")
            continue
        secret = (folder / "submission_secret.txt").read_text()
        released = [out / f"{notebook_hash(secret=secret, notebook_id=page.stem)}.html" for page in pages]
        for path in released:
            os.chmod(path, 0o644)
        report.released[learner] = released
    if learners:
        for learner in set(learners) - set(report.released) - set(report.skipped):
            report.skipped[learner] = "피드백 폴더가 없습니다(`policylab feedback` 를 먼저 실행하십시오)."
    return report
