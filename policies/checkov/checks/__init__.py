"""The platform's own checkov checks (``CKV_FP_*``), loaded with ``--external-checks-dir``.

checkov only loads ``.py`` files from a directory holding an ``__init__.py``; it runs every
other file here as a standalone module (named after the file, so names stay specific), never
this one. It puts this directory on ``sys.path`` first, so the checks share the helpers of
``fp_plan_values`` (which registers no check). These files import checkov and so run only in
``.tools/checkov``, never in the project venv.
"""
