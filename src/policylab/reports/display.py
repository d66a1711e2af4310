"""How report templates show things: plotly charts as HTML on the page's own plotly.js, escaped tables.

Every chart goes through ``show_chart`` (never a CDN, never plotly's default renderer, which
papermill's output does not show) and every table through ``show_table`` (trainer comments
are free text, so tables are escaped).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from policylab.reports.aggregates import format_cells

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

FONT_FAMILY = "'Noto Sans KR', 'Malgun Gothic', 'Apple SD Gothic Neo', 'Nanum Gothic', sans-serif"


def show_chart(fig, name: str, *, as_html: bool = True) -> None:
    """Display a plotly figure; as HTML that uses the page's plotly.js (never a CDN) when rendering.

    plotly's default renderer inside a papermill kernel writes output nbconvert's HTML does
    not show (DESIGN §8), so reports always pass ``as_html=True``; a trainer running the
    template in JupyterLab leaves it False and sees the ordinary interactive figure.
    """
    from IPython.display import HTML, display

    fig.update_layout(font_family=FONT_FAMILY, template="plotly_white", margin=dict(t=60, r=30, b=50, l=60))
    if not as_html:
        fig.show()
        return
    display(HTML(fig.to_html(
        full_html=False,
        include_plotlyjs=False,
        div_id=f"chart-{name}",
        config={"displaylogo": False, "responsive": True},
    )))


def suppressed_heatmap(shown: "pd.DataFrame", status: "pd.DataFrame", *, title: str, value_title: str,
                       fmt: str = "{:.0f}", zmax: float = 100.0):
    """A heatmap of ``shown`` where hidden cells are grey and say why, never their value."""
    import plotly.graph_objects as go

    labels = format_cells(shown, status, fmt)
    x, y = [str(c) for c in shown.columns], [str(i) for i in shown.index]
    hidden = status.isin(["small", "secondary"]).to_numpy()
    values = shown.to_numpy()
    fig = go.Figure()
    fig.add_heatmap(
        x=x, y=y, z=[[1.0 if h else None for h in row] for row in hidden],
        text=[[labels.iat[i, j] if hidden[i][j] else "" for j in range(len(x))] for i in range(len(y))],
        texttemplate="%{text}", colorscale=[[0, "#d9d9d9"], [1, "#d9d9d9"]], showscale=False,
        hovertemplate="%{y} · %{x}: %{text}<extra></extra>", xgap=2, ygap=2,
    )
    fig.add_heatmap(
        x=x, y=y, z=[[None if v != v else float(v) for v in row] for row in values],
        text=[[labels.iat[i, j] if not hidden[i][j] else "" for j in range(len(x))] for i in range(len(y))],
        texttemplate="%{text}", colorscale="Blues", zmin=0, zmax=zmax,
        colorbar=dict(title=dict(text=value_title)),
        hovertemplate="%{y} · %{x}: %{text}<extra></extra>", xgap=2, ygap=2,
    )
    fig.update_layout(title=title, yaxis=dict(autorange="reversed", type="category"),
                      xaxis=dict(type="category", side="top"), height=120 + 40 * len(y))
    return fig


def show_table(frame: "pd.DataFrame", *, index: bool = False) -> None:
    """Display a table as escaped HTML (trainer comments are free text)."""
    from IPython.display import HTML, display

    frame = frame.rename_axis(columns=None)
    display(HTML(frame.to_html(index=index, escape=True, na_rep="–", border=0, classes="policylab-table")))


def show_text(markdown: str) -> None:
    from IPython.display import Markdown, display

    display(Markdown(markdown))

