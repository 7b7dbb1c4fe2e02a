"""Development tools that run from a source checkout (``python -m tools.<name>``).

Not part of msgtrace: pyproject.toml lists the packages the wheel holds, and ``tools`` is not
among them.
"""
