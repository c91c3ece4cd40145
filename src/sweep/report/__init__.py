"""The report over a store or its exports: the runs loaded (``_loading``), analysed into
tables, findings and figures (``_build``, ``_drawing``), its tables' rows (``_render``) on a
page of Markdown and of HTML (``_page``), written into ACTIONPLAN.md's and the README's
results sections (``_sections``); a store's results exported as text and read back
(``_exports``).
"""

from ._build import Report, build_report, sources
from ._exports import export_results, exported_finished, exported_on, read_results
from ._loading import ReportError, ReportInputError, assign_units, load_runs
from ._render import PUBLISHED, study_table
from ._sections import markers, section_page, update_actionplan, update_section

__all__ = [
    "PUBLISHED",
    "Report",
    "ReportError",
    "ReportInputError",
    "assign_units",
    "build_report",
    "export_results",
    "exported_finished",
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
