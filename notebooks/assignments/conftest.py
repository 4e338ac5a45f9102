"""Only the instructor notebooks (source/) are collected by the project's test run.

Released learner notebooks fail their checks on purpose (the stubs raise), so a
release written inside this folder must never be collected by a plain `pytest`.
tests/assignments releases into a temporary folder and checks them there.
"""

collect_ignore_glob = ["release/*", "released/*", "learner/*", "*/.ipynb_checkpoints/*"]
