r"""Untrusted server text on its way to the screen: nothing in it may act, hide or become markup.

Every hostile class is checked on the returned plain text, through a real Rich console (only
Rich's own SGR codes may reach the terminal), and headless in Textual (markup stays literal, a
`[@click=app.quit]` click does nothing, a Markdown table cell cannot crash the app on hover).
"""

from __future__ import annotations

import io
import json
import re
import sys
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from rich.cells import cell_len
from rich.console import Console
from rich.text import Text
from textual.app import App, ComposeResult
from textual.widget import Widget
from textual.widgets import Label, Markdown, Static

from console import safe_text
from console.safe_text import (
    ELLIPSIS,
    MAX_JSON_DEPTH,
    clean,
    safe,
    safe_json,
    safe_markdown_parser,
    safe_markdown_source,
)

BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff"
# What may never reach the screen raw (besides C0/C1/DEL, checked by category).
INVISIBLE = set(BIDI + ZERO_WIDTH + "\u00ad\u115f\u1160\u3164\uffa0\U000e0041\U000e0100")
FORBIDDEN_CATEGORIES = {"Cc", "Cf", "Cs", "Zl", "Zp"}
ESCAPE = re.compile(r"\\(?:x[0-9a-f]{2}|u[0-9a-f]{4}|U[0-9a-f]{8}|[nr])")
SGR = re.compile(r"\x1b\[[0-9;]*m")

HOSTILE: list[tuple[str, str]] = [
    # (payload, the visible escape the operator must see)
    ("\x1b[31mred\x1b[0m", r"\x1b[31mred\x1b[0m"),
    ("\x1b]52;c;ZXZpbA==\x07", r"\x1b]52;c;ZXZpbA==\x07"),  # OSC 52: write the clipboard
    ("\x1b]0;pwned\x07", r"\x1b]0;pwned\x07"),  # OSC 0: set the window title
    ("\x1bP+q544e\x1b\\", "\\x1bP+q544e\\x1b\\"),  # DCS … ST
    ("\x9b31m", r"\x9b31m"),  # 8-bit CSI
    ("\x9d0;t\x9c", r"\x9d0;t\x9c"),  # 8-bit OSC … ST
    ("\x00\x08\x7f", r"\x00\x08\x7f"),
    ("admin\u202egnp.exe", r"admin\u202egnp.exe"),  # right-to-left override
    ("pay\u200bpal", r"pay\u200bpal"),
    ("\ufeffBOM", r"\ufeffBOM"),
    ("tag\U000e0041\U000e0042", r"tag\U000e0041\U000e0042"),  # invisible "ASCII smuggling"
    ("lone \ud800 surrogate", r"lone \ud800 surrogate"),
    ("next\x85line", r"next\x85line"),  # C1 NEL
]
MARKUP = [
    "[bold red]x[/]",
    "[link=https://evil.example]click me[/link]",
    "[@click=app.quit]click[/]",
    "[/]",
    "$accent $text-error",
    ":warning:",
]


def assert_inert(text: str, *, multiline: bool = True) -> None:
    """Nothing in `text` can drive the terminal, hide, reorder or split a line."""
    for char in text:
        if char == "\n" and multiline:
            continue
        assert unicodedata.category(char) not in FORBIDDEN_CATEGORIES, ascii(char)
        assert char not in INVISIBLE, ascii(char)
    assert "\t" not in text and "\r" not in text


def width(text: str) -> int:
    return cell_len(text) + text.count("\n")


# -- clean ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("multiline", [True, False])
@pytest.mark.parametrize(("payload", "shown"), HOSTILE)
def test_hostile_text_is_shown_escaped(payload: str, shown: str, multiline: bool) -> None:
    out = clean(payload, multiline=multiline)
    assert out == shown
    assert_inert(out, multiline=multiline)
    assert not {"\x1b", "\x9b", "\x07"} & set(out)


@pytest.mark.parametrize("code", [c for c in range(0x20) if chr(c) not in "\t\n"])
def test_every_c0_control_is_escaped(code: int) -> None:
    shown = "\\r" if code == 13 else f"\\x{code:02x}"  # \r is the one with a short name
    assert clean(f"a{chr(code)}b") == f"a{shown}b"


@pytest.mark.parametrize("char", list(BIDI + ZERO_WIDTH))
def test_bidi_and_zero_width_are_escaped(char: str) -> None:
    assert clean(f"a{char}b") == f"a\\u{ord(char):04x}b"


def test_every_control_format_and_separator_code_point_is_escaped() -> None:
    """Against Python's own Unicode database, not just the hand-written table."""
    everything = "".join(map(chr, range(sys.maxunicode + 1)))
    shown = set(clean(everything, multiline=False))
    assert not {c for c in shown if unicodedata.category(c) in FORBIDDEN_CATEGORIES}


def test_line_breaks_multiline() -> None:
    assert clean("a\nb\r\nc\rd\u2028e\u2029f") == "a\nb\nc\\rd\ne\nf"


def test_line_breaks_single_line() -> None:
    out = clean("a\nb\r\nc\rd\u2028e\u2029f", multiline=False)
    assert out == r"a\nb\r\nc\rd\u2028e\u2029f"
    assert "\n" not in out


def test_tabs_become_spaces_to_the_next_stop_of_four() -> None:
    assert clean("a\tbc\td\n\tx") == "a   bc  d\n    x"
    assert clean("\t", multiline=False) == "    "


def test_backslashes_are_not_escaped() -> None:
    """Typed escapes look like real ones but cannot act; doubling backslashes would hurt paths."""
    assert clean(r"C:\temp\x1b and \u202e") == r"C:\temp\x1b and \u202e"


def test_wide_characters_and_emoji_pass_unchanged() -> None:
    text = "漢字 かな 한국어 😀 ❤️ é"
    assert clean(text) == text


@pytest.mark.parametrize(
    ("text", "max_len", "expected"),
    [
        ("abcdef", 6, "abcdef"),
        ("abcdefg", 6, "abcde…"),
        ("漢字漢字", 8, "漢字漢字"),
        ("漢字漢字", 7, "漢字漢…"),
        ("漢字漢字", 6, "漢字…"),  # a wide char never overflows the budget by one cell
        ("😀😀😀", 4, "😀…"),
        ("ab\x1bcdef", 6, "ab…"),  # never "ab\x1…"
        ("ab\x1bcdef", 7, "ab\\x1b…"),
        ("ab\u202ecd", 6, "ab…"),
        ("a\nb\nc\nd", 5, "a\nb\n…"),  # a newline counts as a cell: height is bounded too
        ("abc", 1, "…"),
        ("abc", 0, ""),
        ("", 3, ""),
    ],
)
def test_max_len_counts_cells_and_keeps_escapes_whole(
    text: str, max_len: int, expected: str
) -> None:
    out = clean(text, max_len=max_len)
    assert out == expected
    assert width(out) <= max_len


def test_max_len_single_line_escapes_newlines_before_cutting() -> None:
    assert clean("one\ntwo", max_len=7, multiline=False) == "one\\nt…"
    assert clean("one\ntwo", max_len=5, multiline=False) == "one…"


def test_one_megabyte() -> None:
    chunk = "plain 漢字 😀 \x1b]52;c;ZXZpbA==\x07 \u202e\u200b [bold]x[/] \r\n\t\x9b31m\ud800"
    text = chunk * (1_000_000 // len(chunk))
    out = clean(text)
    assert_inert(out)
    assert out.count(r"\x1b]52;c;ZXZpbA==\x07") == text.count("\x1b]52")
    short = clean(text, max_len=80, multiline=False)
    assert width(short) <= 80 and short.endswith(ELLIPSIS)
    assert_inert(short, multiline=False)


# -- properties -----------------------------------------------------------------------------------

ANY_CHAR = st.characters(codec=None, exclude_categories=())  # surrogates and all included
NASTY_CONTROLS = ["\x1b", "\x1b[31m", "\x1b]0;x\x07", "\x9b", "\r", "\n", "\r\n", "\t", "\u2028"]
NASTY_OTHERS = [
    "\u202e",
    "\u200d",
    "\ufe0f",
    "❤",
    "漢",
    "😀",
    "\\",
    "\\x1b",
    "[",
    "]",
    "e\u0301",
    "\ud83d",
]
NASTY = st.sampled_from([*NASTY_CONTROLS, *NASTY_OTHERS])
TEXTS = st.lists(st.one_of(st.text(ANY_CHAR, max_size=8), NASTY), max_size=30).map("".join)


@given(TEXTS, st.booleans())
def test_property_output_is_inert_and_idempotent(text: str, multiline: bool) -> None:
    out = clean(text, multiline=multiline)
    assert_inert(out, multiline=multiline)
    assert clean(out, multiline=multiline) == out
    out.encode("utf-8")  # no lone surrogate survives


@given(TEXTS, st.booleans())
def test_property_every_unsafe_character_shows_as_its_escape(text: str, multiline: bool) -> None:
    out = clean(text, multiline=multiline)
    for char in set(text):
        if unicodedata.category(char) in {"Cf", "Cs"} or char in "\x1b\x9b\x07\x7f":
            assert f"{ord(char):02x}" in out


# Default-ignorable code points outside Cf that are escaped too (drawn as nothing by terminals).
ALSO_ESCAPED = [(0x034F, 0x034F), (0x115F, 0x1160), (0x17B4, 0x17B5), (0x2065, 0x2065)]
ALSO_ESCAPED += [(0x3164, 0x3164), (0xFFA0, 0xFFA0), (0xFFF0, 0xFFF8), (0xE0000, 0xE0FFF)]
PLAIN_CHARS = st.characters(exclude_categories=("Cc", "Cf", "Cs", "Zl", "Zp")).filter(
    lambda c: not any(low <= ord(c) <= high for low, high in ALSO_ESCAPED)
)


@given(st.text(PLAIN_CHARS))
def test_property_safe_text_is_left_alone(text: str) -> None:
    assert clean(text) == text
    assert clean(text, multiline=False) == text


def test_the_other_default_ignorables_are_escaped() -> None:
    for low, high in ALSO_ESCAPED:
        for code in {low, high}:
            assert clean(chr(code)) == ("\\u%04x" if code < 0x10000 else "\\U%08x") % code


@given(TEXTS, st.integers(min_value=0, max_value=40), st.booleans())
def test_property_max_len(text: str, max_len: int, multiline: bool) -> None:
    full = clean(text, multiline=multiline)
    out = clean(text, max_len=max_len, multiline=multiline)
    assert width(out) <= max_len
    assert_inert(out, multiline=multiline)
    if out != full and max_len:
        assert out.endswith(ELLIPSIS)
        cut = len(out) - 1
        assert full.startswith(out[:cut])
        assert not any(m.start() < cut < m.end() for m in ESCAPE.finditer(full))
    assert clean(out, max_len=max_len, multiline=multiline) == out


# -- safe ------------------------------------------------------------------------------------


@pytest.mark.parametrize("markup", MARKUP)
def test_markup_stays_literal(markup: str) -> None:
    for text in (safe(markup), safe(markup, multiline=False), safe(markup, style="bold")):
        assert isinstance(text, Text)
        assert text.plain == markup
        assert not text.spans


def test_safe_applies_only_the_callers_style() -> None:
    text = safe("[red]x[/] \x1b[5m", style="bold")
    assert text.plain == r"[red]x[/] \x1b[5m"
    assert str(text.style) == "bold" and not text.spans


def test_safe_shows_non_strings_with_str() -> None:
    assert safe(42).plain == "42"
    assert safe(None).plain == "None"
    assert safe(["a\nb"], multiline=False).plain == r"['a\nb']"


def test_one_line_text_is_one_line() -> None:
    text = safe("first\nsecond\r\nthird\u2028", max_len=20, multiline=False)
    assert text.plain == r"first\nsecond\r\nth…"


# -- safe_json ------------------------------------------------------------------------------------

KNOWN_STYLES = {"bold blue", "green", "cyan", "italic magenta", "dim italic"}


def test_json_matches_json_dumps_for_ordinary_data() -> None:
    value = {"name": "Ada 漢字 😀", "n": [1, 2.5, -3e300, True, None], "empty": {}, "e": [], 7: "x"}
    assert safe_json(value).plain == json.dumps(value, indent=2, ensure_ascii=False)


def test_json_escapes_strings_and_keys_and_never_parses_markup() -> None:
    value = {"[bold]k\u202e": "[@click=app.quit]v\x1b]0;t\x07", "$x": ["\u200b", "a\nb"]}
    text = safe_json(value)
    assert_inert(text.plain)
    assert r'"[bold]k\u202e": "[@click=app.quit]v\u001b]0;t\u0007"' in text.plain
    assert r'"\u200b"' in text.plain and r'"a\nb"' in text.plain
    assert {str(span.style) for span in text.spans} <= KNOWN_STYLES
    assert '"$x"' in text.plain


def test_json_thousand_levels_deep_does_not_recurse() -> None:
    value: list[object] = []
    for _ in range(1000):
        value = [value, "\x1b"]
    text = safe_json(value)
    assert f"(nesting too deep to show: {1000 - MAX_JSON_DEPTH + 1} more levels)" in text.plain
    assert_inert(text.plain)


def test_json_huge_integers() -> None:
    assert safe_json({"n": 10**400}).plain == '{\n  "n": ' + str(10**400) + "\n}"
    if hasattr(sys, "get_int_max_str_digits") and sys.get_int_max_str_digits():
        assert "(integer of about" in safe_json(10**50_000).plain


def test_json_cycles_and_odd_values() -> None:
    loop: dict[str, object] = {"a": 1}
    loop["self"] = loop
    assert '"self": (circular reference)' in safe_json(loop).plain
    assert safe_json(float("nan")).plain == "NaN"
    assert safe_json((1, "x")).plain == '[\n  1,\n  "x"\n]'
    assert safe_json(object).plain == json.dumps(str(object))
    assert safe_json({}, indent=4).plain == "{}"


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(ANY_CHAR),
    lambda children: st.lists(children) | st.dictionaries(st.text(ANY_CHAR), children),
    max_leaves=25,
)


@given(JSON_VALUES)
def test_property_json_is_inert_and_otherwise_json_dumps(value: object) -> None:
    plain = safe_json(value).plain
    assert_inert(plain)
    expected = json.dumps(value, indent=2, ensure_ascii=False).split("\n")
    assert plain.split("\n") == [clean(line, multiline=False) for line in expected]


# -- Rich: only our own SGR codes reach the terminal ----------------------------------------------


@pytest.mark.parametrize("payload", [p for p, _ in HOSTILE] + MARKUP)
def test_rich_console_output_carries_no_injected_sequences(payload: str) -> None:
    console = Console(
        file=io.StringIO(), record=True, force_terminal=True, color_system="truecolor", width=80
    )
    console.print(safe(payload, style="bold red"))
    console.print(safe(payload, multiline=False))
    console.print(safe_json({payload: [payload]}))
    ansi = console.export_text(styles=True)
    assert "\x1b]" not in ansi and "\x07" not in ansi and "\x9b" not in ansi
    assert "\x1b" not in SGR.sub("", ansi)
    assert "\x1b[" in ansi  # Rich did style it: the check above is not vacuous
    for line in SGR.sub("", ansi).split("\n"):
        assert_inert(line, multiline=False)


# -- Textual, headless ----------------------------------------------------------------------------


def screen_lines(app: App[None]) -> list[str]:
    return [strip.text.rstrip() for strip in app.screen._compositor.render_strips()]


def widget_text(app: App[None], widget: Widget) -> str:
    region = widget.content_region
    strips = app.screen._compositor.render_strips()
    lines = (strips[y].crop(region.x, region.right).text for y in range(region.y, region.bottom))
    return "\n".join(line.rstrip() for line in lines).strip("\n")


class Showcase(App[None]):
    TOOLTIP_DELAY = 0.05

    def __init__(self, *widgets: Widget) -> None:
        super().__init__()
        self._widgets = widgets

    def compose(self) -> ComposeResult:
        yield from self._widgets


async def test_static_and_label_show_markup_literally_and_clicks_do_nothing() -> None:
    static = Static(safe("[@click=app.quit]click[/]"))
    label = Label(safe("[bold]x[/] [@click=app.quit]y[/]\n$accent \x1b[2J", multiline=False))
    app = Showcase(static, label)
    async with app.run_test(size=(60, 10)) as pilot:
        await pilot.click(static)
        await pilot.click(label, offset=(14, 0))
        await pilot.pause()
        assert app.is_running and app.return_code is None
        assert widget_text(app, static) == "[@click=app.quit]click[/]"
        assert widget_text(app, label) == r"[bold]x[/] [@click=app.quit]y[/]\n$accent \x1b[2J"


async def test_markdown_shows_markup_literally() -> None:
    source = safe_markdown_source("[@click=app.quit]x[/] [bold]b[/] $accent \x1b]0;t\x07")
    app = Showcase(Markdown(source))
    async with app.run_test(size=(80, 10)) as pilot:
        await pilot.pause()
        assert r"[@click=app.quit]x[/] [bold]b[/] $accent \x1b]0;t\x07" in "\n".join(
            screen_lines(app)
        )


async def test_textual_still_gives_table_cells_markup_tooltips() -> None:
    """Why tables are defused. If this fails, Textual fixed it and the workaround can go."""
    app = Showcase(Markdown("| h |\n|---|\n| [b]x[/b] |\n"))
    async with app.run_test(size=(40, 10)) as pilot:
        await pilot.pause()
        assert "[b]x[/b]" in [w.tooltip for w in app.query("*")]


TABLE = (
    "Table:\n\n| h | [i]h[/] |\n|:--|--:|\n| [@click=app.quit]q[/] | `[/]` |\n| &#91;/] | ok |\n"
)


def test_tables_with_brackets_are_shown_as_source() -> None:
    source = safe_markdown_source(TABLE + "\n| safe | table |\n|---|---|\n| 1 | 2 |\n")
    assert "\\|:--|--:|" in source  # delimiter row escaped: not a table any more
    assert "| safe | table |\n|---|---|" in source  # a table without brackets keeps its look
    assert not bracketed_table_cells(source)


def test_markdown_that_never_settles_is_shown_as_a_code_block(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(safe_text, "_bracketed_tables", lambda source: {(0, 1)})
    source = safe_markdown_source("| [/] |\n|---|\n```` not a fence end\n")
    assert source.startswith("`````text\n") and source.endswith("\n`````")
    tokens = [t for t in MarkdownIt("gfm-like").parse(source) if t.type != "text"]
    assert [t.type for t in tokens] == ["fence"]


async def test_markdown_table_cells_cannot_crash_or_act_on_hover() -> None:
    markdown = Markdown(safe_markdown_source(TABLE))
    app = Showcase(markdown)
    async with app.run_test(size=(80, 12), tooltips=True) as pilot:
        await pilot.pause()
        assert not [w for w in app.query("*") if isinstance(w.tooltip, str) and "[" in w.tooltip]
        shown = "\n".join(screen_lines(app))
        assert "| [@click=app.quit]q[/] | [/] |" in shown
        assert "|:--|--:|" in shown
        for y in range(10):
            await pilot.hover(markdown, offset=(4, y))
            await pilot.pause(0.1)
            await pilot.click(offset=(5, y + 1))
        assert app.is_running and app.return_code is None


async def test_safe_markdown_parser_shows_raw_html_instead_of_hiding_it() -> None:
    source = safe_markdown_source("visible <!-- hidden --> text\n\n<div>block</div>\n")
    hidden, shown = Markdown(source), Markdown(source, parser_factory=safe_markdown_parser)
    app = Showcase(hidden, shown)
    async with app.run_test(size=(60, 20)) as pilot:
        await pilot.pause()
        assert "<!-- hidden -->" not in widget_text(app, hidden)  # Textual's default drops HTML
        assert "visible <!-- hidden --> text" in widget_text(app, shown)
        assert "<div>block</div>" in widget_text(app, shown)


def bracketed_table_cells(source: str) -> list[str]:
    """Cells of any table, by either parser, whose text would contain a `[`."""
    found = []
    for parser in (MarkdownIt("gfm-like"), safe_markdown_parser()):
        in_table = False
        for token in parser.parse(source):
            in_table = token.type != "table_close" and (in_table or token.type == "table_open")
            if in_table and token.type == "inline":
                texts = [token.content] + [c.content for c in token.children or []]
                found += [t for t in texts if "[" in t]
    return found


TABLE_BITS = ["|", " | ", "---", "\n", "\n\n", "[", "]", "[/]", "&#91;", "&lbrack;", "`", "\\"]
OTHER_BITS = ["x", "<div>", "```", "\t", "![a[b]](u)", "[t](u)", "[@click=app.quit]q[/]", "\x1b"]
MARKDOWN_BITS = st.sampled_from([*TABLE_BITS, *OTHER_BITS])
CELL = st.lists(st.one_of(MARKDOWN_BITS, st.text(ANY_CHAR, max_size=3)), max_size=4).map("".join)
PREFIX = st.sampled_from(["", "", "", "> ", "> > ", "  ", "- ", "1. ", "    "])


@st.composite
def table_chunks(draw: st.DrawFn) -> str:
    """A GFM table (header, delimiter, body rows) inside some container, or a stray line."""
    prefix = draw(PREFIX)
    columns = draw(st.integers(1, 3))

    def row() -> str:
        return "| " + " | ".join(draw(st.lists(CELL, min_size=columns, max_size=columns))) + " |"

    delimiter = "|" + "|".join(
        draw(st.sampled_from(["---", ":-:", " --: "])) for _ in range(columns)
    )
    lines = [row(), delimiter + "|"] + [row() for _ in range(draw(st.integers(0, 3)))]
    if draw(st.booleans()):
        lines[0] = draw(CELL)  # a header-less near-table
    return "\n".join(
        prefix + line if i == 0 or prefix.startswith(">") else " " * len(prefix) + line
        for i, line in enumerate(lines)
    )


@given(st.lists(st.one_of(table_chunks(), CELL), max_size=6))
def test_property_no_table_cell_can_carry_a_bracket(chunks: list[str]) -> None:
    source = safe_markdown_source("\n".join(chunks))
    assert_inert(source)
    assert not bracketed_table_cells(source)


@pytest.mark.parametrize("multiline", [True, False])
def test_the_fast_check_finds_exactly_the_characters_the_table_changes(multiline: bool) -> None:
    from console.safe_text import _UNSAFE_RANGES, _finder, _table

    table = _table(multiline)
    finder = _finder(multiline)
    edges = {cp for low, high in _UNSAFE_RANGES for cp in (low - 1, low, high, high + 1)}
    candidates = set(table) | edges | {9, 10, 13, 32, 0x2028, 0x2029} - {-1}
    found = {cp for cp in candidates if 0 <= cp < 0x110000 and finder.match(chr(cp))}
    assert found == set(table)
