"""Tests of analyzer.findings, one module per rule module (a package, so that module names
such as test_model do not clash with those of other test folders)."""
