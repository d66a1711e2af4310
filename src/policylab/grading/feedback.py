"""Korean feedback HTML per learner, with no hidden test code in it anywhere.

nbgrader's ``generate_feedback`` renders the autograded notebook, whose test cells were
restored from the source notebook: the hidden tests are in the cell sources, and every
error in such a cell prints them again in its traceback (upstream #917; IPython shows
the whole cell). PolicyLab runs the same converter with one more step,
:class:`RedactForLearner`, and its own Korean template:

* every read-only cell, and any cell nbgrader re-inserted from the source, shows the
  released text (no hidden tests, no mark scheme, no model answer);
* an error in a test cell that holds hidden tests becomes one line: the visible test's
  Korean hint, or "숨은 테스트를 통과하지 못했습니다" when the failing line is hidden;
* any output that still contains a hidden line is replaced by a notice.

A submission is untrusted: learners' outputs and markdown are made inert by nbconvert's
sanitizer (:mod:`policylab.safe_html`: no script, no ``on*`` handler, no JavaScript output),
and every page carries a Content-Security-Policy that forbids script.

Finally every written file is checked for hidden lines (:func:`policylab.grading.leaks.find_leaks`) and for anything
that would run (:func:`policylab.safe_html.active_content`); a file that fails is replaced by
a notice and reported, never shipped. Submissions that have no
autograded notebook (unreadable, kernel died, unresponsive) get a short Korean page
that says what happened.
"""
from __future__ import annotations

import html
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from jinja2 import BytecodeCache
from nbconvert.exporters import HTMLExporter
from nbconvert.preprocessors import Preprocessor
from traitlets import Bool, Dict, List, Unicode

from policylab.course.modules import get_module
from policylab.course.nbconfig import load_config, make_api
from policylab.course.paths import find_root
from policylab.grading import states
from policylab.grading.trainer_figures import is_trainer_only
from policylab.grading.leaks import (ANSI, HIDDEN_BEGIN, HIDDEN_END, SCHEME_BEGIN, SCHEME_END, contains_secret,
                                     find_leaks, hidden_ranges, known_to_learner, output_text, remove_region,
                                     secret_lines)
from policylab.grading.submissions import submission_dir
from policylab.safe_html import CSP_NO_SCRIPT, active_content, exporter_config

TEMPLATES = Path(__file__).parent / "templates"
MISSING_NOTE = "was missing from the submission"
CELL_FRAME = re.compile(r"Cell In\s*\[\d*\],\s*line (\d+)")
HIDDEN_FAILED = "숨은 테스트를 통과하지 못했습니다. 값이나 계산 과정을 다시 확인해 보세요."
REDACTED = "[이 출력에는 채점용 숨은 테스트 내용이 들어 있어 가렸습니다.]"


PLOTLY_MIME = "application/vnd.plotly.v1+json"


def _chart_note(out):
    """A plotly figure as one Korean line: the feedback page is static HTML without plotly.js
    (nbconvert would drop the figure with a warning), and the learner has the chart in the notebook."""
    data = out.get("data") or {}
    if PLOTLY_MIME not in data or any(k.startswith(("image/", "text/html")) for k in data):
        return out
    layout = (data[PLOTLY_MIME] or {}).get("layout", {}) if isinstance(data[PLOTLY_MIME], dict) else {}
    title = layout.get("title", {})
    title = title.get("text", "") if isinstance(title, dict) else str(title or "")
    label = f"[차트: {title}]" if title else "[차트]"
    return nbformat.v4.new_output("display_data", data={"text/plain": f"{label} 차트는 제출한 노트북에서 볼 수 있습니다."})


class RedactForLearner(Preprocessor):
    """Make an autograded notebook safe to show its learner, and gather the Korean summary."""

    enabled = Bool(True).tag(config=True)
    release_sources = Dict(help="{notebook: {grade_id: released source}}").tag(config=True)
    secrets = List(Unicode(), help="hidden-test and mark-scheme lines").tag(config=True)
    titles = Dict(help="{grade_id: Korean question title} from the source notebook").tag(config=True)
    module_title = Unicode("").tag(config=True)
    course_root = Unicode("").tag(config=True)

    def preprocess(self, nb, resources):
        notebook = resources["nbgrader"]["notebook"]
        released = self.release_sources.get(notebook, {})
        errors: dict[str, str] = {}
        nb.cells = [c for c in nb.cells if not is_trainer_only(c)]  # the learner's figures table: trainers only
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            grade_id = meta.get("grade_id")
            original = cell.source
            had_hidden = HIDDEN_BEGIN in original
            if grade_id in released and (meta.get("locked") or MISSING_NOTE in original
                                          or HIDDEN_BEGIN in original or SCHEME_BEGIN in original):
                cell.source = released[grade_id]
            cell.source = remove_region(remove_region(cell.source, HIDDEN_BEGIN, HIDDEN_END),
                                         SCHEME_BEGIN, SCHEME_END)
            if meta.get("comment") == "No response.":  # nbgrader's automatic comment on an untouched answer
                meta["comment"] = "답을 작성하지 않았습니다."
            if cell.cell_type != "code":
                continue
            hidden = [n for r in hidden_ranges(original) for n in r]
            outputs = []
            for out in cell.get("outputs", []):
                if out.get("output_type") == "error":
                    out = self._error(out, had_hidden, hidden)
                    if grade_id and grade_id not in errors:
                        errors[grade_id] = "\n".join(out.traceback)
                if contains_secret(output_text(out), self.secrets):
                    out = nbformat.v4.new_output("stream", name="stdout", text=REDACTED)
                outputs.append(_chart_note(out))
            cell.outputs = outputs
        resources["policylab"] = self._summary(nb, resources, errors)
        return nb, resources

    @staticmethod
    def _error(out, had_hidden: bool, hidden: list[int]):
        ename, evalue = out.get("ename", ""), str(out.get("evalue", ""))
        if ename == "CellTimeoutError":
            return nbformat.v4.new_output("error", ename=ename, evalue=evalue,
                                          traceback=["시간 제한을 넘겨 실행을 중단했습니다."])
        if not had_hidden:
            return out
        frames = CELL_FRAME.findall(ANSI.sub("", "\n".join(out.get("traceback", []))))
        failed_line = int(frames[0]) if frames else None
        if failed_line is None or failed_line in hidden:
            safe = (ename == "AssertionError" and evalue and "\n" not in evalue and len(evalue) <= 200)
            message = HIDDEN_FAILED + (f" ({evalue})" if safe else "")
        else:
            message = f"{ename}: {evalue}" if evalue else ename
        return nbformat.v4.new_output("error", ename=ename, evalue="", traceback=[message])

    def _summary(self, nb, resources, errors: dict[str, str]) -> dict:
        from nbgrader.api import Gradebook

        info = resources["nbgrader"]
        learner, module = info["student"], info["assignment"]
        record = states.read_state(Path(self.course_root), module, learner) if self.course_root else None
        with Gradebook(info["db_url"]) as gb:
            submitted = gb.find_submission_notebook(info["notebook"], module, learner)
            grades = {g.name: (g.auto_score, g.manual_score, g.needs_manual_grade, g.score, g.max_score)
                      for g in submitted.grades}
            comments = {c.name: c.manual_comment for c in submitted.comments}
        questions = []
        auto = [0.0, 0.0]
        manual = [0.0, 0.0, False]
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            grade_id = meta.get("grade_id")
            if not meta.get("grade") or grade_id not in grades:
                continue
            auto_score, manual_score, needs, score, max_score = grades[grade_id]
            is_manual = bool(meta.get("solution") or meta.get("task") or cell.cell_type == "markdown")
            pending = is_manual and manual_score is None and (needs or auto_score is None)
            meta["pending"] = pending
            if pending:
                status, label = "wait", "강사 채점 대기"
            elif score >= max_score:
                status, label = "pass", "통과"
            elif score > 0:
                status, label = "part", "부분 점수"
            else:
                status, label = "fail", "통과하지 못함"
            hint = comments.get(grade_id) or "" if is_manual else ""
            if not is_manual and status != "pass":
                hint = ANSI.sub("", errors.get(grade_id, "")).strip() or "답을 다시 확인해 보세요."
            title = (cell.metadata.get("policylab") or {}).get("title") or self.titles.get(grade_id) or grade_id
            diagnosis = (cell.metadata.get("policylab") or {}).get("diagnosis") if status != "pass" else None
            diagnosis = diagnosis if isinstance(diagnosis, dict) else {}
            questions.append({"grade_id": grade_id, "title": title, "score": score or 0.0,
                              "max_score": max_score, "status": status, "status_label": label,
                              "hint": hint[:500], "pending": pending,
                              "mistake": str(diagnosis.get("text") or "")[:600],
                              "named": bool(diagnosis.get("misconception"))})
            part = manual if is_manual else auto
            part[0] += 0.0 if pending else (score or 0.0)
            part[1] += max_score
            if is_manual and pending:
                manual[2] = True
        state = record.state if record else states.GRADED
        return {
            "module": module, "module_title": self.module_title, "learner": learner,
            "submitted_at": _readable_time(record.submitted_at) if record else "",
            "state": state, "state_label": states.LABELS_KO[state],
            "reason": record.reason if record else "", "details": record.details if record else [],
            "score": info.get("score", auto[0] + manual[0]), "max_score": info.get("max_score", auto[1] + manual[1]),
            "auto_score": auto[0], "auto_max": auto[1], "manual_score": manual[0], "manual_max": manual[1],
            "manual_pending": manual[2], "late_penalty": info.get("late_penalty") or 0,
            "questions": questions, "csp": CSP_NO_SCRIPT,
        }


def _readable_time(iso: str) -> str:
    """'2025-03-12T09:54:00+09:00' → '2025-03-12 09:54 (한국 시간)'."""
    from datetime import datetime

    try:
        return datetime.fromisoformat(iso).astimezone(states.KST).strftime("%Y-%m-%d %H:%M (한국 시간)")
    except ValueError:
        return iso


@dataclass
class FeedbackReport:
    module: str
    written: dict[str, list[Path]] = field(default_factory=dict)   # learner → HTML files
    withheld: dict[str, str] = field(default_factory=dict)         # learner → why (a leak, a failure)

    @property
    def problems(self) -> dict[str, str]:
        return self.withheld


_CSP_META = f'<meta http-equiv="Content-Security-Policy" content="{CSP_NO_SCRIPT}">'


def _status_page(module, learner: str, record: states.StateRecord) -> str:
    esc = html.escape
    details = "".join(f"<li>{esc(d)}</li>" for d in record.details if d != record.reason)
    return f"""<!DOCTYPE html>
<html lang="ko"><head><meta charset="utf-8">{_CSP_META}<title>{esc(module.id)} 피드백 — {esc(learner)}</title>
<style>body{{font-family:"Noto Sans KR","Malgun Gothic",sans-serif;max-width:800px;margin:2em auto;padding:0 1em}}
.b{{border-left:6px solid #d2413a;background:#fdf1f0;padding:.6em 1em}}</style></head>
<body><h1>{esc(module.id)} {esc(module.title_ko)} — 채점 결과</h1>
<p>학습자: <b>{esc(learner)}</b>{' · 제출: ' + esc(_readable_time(record.submitted_at)) if record.submitted_at else ''}</p>
<div class="b"><b>{esc(record.label)}</b>: {esc(record.reason)}{'<ul>' + details + '</ul>' if details else ''}</div>
<p>자동 채점 점수: {0 if record.state in states.ZEROED else '없음'}{' / ' + format(record.auto_max, 'g') if record.auto_max else ''}</p>
<p>파일을 고쳐 다시 제출하면 다시 채점합니다. 궁금한 점은 강사에게 문의하세요.</p>
</body></html>
"""


def _withheld_page(module, learner: str) -> str:
    return (f"<!DOCTYPE html><html lang=\"ko\"><head><meta charset=\"utf-8\">{_CSP_META}<title>{html.escape(module.id)} "
            f"피드백</title></head><body><p>{html.escape(learner)}님의 {html.escape(module.id)} 피드백을 만들지 "
            "못했습니다. 강사에게 문의하세요.</p></body></html>\n")


def write_feedback(module_id: str, *, root: Path | None = None, learners: list[str] | None = None,
                   workers: int | None = 1) -> FeedbackReport:
    """Write ``grading/feedback/<learner>/<module>/<notebook>.html`` for every graded (or the named) learner.

    ``workers``: processes sharing the learners (None: one per core); each page is one nbconvert export,
    about 0.4 s of CPU, so a class's pages take a core for seconds."""
    from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
    from nbgrader.preprocessors import GetGrades

    root = Path(root) if root else find_root()
    module = get_module(module_id, root)
    records = {learner: r for (learner, _), r in states.read_states(root, module_id).items()}
    learners = list(learners) if learners else sorted(records)
    workers = max(1, min(workers or os.cpu_count() or 1, len(learners)))
    if workers > 1:
        return _in_processes(module_id, root, learners, workers)
    source_dir, release_dir = root / "solutions" / module_id, module.release.parent
    sources = {p.stem: nbformat.read(p, as_version=4) for p in sorted(source_dir.glob("*.ipynb"))}
    releases = {p.stem: nbformat.read(p, as_version=4) for p in sorted(release_dir.glob("*.ipynb"))}
    secrets = secret_lines(list(sources.values()), list(releases.values()))
    release_sources = {name: {c.metadata["nbgrader"]["grade_id"]: c.source for c in nb.cells
                              if c.metadata.get("nbgrader", {}).get("grade_id")}
                       for name, nb in releases.items()}
    titles = {c.metadata["nbgrader"]["grade_id"]: c.metadata["policylab"]["title"]
              for nb in sources.values() for c in nb.cells
              if c.metadata.get("nbgrader", {}).get("grade_id") and c.metadata.get("policylab", {}).get("title")}

    config = load_config(root)
    config.GenerateFeedback.preprocessors = [GetGrades, RedactForLearner, CSSHTMLHeaderPreprocessor]
    config.RedactForLearner.release_sources = release_sources
    config.RedactForLearner.secrets = secrets
    config.RedactForLearner.titles = titles
    config.RedactForLearner.module_title = module.title_ko
    config.RedactForLearner.course_root = str(root)
    nbgrader_templates = Path(__import__("nbgrader").__file__).parent / "server_extensions" / "formgrader" / "templates"
    for trait, value in exporter_config().items():  # learners' HTML, markdown and JavaScript made inert
        setattr(config.HTMLExporter, trait, value)
    config.HTMLExporter.template_name = "policylab_feedback"
    config.GenerateFeedback.exporter_class = _FeedbackExporter
    config.HTMLExporter.extra_template_basedirs = [str(TEMPLATES), str(nbgrader_templates)]
    api = make_api(config)

    report = FeedbackReport(module=module_id)
    feedback_root = Path(api.coursedir.format_path(api.coursedir.feedback_directory, ".", "."))
    autograded_root = Path(api.coursedir.format_path(api.coursedir.autograded_directory, ".", "."))
    for learner in learners:
        record = records.get(learner)
        out = feedback_root / learner / module_id
        if record is None:
            continue
        shutil.rmtree(out, ignore_errors=True)
        graded_dir = autograded_root / learner / module_id
        if record.state in states.SCORED and graded_dir.is_dir() and any(graded_dir.glob("*.ipynb")):
            result = _generate(api, module_id, learner)
            if not result["success"]:
                report.withheld[learner] = "피드백 생성 실패: " + _last_line(result)
                out.mkdir(parents=True, exist_ok=True)
                for name in sources:
                    (out / f"{name}.html").write_text(_withheld_page(module, learner), encoding="utf-8")
        else:
            out.mkdir(parents=True, exist_ok=True)
            for name in sources:
                (out / f"{name}.html").write_text(_status_page(module, learner, record), encoding="utf-8")
        files = sorted(out.glob("*.html"))
        own = known_to_learner(secrets, submission_dir(root, learner, module_id))
        for path in files:
            leaks = [line for line in find_leaks(path.read_text(encoding="utf-8"), secrets) if line not in own]
            if leaks:
                path.write_text(_withheld_page(module, learner), encoding="utf-8")
                report.withheld[learner] = f"{path.name}: 숨은 테스트 내용이 들어 있어 보내지 않았습니다 ({len(leaks)}줄)."
            elif active_content(path.read_text(encoding="utf-8")):
                path.write_text(_withheld_page(module, learner), encoding="utf-8")
                report.withheld[learner] = f"{path.name}: 실행될 수 있는 내용(스크립트)이 남아 있어 보내지 않았습니다."
        report.written[learner] = files
    return report


class _CompiledTemplates(BytecodeCache):
    """A jinja2 bytecode cache in memory, shared by every page this process writes: nbgrader builds a new
    exporter (and jinja environment) per page, which compiled its nine templates again each time (about
    a fifth of a page's CPU). jinja2 checks each entry against its template's source."""

    store: dict[str, bytes] = {}

    def load_bytecode(self, bucket) -> None:
        if bucket.key in self.store:
            bucket.bytecode_from_string(self.store[bucket.key])

    def dump_bytecode(self, bucket) -> None:
        self.store[bucket.key] = bucket.bytecode_to_string()


class _FeedbackExporter(HTMLExporter):
    """nbconvert's HTML exporter with the shared compiled templates (configured as HTMLExporter)."""

    def _create_environment(self):
        environment = super()._create_environment()
        environment.bytecode_cache = _CompiledTemplates()
        return environment


def _in_processes(module_id: str, root: Path, learners: list[str], workers: int) -> FeedbackReport:
    """write_feedback over ``workers`` processes, each a share of the learners; forked from a server that
    has nbgrader and nbconvert imported already (a spawned process would import them again per module)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["policylab.grading.feedback", "nbgrader.converters", "nbconvert.exporters"])
    shares = [learners[i::workers] for i in range(workers)]
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        # the server was forked with the environment of its first use: each share brings the caller's
        # (POLICYLAB_DB_URL, POLICYLAB_ROOT, ... as they are now)
        parts = list(pool.map(_write_share, [(module_id, str(root), share, dict(os.environ)) for share in shares]))
    report = FeedbackReport(module=module_id)
    for learner in learners:  # in the order asked, as one process writes them
        for part in parts:
            if learner in part.written:
                report.written[learner] = part.written[learner]
            if learner in part.withheld:
                report.withheld[learner] = part.withheld[learner]
    return report


def _write_share(job: tuple[str, str, list[str], dict]) -> FeedbackReport:
    module_id, root, learners, environ = job
    os.environ.clear()
    os.environ.update(environ)
    return write_feedback(module_id, root=Path(root), learners=learners, workers=1)


def _generate(api, module_id: str, learner: str) -> dict:
    """nbgrader's GenerateFeedback for one learner, as NbGraderAPI.generate_feedback runs it,
    minus the API's hard-coded template (it forces nbgrader's English one)."""
    from nbgrader.converters import GenerateFeedback
    from nbgrader.utils import capture_log

    api.coursedir.assignment_id = module_id
    api.coursedir.student_id = learner
    app = GenerateFeedback(coursedir=api.coursedir, parent=api)
    app.force = True
    return capture_log(app)


def _last_line(result: dict) -> str:
    text = (result.get("error") or result.get("log") or "").strip().splitlines()
    return text[-1][:200] if text else "알 수 없는 오류"
