"""The HTML pages around the reports: nbconvert's page without code, and the index.

``html_exporter`` renders an executed report notebook as a page that loads plotly.js from
the output folder (never a network). Report outputs are ours, but learner- and trainer-written
strings (names, comments, titles, reasons) flow into them: tables are escaped where they are
made (``display.show_table``), plotly escapes its JSON, and markdown text goes through
:func:`policylab.safe_html.markdown2html` (nbconvert's renderer, then its sanitizer), so raw HTML
or a ``javascript:`` link in a string runs nothing. ``text/html`` outputs are not sanitized: the
charts are inline ``<script>`` that must run; ``write_index`` lists the dashboard and every learner's
report; ``format_summary`` is the end-of-run table the CLI prints.
"""
from __future__ import annotations

import html
import time
from pathlib import Path
from typing import TYPE_CHECKING

from policylab.reports.display import FONT_FAMILY
from policylab.safe_html import markdown2html

if TYPE_CHECKING:  # pragma: no cover
    from policylab.reports.render import ReportResult, ReportSummary
    from policylab.reports.snapshot import Snapshot


_HTML_TEMPLATE = """\
{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js -%}
<script src="{{ resources.policylab_plotly_src }}" charset="utf-8"></script>
{%- endblock html_head_js -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block extra_css -%}
<style type="text/css">
body.jp-Notebook { font-family: FONTS; max-width: 1100px; margin: 0 auto; }
.jp-RenderedHTMLCommon, .jp-RenderedMarkdown { font-family: FONTS; }
.jp-RenderedHTMLCommon table.policylab-table { border-collapse: collapse; margin: 0.5em 0 1em; }
.jp-RenderedHTMLCommon table.policylab-table th,
.jp-RenderedHTMLCommon table.policylab-table td { padding: 4px 10px; border-bottom: 1px solid #ddd; text-align: left; }
.jp-RenderedHTMLCommon table.policylab-table th { background: #f3f5f8; }
</style>
{%- endblock extra_css -%}
""".replace("FONTS", FONT_FAMILY)


def html_exporter():
    """nbconvert's lab HTML without code, with no script or stylesheet from a network."""
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
        extra_loaders=[DictLoader({"policylab_report.html.j2": _HTML_TEMPLATE})],
        template_file="policylab_report.html.j2",
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        language_code="ko",
        filters={"markdown2html": markdown2html},  # strings in show_text's markdown are untrusted
    )
    return exporter


def for_html(nb, title: str):
    """A copy for the HTML page: its title, and no stderr streams (warnings are for the record, not the reader)."""
    import copy

    nb = copy.deepcopy(nb)
    nb.metadata["title"] = title
    for cell in nb.cells:
        if cell.get("cell_type") == "code":
            cell["outputs"] = [o for o in cell.get("outputs", [])
                               if not (o.get("output_type") == "stream" and o.get("name") == "stderr")]
    return nb


def write_index(out_dir: Path, snap: Snapshot, results: list[ReportResult]) -> Path:
    """``index.html``: the dashboard and every learner's report present in ``out_dir``."""
    this_run = {r.job.name: r for r in results}
    rows = []
    for learner, department in zip(snap.roster["learner_id"], snap.roster["department"]):
        page = out_dir / "learners" / f"{learner}.html"
        result = this_run.get(learner)
        if result is not None and not result.ok:
            status = f'<span class="failed">실패: {html.escape(result.error)}</span>'
        elif page.is_file():
            status = "생성됨" if result is not None else "이전 실행에서 생성됨"
        else:
            status = "아직 만들지 않음"
        link = (f'<a href="learners/{html.escape(learner)}.html">{html.escape(learner)}</a>'
                if page.is_file() else html.escape(learner))
        rows.append(f"<tr><td>{link}</td><td>{html.escape(department)}</td><td>{status}</td></tr>")
    board = this_run.get("dashboard")
    if (out_dir / "dashboard.html").is_file():
        board_line = '<a href="dashboard.html">관리자 대시보드</a> (부서·모듈별 집계, 5명 미만 칸은 비공개)'
    elif board is not None and not board.ok:
        board_line = f'관리자 대시보드: <span class="failed">실패: {html.escape(board.error)}</span>'
    else:
        board_line = "관리자 대시보드: 아직 만들지 않았습니다."
    items_line = ('<a href="items.html">문항 분석</a> (문항별 정답률과 흔한 실수, 5명 미만 문항은 싣지 않음) · '
                  '<a href="item_analysis.csv">item_analysis.csv</a>' if (out_dir / "items.html").is_file()
                  else "문항 분석: 아직 만들지 않았습니다.")
    failed = sum(1 for r in results if not r.ok)
    page = f"""<!DOCTYPE html>
<html lang="ko">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>PolicyLab 보고서</title>
<style>
body {{ font-family: {FONT_FAMILY}; max-width: 960px; margin: 2em auto; padding: 0 1em; color: #222; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ text-align: left; padding: 4px 10px; border-bottom: 1px solid #ddd; }}
th {{ background: #f3f5f8; }}
.failed {{ color: #b00020; }}
</style>
</head>
<body>
<h1>PolicyLab 보고서</h1>
<p>생성 시각: {time.strftime("%Y-%m-%d %H:%M")} · 이번 실행: {len(results)}건, 실패 {failed}건 ·
채점 스냅샷: <code>{html.escape(str(snap.folder))}</code></p>
<h2>관리자용</h2>
<p>{board_line}</p>
<h2>강사용</h2>
<p>{items_line}</p>
<h2>학습자별 진도 보고서 (강사용 목록)</h2>
<p>각 보고서에는 해당 학습자 본인의 점수와 동기 전체의 사분위수만 들어 있습니다.</p>
<table>
<thead><tr><th>학습자</th><th>부서</th><th>상태</th></tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody>
</table>
</body>
</html>
"""
    index = out_dir / "index.html"
    index.write_text(page, encoding="utf-8")
    return index


def format_summary(summary: ReportSummary, *, root: Path | None = None) -> str:
    """The end-of-run table: done, failed and why, where the outputs are."""
    def show(path) -> str:
        path = Path(path)
        try:
            return str(path.relative_to(root)) if root else str(path)
        except ValueError:
            return str(path)

    n = len(summary.results)
    per = summary.seconds / n if n else 0.0
    lines = [
        f"보고서 {n}건: 완료 {len(summary.done)}건, 실패 {len(summary.failed)}건 "
        f"({summary.seconds:.1f}초, 보고서당 {per:.2f}초, 작업 프로세스 {summary.workers}개)",
    ]
    for result in summary.failed:
        lines.append(f"  실패  {result.job.name}: {result.error}")
    lines.append(f"스냅샷: {show(summary.snapshot_dir)}")
    lines.append(f"실행 기록(.ipynb)과 HTML: {show(summary.out_dir)}")
    lines.append(f"목록: {show(summary.index)}")
    return "\n".join(lines)
