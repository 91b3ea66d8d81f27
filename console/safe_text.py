r"""The one gate between server text and the screen.

Titles, labels, descriptions and payloads are written by LLMs and workflow authors: untrusted. A
terminal obeys escape sequences (colours, window titles, OSC 52 clipboard writes), bidi and
zero-width characters make text read differently from what it is, and Rich and Textual parse
`[...]` as markup that can style text or bind a click to an action. So everything here returns a
plain `str` or a `rich.text.Text` built from one – never markup – and every control or invisible
character is shown as a visible escape (`\x1b`, `\u202e`, `\U000e0041`) that an operator can see
and that cannot act.

A literal backslash is not escaped: the four typed characters `\x1b` look the same as a real ESC
once cleaned. That is harmless (neither acts), keeps paths and regexes readable, and makes
`clean` idempotent.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from rich.cells import cell_len, split_graphemes
from rich.text import Span, Text

if TYPE_CHECKING:  # markdown_it is imported when a payload is first shown, not at start-up
    from markdown_it import MarkdownIt
    from markdown_it.token import Token

__all__ = [
    "ELLIPSIS",
    "LINE_MAX",
    "MAX_JSON_DEPTH",
    "clean",
    "escape_json_source",
    "safe",
    "safe_json",
    "safe_markdown_parser",
    "safe_markdown_source",
]

ELLIPSIS = "…"
TAB_SIZE = 4
LINE_MAX = 500
"""Cells of server text kept on a one-line header or cell: more never fits a terminal, and a
1 MB name measured on every repaint made the screen unresponsive."""
MAX_JSON_DEPTH = 64
"""Deeper JSON is summarised: each level indents further, so more is unreadable and costly."""

# Shown as escapes, never sent to the terminal: C0/C1 controls, DEL, lone surrogates, every
# Unicode format character (Cf, up to Unicode 15.1), line/paragraph separators, and the
# default-ignorable code points a terminal draws as nothing (Hangul fillers, the tag characters
# used to smuggle hidden text, variation selectors 17–256). Kept on purpose: U+FE00–FE0F (emoji vs
# text presentation) and the Mongolian variation selectors, which ordinary text needs.
_UNSAFE_RANGES: tuple[tuple[int, int], ...] = (
    (0x0000, 0x001F),  # C0 controls; \t and \n are handled apart
    (0x007F, 0x009F),  # DEL, C1 controls (8-bit CSI 0x9B, OSC 0x9D, NEL 0x85 …)
    (0x00AD, 0x00AD),  # soft hyphen
    (0x034F, 0x034F),  # combining grapheme joiner
    (0x0600, 0x0605),  # Arabic number signs
    (0x061C, 0x061C),  # Arabic letter mark (bidi)
    (0x06DD, 0x06DD),
    (0x070F, 0x070F),
    (0x0890, 0x0891),
    (0x08E2, 0x08E2),
    (0x115F, 0x1160),  # Hangul fillers
    (0x17B4, 0x17B5),  # invisible Khmer vowels
    (0x180E, 0x180E),  # Mongolian vowel separator
    (0x200B, 0x200F),  # zero-width space, ZWNJ, ZWJ, LRM, RLM
    (0x2028, 0x202E),  # line/paragraph separators, bidi embeddings and overrides
    (0x2060, 0x206F),  # word joiner, invisible operators, bidi isolates
    (0x3164, 0x3164),  # Hangul filler
    (0xD800, 0xDFFF),  # lone surrogates
    (0xFEFF, 0xFEFF),  # BOM, zero-width no-break space
    (0xFFA0, 0xFFA0),  # halfwidth Hangul filler
    (0xFFF0, 0xFFFB),  # unassigned specials, interlinear annotation
    (0x110BD, 0x110BD),
    (0x110CD, 0x110CD),
    (0x13430, 0x1343F),  # Egyptian hieroglyph format controls
    (0x1BCA0, 0x1BCA3),  # shorthand format controls
    (0x1D173, 0x1D17A),  # musical symbol format controls
    (0xE0000, 0xE0FFF),  # tag characters, variation selectors supplement
)


def _escape(code_point: int) -> str:
    """Python's own escape notation, so the operator can read and search for it."""
    if code_point < 0x100:
        return f"\\x{code_point:02x}"
    if code_point < 0x10000:
        return f"\\u{code_point:04x}"
    return f"\\U{code_point:08x}"


def _kept(multiline: bool) -> set[int]:
    """Characters of the unsafe ranges written as they are: a tab (expanded to spaces after
    translation), and a line break where lines are allowed."""
    return {ord("\t"), ord("\n")} if multiline else {ord("\t")}


@cache
def _table(multiline: bool) -> dict[int, str]:
    """What ``str.translate`` writes for each unsafe character; made on first use, as only
    text that holds one needs it (made at every start, they delayed the first frame)."""
    table = {cp: _escape(cp) for low, high in _UNSAFE_RANGES for cp in range(low, high + 1)}
    for cp in _kept(multiline):
        del table[cp]
    table[ord("\r")] = "\\r"
    if multiline:
        table[0x2028] = table[0x2029] = "\n"
    else:
        table[ord("\n")] = "\\n"
    return table


def _finder(multiline: bool) -> re.Pattern[str]:
    """A regex for the characters ``_table(multiline)`` changes: far faster than translate on
    clean text."""
    kept = _kept(multiline)
    ranges: list[tuple[int, int]] = []
    for low, high in _UNSAFE_RANGES:
        start = low
        for cp in sorted(c for c in kept if low <= c <= high):
            if start < cp:
                ranges.append((start, cp - 1))
            start = cp + 1
        if start <= high:
            ranges.append((start, high))
    return re.compile("[" + "".join(f"\\U{lo:08x}-\\U{hi:08x}" for lo, hi in ranges) + "]")


_FINDERS = {flag: _finder(flag) for flag in (True, False)}
# What `clean` writes for one character; truncation never cuts through one of these.
_ESCAPE_RE = re.compile(r"\\(?:x[0-9a-f]{2}|u[0-9a-f]{4}|U[0-9a-f]{8}|[nr])")


def clean(text: str, *, max_len: int | None = None, multiline: bool = True) -> str:
    r"""Make server text safe to show as *plain* text (a `Text`, never markup).

    Controls, DEL, C1, bidi, zero-width, other invisible/format characters and lone surrogates
    become visible escapes (`\x1b`, `\u202e`); tabs become spaces (stops every 4 columns). With
    `multiline`, `\n` stays, `\r\n` and U+2028/U+2029 become `\n` and a lone `\r` shows as `\r`;
    without it `\n` and `\r` show as `\n`/`\r` so a table cell cannot be broken. `max_len` caps
    the result's terminal width in cells (a newline counts as one) and ends a cut with `…`, never
    inside an escape. Linear time: `str.translate` plus a regex pre-check, no per-character loop.
    """
    if not isinstance(text, str):  # a server "string" may arrive as a number or null
        text = str(text)
    if multiline:
        text = text.replace("\r\n", "\n")
    else:  # the common case, done at C speed so that translate is rarely needed
        text = text.replace("\r", "\\r").replace("\n", "\\n")
    if _FINDERS[multiline].search(text):  # most text is clean, and a regex says so fastest
        text = text.translate(_table(multiline))
    if "\t" in text:
        text = text.expandtabs(TAB_SIZE)
    return text if max_len is None else _fit(text, max_len)


def _json_escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code > 0xFFFF:  # JSON escapes only 16-bit units: a surrogate pair
        code -= 0x10000
        return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
    return f"\\u{code:04x}"


def escape_json_source(source: str) -> str:
    r"""JSON source with every character `clean` would escape written as a JSON `\u` escape.

    For a JSON editor: the text shows no control, bidi or invisible character, yet parses to the
    very same value, since `json.dumps` leaves such characters only inside strings, where
    `\u202e` is valid JSON. Newlines stay; tabs are JSON whitespace and are left alone.
    """
    return _FINDERS[True].sub(_json_escape, source)


def _width(text: str) -> int:
    return cell_len(text) + text.count("\n")


def _fit(text: str, max_len: int) -> str:
    """Cut `text` to at most `max_len` cells, ellipsis included, on a grapheme and escape edge.

    Only a prefix of about `max_len` characters is measured, so a 1 MB string costs little more
    than a short one (zero-width characters aside, which can only widen the window).
    """
    if max_len <= 0:
        return ""
    if 2 * len(text) <= max_len:  # no character is wider than two cells
        return text
    window = max(64, max_len + 1)
    while window < len(text) and _width(text[:window]) < max_len:
        window *= 2
    head = text[:window]
    head_width = _width(head)
    if head_width < max_len or (
        head_width == max_len and (window >= len(text) or _width(text) == max_len)
    ):
        return text
    inside_escape = {i for m in _ESCAPE_RE.finditer(head) for i in range(m.start() + 1, m.end())}
    spans, _ = split_graphemes(head)
    budget = max_len - 1  # room for the ellipsis
    used = cut = 0
    for start, end, cells in spans:
        cells += head.count("\n", start, end)
        if used + cells > budget:
            break
        used += cells
        if end not in inside_escape:
            cut = end
    return head[:cut] + ELLIPSIS


def safe(
    text: object, *, style: str = "", max_len: int | None = None, multiline: bool = True
) -> Text:
    """Server text as a `Text` for any widget: cleaned, and never parsed as markup.

    `[bold]`, `[@click=app.quit]` or `$variable` stay literal because the string goes straight
    into `Text(...)`; `style` is the caller's own, applied to the whole text. Non-strings are
    shown with `str()`: formatting structures is the caller's business (see `safe_json`).
    """
    return Text(clean(str(text), max_len=max_len, multiline=multiline), style=style)


# -- JSON ------------------------------------------------------------------------------------------

_KEY_STYLE = "bold blue"
_STRING_STYLE = "green"
_NUMBER_STYLE = "cyan"
_LITERAL_STYLE = "italic magenta"
_NOTE_STYLE = "dim italic"


def _depth(value: object, limit: int = 10_000) -> int:
    """Levels of containers in `value`, breadth first (no recursion), capped at `limit`."""
    level: list[object] = [value]
    depth = 0
    while depth < limit:
        children: dict[int, object] = {}
        for node in level:
            items: Iterable[object] = ()
            if isinstance(node, dict):
                items = node.values()
            elif isinstance(node, list | tuple | set | frozenset):
                items = node
            for child in items:
                if isinstance(child, dict | list | tuple | set | frozenset):
                    children[id(child)] = child
        depth += 1
        if not children:
            break
        level = list(children.values())
    return depth


def _scalar(value: object) -> tuple[str, str]:
    """One JSON scalar as (text, style); non-JSON objects show as a string of their `str()`."""
    if value is None or isinstance(value, bool):
        return json.dumps(value), _LITERAL_STYLE
    if isinstance(value, int):
        try:
            return int.__repr__(value), _NUMBER_STYLE
        except ValueError:  # beyond Python's int-to-str digit limit
            digits = int(value.bit_length() * 0.30103) + 1
            return f"(integer of about {digits} digits)", _NOTE_STYLE
    if isinstance(value, float):
        return json.dumps(value), _NUMBER_STYLE
    text = value if isinstance(value, str) else str(value)
    return clean(json.dumps(text, ensure_ascii=False), multiline=False), _STRING_STYLE


_DONE = object()


@dataclass
class _Frame:
    """An open container: its members still to write and the indent depth of those members."""

    container: object
    members: Iterator[Any]
    is_dict: bool
    depth: int
    count: int = 0


class _JsonWriter:
    """Builds one `Text` from pieces and spans: styling without any markup parsing."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.spans: list[Span] = []
        self.offset = 0

    def emit(self, piece: str, style: str = "") -> None:
        if style:
            self.spans.append(Span(self.offset, self.offset + len(piece), style))
        self.parts.append(piece)
        self.offset += len(piece)

    def text(self) -> Text:
        return Text("".join(self.parts), spans=self.spans, end="")


def safe_json(value: object, *, indent: int = 2) -> Text:
    """Pretty-print a JSON-like value as cleaned, lightly styled `Text`.

    Iterative, so 1,000 levels cannot raise `RecursionError`; containers deeper than
    `MAX_JSON_DEPTH` are summarised as "(nesting too deep to show: N more levels)" and a cycle
    as "(circular reference)". Strings and keys go through `json.dumps(ensure_ascii=False)` –
    quoted, wide characters readable – and then `clean`. Integers of any size print exactly.
    Styles are spans on the `Text`; nothing is parsed as markup.
    """
    out = _JsonWriter()
    stack: list[_Frame] = []
    on_path: set[int] = set()

    def open_value(item: Any, depth: int) -> None:
        is_dict = isinstance(item, dict)
        if not (is_dict or isinstance(item, list | tuple | set | frozenset)):
            out.emit(*_scalar(item))
        elif not item:
            out.emit("{}" if is_dict else "[]")
        elif id(item) in on_path:
            out.emit("(circular reference)", _NOTE_STYLE)
        elif depth >= MAX_JSON_DEPTH:
            out.emit(f"(nesting too deep to show: {_depth(item)} more levels)", _NOTE_STYLE)
        else:
            out.emit("{" if is_dict else "[")
            stack.append(_Frame(item, iter(item.items() if is_dict else item), is_dict, depth + 1))
            on_path.add(id(item))

    open_value(value, 0)
    while stack:
        frame = stack[-1]
        member: Any = next(frame.members, _DONE)
        if member is _DONE:
            stack.pop()
            on_path.discard(id(frame.container))
            out.emit("\n" + " " * (indent * (frame.depth - 1)) + ("}" if frame.is_dict else "]"))
            continue
        out.emit(("," if frame.count else "") + "\n" + " " * (indent * frame.depth))
        frame.count += 1
        if frame.is_dict:
            key, member = member
            name = key if isinstance(key, str) else _scalar(key)[0]
            out.emit(clean(json.dumps(name, ensure_ascii=False), multiline=False), _KEY_STYLE)
            out.emit(": ")
        open_value(member, frame.depth)
    return out.text()


# -- Markdown --------------------------------------------------------------------------------------

# A GFM table delimiter row after its container prefix (blockquote markers, indentation).
_DELIMITER_ROW = re.compile(r"^([ >]*)([|:-][|: -]*)$")


def safe_markdown_parser() -> MarkdownIt:
    """A `parser_factory` for Textual's `Markdown`: the default "gfm-like" with raw HTML off.

    Textual drops HTML blocks and inline HTML without showing them, so `<!-- … -->` could hide
    text from the operator; with HTML off it is shown literally.
    """
    from markdown_it import MarkdownIt

    return MarkdownIt("gfm-like", {"html": False})


@cache
def _parsers() -> tuple[MarkdownIt, ...]:
    from markdown_it import MarkdownIt

    return MarkdownIt("gfm-like"), safe_markdown_parser()


def _has_bracket(tokens: Iterable[Token]) -> bool:
    for token in tokens:
        if "[" in token.content or any("[" in str(v) for v in token.attrs.values()):
            return True
        if token.children and _has_bracket(token.children):
            return True
    return False


def _bracketed_tables(source: str) -> set[tuple[int, int]]:
    """Line ranges of tables whose cells would show a `[`, for either parser."""
    found: set[tuple[int, int]] = set()
    for parser in _parsers():
        table: tuple[int, int] | None = None
        risky = False
        for token in parser.parse(source):
            if token.type == "table_open" and token.map:
                table, risky = (token.map[0], token.map[1]), False
            elif token.type == "table_close" and table is not None:
                if risky:
                    found.add(table)
                table = None
            elif table is not None and token.type == "inline":
                risky = risky or _has_bracket([token])
    return found


def safe_markdown_source(text: str) -> str:
    """The source to give Textual's `Markdown` for a server description.

    Markdown is parsed by markdown-it, not as Rich markup, and paragraphs, headings, lists and
    code are rendered as plain content, but the control, bidi and invisible characters must still
    be neutralised: hence `clean(text)`. One Textual 8.2.8 hole remains: a table body cell gets
    its plain text as a *markup* tooltip, so `[/]` in a cell crashes the app on hover and
    `[@click=app.quit]` runs when the tooltip is clicked. Tables whose cells contain a `[` are
    therefore shown as their source lines (delimiter rows backslash-escaped, so they read the
    same); should that not settle in a few passes, the description is shown as a code block.
    """
    source = clean(text, multiline=True)
    if "|" not in source or ("[" not in source and "&" not in source):
        return source  # no table, or nothing that can become a "[" in one
    for _ in range(4):
        tables = _bracketed_tables(source)
        if not tables:
            return source
        lines = source.split("\n")
        for start, end in tables:
            # The line after a table too: it must not become the delimiter of a new one.
            for number in range(start, min(end + 1, len(lines))):
                lines[number] = _DELIMITER_ROW.sub(r"\1\\\2", lines[number])
                if number < end and not lines[number].endswith("  "):
                    lines[number] += "  "  # a hard break keeps each row on its own line
        source = "\n".join(lines)
    fence = "`" * max(3, 1 + max((len(run) for run in re.findall("`+", source)), default=0))
    return f"{fence}text\n{source}\n{fence}"
