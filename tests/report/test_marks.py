"""Hidden characters shown as markers (server side), addresses breakable, exact data kept."""

from __future__ import annotations

import re

from analyzer.findings.model import Evidence, Finding
from analyzer.report import ReportOptions, build_report_context, render_report
from analyzer.report.marks import HIDDEN, breakable, mark_hidden, marker, shown
from analyzer.report.render import environment
from report.page import GENERATED_AT, embedded_data, parse, render, story


def test_hidden_characters_become_markers_and_the_rest_is_escaped():
    assert mark_hidden(story.BIDI_RECIPIENT) == "invoice⟨U+202E⟩fdp.exe@evil.example"
    assert marker("\U000e0041") == "⟨U+E0041⟩"  # an invisible tag character
    html = str(shown("<b>\u200b&\x00</b>"))
    assert html == (
        '&lt;b&gt;<span class="hidden-char" title="a character of the export that does not show'
        ' (control, invisible or bidi)">⟨U+200B⟩</span>&amp;<span class="hidden-char" title="a'
        ' character of the export that does not show (control, invisible or bidi)">⟨U+0000⟩'
        "</span>&lt;/b&gt;"
    )
    assert str(shown("plain text é 🙂")) == "plain text é 🙂"  # visible text stays as it is
    for character in "\t\n\r\x1b\x7f\x85\u00ad\u061c\u200e\u2028\u202a\u2066\u2069\ufeff":
        assert HIDDEN.search(character), repr(character)
    for character in "a é ß 日 🙂 -@.":
        assert not HIDDEN.search(character), repr(character)


def test_addresses_ids_and_paths_may_wrap_after_their_separators_only():
    assert str(breakable("x.collector.4471@gmail.com")) == (
        "x.<wbr>collector.<wbr>4471@<wbr>gmail.<wbr>com"
    )
    assert str(breakable("samples/a_b.csv")) == "samples/<wbr>a_<wbr>b.<wbr>csv"
    assert str(breakable("34349d2d-14c6")) == "34349d2d-<wbr>14c6"
    assert str(breakable("<a@b>")) == "&lt;a@<wbr>b&gt;"  # escaped first, never markup


def test_every_value_a_template_prints_is_marked_also_in_attributes():
    template = environment().from_string(
        '<p title="{{ value }}">{{ value }}</p><i>{{ value|shown }}</i><b>{{ value|breakable }}</b>'
    )
    html = template.render(value="a\u202eb@c.d")
    assert "\u202e" not in html
    assert html.startswith('<p title="a⟨U+202E⟩b@c.d">a⟨U+202E⟩b@c.d</p><i>a<span class=')
    assert html.endswith(">⟨U+202E⟩</span>b@<wbr>c.<wbr>d</b>")


def test_the_page_shows_no_hidden_character_outside_its_data(edge_case):
    html = render(edge_case)
    data_block = re.search(r'<script type="application/json" id="report-data">.*?</script>', html)
    assert data_block is not None
    outside = html.replace(data_block.group(), "")
    assert HIDDEN.sub("", outside.replace("\n", "")) == outside.replace("\n", "")
    # the data keeps the exact text: the page's script marks it when it shows it
    strings = embedded_data(html)["s"]
    assert story.BIDI_RECIPIENT in strings and story.SPLIT_FORMULA in strings
    visible = re.sub(r"\s+", " ", " ".join(parse(html).text))
    # the input's file name in the evidence section, the finding naming the redirect
    assert "edge_ ⟨U+202E⟩ txt.csv ⟨U+2066⟩ .csv" in visible


def test_findings_and_their_evidence_show_hidden_characters_marked(edge_case):
    case, chains, _ = edge_case
    spoof = Finding(
        rule="test-rule",
        severity="high",
        title=f"Mail to {story.BIDI_RECIPIENT}",
        explanation="zero\u200bwidth",
        entities={"mailbox": [story.BIDI_RECIPIENT]},
        evidence=[
            Evidence(
                network_message_id=story.HOSTILE_ID,
                message_key=story.HOSTILE_ID,
                recipient_address=story.BIDI_RECIPIENT,
                detail="to " + story.BIDI_RECIPIENT,
                time="2024-03-10T11:00:00Z",
                input=case.inputs[0].path,
                line=12,
            )
        ],
        evidence_total=1,
    )
    options = ReportOptions(generated_at=GENERATED_AT)
    # the spoof alone: the hidden-characters rule names the same address in its own findings
    html = render_report(build_report_context(case, chains, [spoof], options))
    findings_html = html[html.index('id="findings"') : html.index('id="messages"')]
    assert "\u202e" not in findings_html and "\u200b" not in findings_html
    marked = "invoice ⟨U+202E⟩ fdp.exe@evil.example"
    visible = re.sub(r"\s+", " ", " ".join(parse(findings_html).text))
    assert visible.count(marked) == 4  # title, entity, recipient, detail
    assert "zero ⟨U+200B⟩ width" in visible
