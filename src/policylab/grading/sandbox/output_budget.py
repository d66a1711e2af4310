"""Long outputs in the autograded notebook (and so in feedback) are cut, with a visible Korean note.

Replaces nbgrader's LimitOutput (same place in the autograde steps): streams keep their first
``max_lines`` lines and ``max_chars`` characters, rich outputs over ``max_chars`` are replaced
by their truncated text, and tracebacks keep their first and last lines.
"""
from __future__ import annotations

from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Integer

NOTE = "\n… (출력이 너무 길어 {shown:,}자까지만 남겼습니다. 전체 {total:,}자 — 채점 출력 제한)\n"
RICH_NOTE = "(출력이 너무 커서 채점 노트북에는 남기지 않았습니다: {total:,}자 — 채점 출력 제한)"


class LimitOutput(NbGraderPreprocessor):
    max_lines = Integer(1000, help="Lines kept of each cell's stream output.").tag(config=True)
    max_chars = Integer(20_000, help="Characters kept of each cell's stream output, or of one rich output.").tag(config=True)
    max_traceback = Integer(100, help="Traceback lines kept of an error.").tag(config=True)

    def _cut(self, text: str) -> str:
        total = len(text)
        lines = text.split("\n")
        if len(lines) > self.max_lines:
            text = "\n".join(lines[: self.max_lines])
        if len(text) > self.max_chars:
            text = text[: self.max_chars]
        if len(text) < total:
            text += NOTE.format(shown=len(text), total=total)
        return text

    def preprocess_cell(self, cell, resources, cell_index):
        if cell.cell_type != "code":
            return cell, resources
        streams: dict[str, int] = {}
        for output in cell.get("outputs", []):
            kind = output.get("output_type")
            if kind == "stream":
                used = streams.get(output.name, 0)
                budget_cut = self._cut(output.text) if used == 0 else ""
                if used:
                    budget_cut = "" if used >= self.max_chars else self._cut(output.text)[: max(0, self.max_chars - used)]
                streams[output.name] = used + len(output.text)
                output.text = budget_cut
            elif kind in ("display_data", "execute_result"):
                data = output.get("data", {})
                total = sum(len(v) if isinstance(v, str) else len(str(v)) for v in data.values())
                if total > self.max_chars:
                    plain = data.get("text/plain", "")
                    plain = plain if isinstance(plain, str) else "".join(plain)
                    output.data = {"text/plain": (self._cut(plain) + "\n" if plain else "") + RICH_NOTE.format(total=total)}
                    output.metadata = {}
            elif kind == "error":
                tb = list(output.get("traceback", []))
                if len(tb) > self.max_traceback:
                    half = self.max_traceback // 2
                    output.traceback = tb[:half] + ["… (오류 내용이 길어 가운데를 생략했습니다)"] + tb[-half:]
                output.evalue = self._cut(str(output.get("evalue", "")))
        cell.outputs = [o for o in cell.get("outputs", []) if not (o.get("output_type") == "stream" and not o.text)]
        return cell, resources
