"""Everything a report template (grading/reports/*.ipynb) uses, under one name: ``rp``.

Templates start with ``from policylab.reports import template_api as rp``; keeping their
vocabulary in one module means a template author reads one file, and a change to the
modules behind it does not touch the notebooks.
"""
from policylab.reports.aggregates import (  # noqa: F401
                                          COMPLETED_STATES,
                                          MIN_GROUP,
                                          STATE_LABELS,
                                          SUPPRESSION_FOOTNOTE,
                                          SUPPRESSION_NOTE,
                                          cohort_quartiles,
                                          format_cells,
                                          skill_mastery,
                                          suppress_cells,
)
from policylab.reports.check_progress import check_progress  # noqa: F401
from policylab.reports.display import (  # noqa: F401
                                          show_chart,
                                          show_table,
                                          show_text,
                                          suppressed_heatmap,
)
from policylab.reports.snapshot import (  # noqa: F401
                                          CourseInfo,
                                          ReportError,
                                          Snapshot,
                                          load_course_info,
                                          load_snapshot,
)
