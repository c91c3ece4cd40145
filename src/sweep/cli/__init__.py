"""The command line: one public module per sub-command (``run``, ``report``, ``predict``,
``export_best``, ``export_results``, ``study``, ``ui``, ``data``; ``__main__`` dispatches to
them), the argument tables of run and report (``_arguments``), what a run prints at its end
(``_messages``) and what every command shares (``_shell``: exit statuses, one-line errors).
Each imports the concepts inside its functions, so that ``--help`` answers before torch and
MLflow load.
"""
