"""The report over a store: its runs loaded and analysed into tables, findings and
figures (``_build``), rendered as Markdown and HTML (``_render``).
"""

from ._build import (
    Report,
    ReportError,
    ReportInputError,
    assign_units,
    build_report,
    load_runs,
    markers,
    section_page,
    update_actionplan,
    update_section,
)
from ._exports import export_results, read_results
from ._render import PUBLISHED, study_table

__all__ = [
    "PUBLISHED",
    "Report",
    "ReportError",
    "ReportInputError",
    "assign_units",
    "build_report",
    "export_results",
    "load_runs",
    "markers",
    "read_results",
    "section_page",
    "study_table",
    "update_actionplan",
    "update_section",
]
