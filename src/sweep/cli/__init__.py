"""The command line: one module per sub-command (``run``, ``report``, ``predict``,
``export_best``, ``ui``, ``data``), the argument tables and messages of run and report
(``_arguments``) and what every command shares (``_shell``). Each imports the concepts
inside its functions, so that ``--help`` answers before torch and MLflow load.
"""
