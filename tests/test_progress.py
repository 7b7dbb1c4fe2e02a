"""Progress: a bar on a terminal, nothing in pipes or CI."""

from __future__ import annotations

import io

from analyzer.progress import TerminalBar, terminal_progress


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_a_bar_that_ends_at_100_percent(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("MSGTRACE_NO_PROGRESS", raising=False)
    screen = FakeTerminal()

    bar = terminal_progress(screen)
    assert isinstance(bar, TerminalBar)
    bar.start("extended_report.csv", 1000)
    bar.advance(400)
    bar.finish()

    lines = screen.getvalue().split("\r")
    assert lines[-1].startswith("extended_report.csv")
    assert "[" + "#" * 30 + "] 100%" in lines[-1]
    assert screen.getvalue().endswith("\n")


def test_pipes_and_ci_get_no_bar(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    assert terminal_progress(io.StringIO()) is None  # a pipe or a file: not a terminal
    monkeypatch.setenv("CI", "true")
    assert terminal_progress(FakeTerminal()) is None


def test_a_long_file_name_is_shortened_from_the_left(monkeypatch):
    screen = FakeTerminal()
    bar = TerminalBar(screen)
    bar.start("exports/" + "x" * 60 + "/MTSummary_Report.csv", 10)
    bar.finish()
    assert "...x" in screen.getvalue() and "MTSummary_Report.csv [" in screen.getvalue()
