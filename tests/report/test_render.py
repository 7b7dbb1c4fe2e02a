"""Rendering: the page's safety (CSP, no external references, escaping) and its templates."""

from __future__ import annotations

import base64
import hashlib
import re

from analyzer.findings.model import Evidence, Finding
from analyzer.report import ReportOptions, build_report_context, render_report
from analyzer.report.render import CSP_TEMPLATE, environment, inline_assets, template_root
from report.page import GENERATED_AT, parse, story


def _sha256_source(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def test_csp_forbids_every_network_request_and_pins_the_inline_code(full_html):
    page = parse(full_html)
    csp_metas = [
        m for m in page.metas if m.get("http-equiv", "").lower() == "content-security-policy"
    ]
    assert len(csp_metas) == 1
    assert page.tags.index("meta") == 0 or page.metas[0].get("charset")
    directives = dict(
        [*part.split(" ", 1), ""][:2]
        for part in (p.strip() for p in csp_metas[0]["content"].split(";"))
    )
    assert directives["default-src"] == "'none'"
    assert directives["base-uri"] == "'none'"
    assert directives["form-action"] == "'none'"
    assert directives["img-src"] == "data:"
    assert "connect-src" not in directives
    assert not re.search(r"https?:|\*|'unsafe-inline'|'unsafe-eval'", csp_metas[0]["content"])
    # the page's one script and one stylesheet are exactly what the policy's hashes allow
    code = [text for attrs, text in page.scripts if "type" not in attrs]
    assert len(code) == 1 and len(page.styles) == 1
    assert directives["script-src"] == _sha256_source(code[0])
    assert directives["style-src"] == _sha256_source(page.styles[0])


def test_no_external_resource_references(full_html):
    page = parse(full_html)
    for tag, name, value in page.attributes:
        if name in ("src", "href", "action", "formaction", "srcset", "poster", "data"):
            assert not re.match(r"\s*(https?:|//|ftp:|file:)", value, re.I), (tag, name, value)
        if name == "href":
            assert value.startswith("#"), (tag, value)  # only links within the page
    assert not re.search(r"url\(\s*['\"]?\s*(https?:|//)", full_html, re.I)
    assert "@import" not in full_html
    for tag in ("link", "iframe", "img", "object", "embed", "base", "form"):
        assert tag not in page.tags


def test_hostile_text_is_escaped_in_server_rendered_parts(story_case):
    case, chains, findings = story_case
    hostile = Finding(
        rule="test-rule",
        severity="high",
        title="Title <img src=x onerror=window.__xss=3>",
        explanation="Explanation </script><script>window.__xss=4</script>",
        entities={"mailbox": ["<b>bold</b>@contoso.com"]},
        evidence=[
            Evidence(
                network_message_id=story.OUTBOUND_ID,
                message_key=story.OUTBOUND_ID,
                detail="detail <svg onload=alert(1)>",
                time="2024-03-04T08:10:00Z",
                input="exports/<i>x</i>.csv",
                line=7,
            )
        ],
        evidence_total=1,
    )
    options = ReportOptions(generated_at=GENERATED_AT, message=story.OUTBOUND_ID)
    html = render_report(build_report_context(case, chains, [*findings, hostile], options))
    visible = "".join(parse(html).text)
    # shown as text: the subject in the focused message's heading, the finding's fields
    assert "Message: " + story.XSS_SCRIPT in visible
    assert "Title <img src=x onerror=window.__xss=3>" in visible
    assert "Explanation </script><script>window.__xss=4</script>" in visible
    assert "<b>bold</b>@contoso.com" in visible
    assert "detail <svg onload=alert(1)>" in visible
    # ... and never as markup
    for raw in ("<img src=x", "<b>bold", "<svg onload", "<i>x</i>", "<script>window"):
        assert raw not in html
    assert "&lt;img src=x onerror=window.__xss=3&gt;" in html


def test_templates_load_from_the_checkout_or_the_installed_package():
    # reports/templates/ of the checkout, or the wheel's analyzer/templates/ package data
    root = template_root()
    assert root.joinpath("report.html").is_file()
    for name in ("base.html", "report.css", "report.js", "_detail.html"):
        assert root.joinpath(name).is_file(), name
    source = root.joinpath("report.html").read_text(encoding="utf-8")
    assert environment().loader.get_source(environment(), "report.html")[0] == source


def test_environment_is_built_once_and_escapes_what_it_renders():
    assert environment() is environment()
    template = environment().from_string("{{ value }} {{ value|quote_id }} {{ 1234567|thousands }}")
    assert template.render(value="<a&b>") == "&lt;a&amp;b&gt; %3Ca%26b%3E 1,234,567"


def test_inline_assets_are_pinned_by_the_policy():
    css, js, csp = inline_assets()
    assert "</" not in css and "</" not in js
    assert csp == CSP_TEMPLATE.format(
        style=_sha256_source(css).strip("'"), script=_sha256_source(js).strip("'")
    )
