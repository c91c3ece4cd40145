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
    sources,
    update_actionplan,
    update_section,
)
from ._exports import export_results, exported_on, read_results
from ._render import PUBLISHED, study_table

__all__ = [
    "PUBLISHED",
    "Report",
    "ReportError",
    "ReportInputError",
    "assign_units",
    "build_report",
    "export_results",
    "exported_on",
    "load_runs",
    "markers",
    "read_results",
    "section_page",
    "sources",
    "study_table",
    "update_actionplan",
    "update_section",
]
