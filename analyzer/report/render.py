"""Templates, the inline stylesheet and script, and the page's Content-Security-Policy.

The templates live in the repository's top-level ``reports/templates/`` folder; the wheel
ships them as the package data of ``analyzer.templates`` (``pyproject.toml`` maps the one to
the other). They load from the installed package when it has them, else from the checkout.
"""

from __future__ import annotations

import base64
import functools
import hashlib
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from urllib.parse import quote

import jinja2

from analyzer.errors import AnalyzerError
from analyzer.report.context import ReportContext
from analyzer.report.marks import breakable, finalize, shown

#: The Content-Security-Policy of every report: nothing may be fetched, posted or framed.
#: Only the page's own inline style and script run, pinned by their sha256.
CSP_TEMPLATE = (
    "default-src 'none'; style-src '{style}'; script-src '{script}'; img-src data:; "
    "base-uri 'none'; form-action 'none'"
)


def template_root() -> Traversable:
    """The templates: package ``analyzer.templates`` when installed, else ``reports/templates``."""
    try:
        root = resources.files("analyzer.templates")
        if root.joinpath("report.html").is_file():
            return root
    except ModuleNotFoundError:
        pass
    return Path(__file__).resolve().parents[2] / "reports" / "templates"


def _read_template(name: str) -> str | None:
    path = template_root().joinpath(name)
    return path.read_text(encoding="utf-8") if path.is_file() else None


@functools.cache
def environment() -> jinja2.Environment:
    """The jinja2 environment of the report templates (built once, then shared; read only).

    Autoescaping is on and undefined names raise, so a template naming a field the context
    does not have fails instead of printing nothing. Export text shows its hidden characters
    as markers (``analyzer.report.marks``): styled where a template uses the ``shown`` or
    ``breakable`` filter, as plain text everywhere else (``finalize``).
    """
    env = jinja2.Environment(
        loader=jinja2.FunctionLoader(_read_template),
        autoescape=True,
        finalize=finalize,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["quote_id"] = lambda value: quote(str(value), safe="")
    env.filters["thousands"] = lambda value: f"{int(value):,}"
    env.filters["sentence"] = lambda value: str(value)[:1].upper() + str(value)[1:]
    env.filters["shown"] = shown
    env.filters["breakable"] = breakable
    return env


def static_text(name: str) -> str:
    """The text of a stylesheet or script to inline (it must not close its element).

    Raises:
        AnalyzerError: the file is missing from the installation.
    """
    text = _read_template(name)
    if text is None:
        raise AnalyzerError(f"the report template {name} is missing; reinstall msgtrace")
    if "</" in text:  # it would end the <style> or <script> element it is inlined in
        raise RuntimeError(f"{name} must not contain '</'")
    return text


def csp_hash(text: str) -> str:
    """The CSP source of an inline element's text: ``sha256-<base64 digest>``."""
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return "sha256-" + base64.b64encode(digest).decode("ascii")


def inline_assets() -> tuple[str, str, str]:
    """The page's stylesheet, its script, and the Content-Security-Policy pinning both."""
    css, js = static_text("report.css"), static_text("report.js")
    return css, js, CSP_TEMPLATE.format(style=csp_hash(css), script=csp_hash(js))


def render_report(context: ReportContext) -> str:
    """Render the report page.

    Args:
        context: what to show (``build_report_context``).

    Returns:
        The HTML text of the page.
    """
    return environment().get_template("report.html").render(r=context)
