"""Alert templates (Jinja2): the words of each alert kind, rendered for each target's markup. Pure.

Files, looked up in a target's own directory (`templates:` in the targets file) before the defaults
shipped in `services/notifier/templates/`:

- `headlines/<kind>.j2`: the one-line headline (plain text: each format escapes it where it goes);
- `<format>/<kind>.j2`, else `kinds/<kind>.j2`: the body, written once for every format with the
  markup filters `bold`, `link(label)`, `quote` and `esc`, which each format implements.

Formats: `text` (e-mail's plain part, the generic webhook, Matrix's `body`), `html` (e-mail, Matrix's
`formatted_body`: autoescaped), `slack` (mrkdwn), `markdown` (Discord, Mattermost), `teams`
(Adaptive Card text) and `google_chat`. Every value a template prints is escaped for its format —
by Jinja's autoescape for HTML, by `finalize` for the others — so a feed title such as `<!channel>`,
`*bold*`, `[x](http://evil)` or `@everyone` stays text; only the filters' own output is markup.
Mentions (`@…`) are broken by a zero-width space in chat formats, and `@room`/`@channel`/`@here`/
`@everyone` in HTML too. Links are made only of http(s) URLs.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote as url_quote

import jinja2
from markupsafe import Markup

TEXT, HTML, SLACK, MARKDOWN, TEAMS, GOOGLE_CHAT = "text", "html", "slack", "markdown", "teams", "google_chat"
REPEAT_MARK = "[possible repeat] "
HEADLINE_MAX = 200
PACKAGE_TEMPLATES = Path(__file__).resolve().parent / "templates"

ZWSP = "\u200b"
_MARKDOWN_SPECIALS = set("\\`*_{}[]()#+-.!|<>~")
_BROADCASTS = re.compile(r"@(?=(room|channel|here|everyone|all)\b)", re.IGNORECASE)
_URL = re.compile(r"^https?://[^\s<>\"|]+$")


class TemplateProblem(ValueError):
    """A template is missing, broken or fails to render; the message names the file."""


class Marked(str):
    """Markup a filter made for a non-HTML format: printed as is (everything else is escaped)."""


def slack_escape(text: str) -> str:
    """Slack mrkdwn: only &, < and > are control characters (mentions need `<!here>`)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def markdown_escape(text: str) -> str:
    """CommonMark-style text: every punctuation mark that could start markup is backslashed."""
    return "".join(f"\\{c}" if c in _MARKDOWN_SPECIALS else c for c in text)


def no_mentions(text: str) -> str:
    """Break `@name` so no platform turns it into a mention (a zero-width space after the @)."""
    return text.replace("@", "@" + ZWSP)


def no_broadcasts(text: str) -> str:
    """`@room`, `@channel`, `@here`, `@everyone`, `@all` with a zero-width space after the @."""
    return _BROADCASTS.sub("@" + ZWSP, text)


def break_marks(text: str, marks: str) -> str:
    """A zero-width space after each of `marks`: for markups with no escape (Slack's and Google
    Chat's `*bold*`, `_italic_`, `~strike~`, backticks), so a value's marks stay text."""
    return "".join(c + ZWSP if c in marks else c for c in text)


def google_chat_escape(text: str) -> str:
    """Google Chat text: `<` (mentions, links) and the formatting marks broken."""
    return break_marks(text, "<*_~`")


def _safe_url(url: str, also: str = "") -> str | None:
    """An http(s) URL with the characters that would end the format's link percent-encoded."""
    if not isinstance(url, str) or not _URL.match(url):
        return None
    return "".join(url_quote(c) if c in also else c for c in url)


@dataclass(frozen=True)
class Format:
    name: str
    escape: Callable[[str], str]
    bold: Callable[[str], str]
    link: Callable[[str, str], str]  # (url already safe, label already escaped)
    quote_prefix: str
    url_specials: str = ""
    html: bool = False

    def mark(self, text: str) -> str:
        return Markup(text) if self.html else Marked(text)

    def esc(self, value: Any) -> str:
        if isinstance(value, Marked | Markup):
            return value
        return self.mark(self.escape("" if value is None else str(value)))


def _md_escape(text: str) -> str:
    return no_mentions(markdown_escape(text))


FORMATS: dict[str, Format] = {
    TEXT: Format(TEXT, str, str, lambda url, label: url if label == url else f"{label}: {url}", "  "),
    HTML: Format(
        HTML,
        lambda t: html.escape(no_broadcasts(t), quote=True),
        lambda t: f"<strong>{t}</strong>",
        lambda url, label: f'<a href="{html.escape(url, quote=True)}">{label}</a>',
        "",
        html=True,
    ),
    SLACK: Format(
        SLACK,
        lambda t: no_mentions(break_marks(slack_escape(t), "*_~`")),
        lambda t: f"*{t}*",
        lambda url, label: f"<{slack_escape(url)}|{label}>",  # & as &amp;, as Slack wants in links
        "> ",
        url_specials="<>|",
    ),
    MARKDOWN: Format(
        MARKDOWN, _md_escape, lambda t: f"**{t}**", lambda url, label: f"[{label}]({url})", "> ", "()<> "
    ),
    TEAMS: Format(
        TEAMS, _md_escape, lambda t: f"**{t}**", lambda url, label: f"[{label}]({url})", "", "()<> "
    ),
    GOOGLE_CHAT: Format(
        GOOGLE_CHAT,
        lambda t: no_mentions(google_chat_escape(t)),
        lambda t: f"*{t}*",
        lambda url, label: f"<{url}|{label}>",
        "  ",
        url_specials="<>|",
    ),
}


class Templates:
    """One set of templates: a target's directory (optional) over the shipped defaults."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory
        searched = [str(directory)] if directory is not None else []
        loader = jinja2.FileSystemLoader([*searched, str(PACKAGE_TEMPLATES)])
        self._envs = {name: _environment(fmt, loader) for name, fmt in FORMATS.items()}
        # which file answers (format, names): Jinja caches templates it found, not the misses,
        # and a lookup of `<format>/<kind>.j2` that falls back to `kinds/` would stat every time
        self._chosen: dict[tuple[str, tuple[str, ...]], jinja2.Template] = {}

    def headline(self, kind: str, facts: dict[str, Any], *, possible_repeat: bool = False) -> str:
        """The plain one-line headline, marked when an earlier try may have arrived (the mark is
        Herald's, not a template's: a reader must know the message may be a second copy)."""
        text = self._render(TEXT, [f"headlines/{kind}.j2"], facts)
        flat = " ".join(text.split())
        flat = flat if len(flat) <= HEADLINE_MAX else flat[: HEADLINE_MAX - 1] + "…"
        return REPEAT_MARK + flat if possible_repeat else flat

    def body(self, fmt: str, kind: str, facts: dict[str, Any]) -> str:
        """The body in `fmt`'s markup: `<fmt>/<kind>.j2`, else `kinds/<kind>.j2`."""
        text = self._render(fmt, [f"{fmt}/{kind}.j2", f"kinds/{kind}.j2"], facts).strip("\n")
        if FORMATS[fmt].html:
            return "<br>\n".join(text.split("\n"))
        return re.sub(r"\n{3,}", "\n\n", text)

    def escape(self, fmt: str, text: str) -> str:
        return str(FORMATS[fmt].esc(text))

    def check(self, examples: Iterable[tuple[str, dict[str, Any]]]) -> None:
        """Every file of the target's directory compiles, and every kind renders in every format
        from an example's facts: a broken template is found at start-up, not at the first alert."""
        if self.directory is not None:
            if not self.directory.is_dir():
                raise TemplateProblem(f"{self.directory}: no such directory")
            for path in sorted(self.directory.rglob("*.j2")):
                name = path.relative_to(self.directory).as_posix()
                try:
                    self._envs[TEXT].get_template(name)
                except jinja2.TemplateSyntaxError as exc:
                    raise TemplateProblem(f"{path}: line {exc.lineno}: {exc.message}") from None
        for kind, facts in examples:
            self.headline(kind, facts)
            for fmt in FORMATS:
                self.body(fmt, kind, facts)

    def _render(self, fmt: str, names: list[str], facts: dict[str, Any]) -> str:
        key = (fmt, tuple(names))
        try:
            template = self._chosen.get(key) or self._envs[fmt].select_template(names)
        except jinja2.TemplateNotFound:
            raise TemplateProblem(f"no template {' or '.join(names)}") from None
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateProblem(f"{exc.filename or exc.name}: line {exc.lineno}: {exc.message}") from None
        self._chosen[key] = template
        try:
            return template.render(facts)
        except jinja2.TemplateError as exc:
            raise TemplateProblem(f"{template.filename}: {exc}") from None


def _environment(fmt: Format, loader: jinja2.BaseLoader) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=loader,
        autoescape=fmt.html,
        finalize=fmt.esc,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        auto_reload=False,  # checked at start-up; a file changed later applies at the next start
    )
    env.filters.update(
        esc=fmt.esc,
        bold=lambda value: fmt.mark(fmt.bold(fmt.esc(value))),
        link=lambda url, label=None: _link(fmt, url, label),
        quote=lambda value: _quote(fmt, value),
    )
    return env


def _link(fmt: Format, url: Any, label: Any = None) -> str:
    """A link to an http(s) URL; anything else is shown as escaped text, never a link."""
    safe = _safe_url(url, fmt.url_specials)
    shown = fmt.esc(url if label is None else label)
    if safe is not None:
        return fmt.mark(fmt.link(safe, shown))
    return shown if label is None else fmt.mark(f"{shown} ({fmt.esc(url)})")


def _quote(fmt: Format, value: Any) -> str:
    """A quoted block (a post's text): each line escaped and prefixed; HTML's is a blockquote."""
    lines = str(value or "").rstrip("\n").split("\n")
    if fmt.html:
        return fmt.mark("<blockquote>" + "<br>".join(fmt.esc(line) for line in lines) + "</blockquote>")
    return fmt.mark("\n".join(fmt.quote_prefix + fmt.esc(line) for line in lines))


DEFAULT_TEMPLATES = Templates()
