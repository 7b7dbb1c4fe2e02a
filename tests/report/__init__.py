"""Tests of analyzer.report, a file per module (a package: other test folders have modules
of the same names)."""
