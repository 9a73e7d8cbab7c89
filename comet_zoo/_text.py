"""Text from users and hubs, made safe to show: in a terminal and in an HTML page.

A card, a reference or a config key can carry characters that change how the text
around them reads without being seen themselves: terminal escapes (ESC, carriage
return, backspace), bidi overrides and isolates (U+202A–U+202E, U+2066–U+2069) that
reverse what follows, zero-width characters (U+200B–U+200D, U+2060, U+FEFF) that hide
a difference between two names. Each such character is shown as its escape
(`\\u202e`), so what is printed is what the text is. The HTML form also escapes
`<`, `>`, `&` and quotes, so the text is never parsed as markup.

Neutralise once, at the edge where text leaves the program (the CLI's printing, the
gallery's pages, the demo's answers), never in the data itself.
"""

from __future__ import annotations

import html
import unicodedata

# Unicode general categories that are never visible text: controls (Cc), format
# characters (Cf: bidi controls, zero-width joiners, the BOM, soft hyphen, tag
# characters), line and paragraph separators (Zl, Zp) and lone surrogates (Cs).
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})

# Kept as they are in multi-line text (card bodies): they lay text out, they do not disguise it.
_LAYOUT = frozenset("\n\t")


def _escape(char: str) -> str:
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def is_invisible(char: str) -> bool:
    """True for one character that a reader cannot see but that changes how text reads."""
    return unicodedata.category(char) in _INVISIBLE_CATEGORIES


def visible(text: object, *, multiline: bool = False) -> str:
    """`text` with every control and format character written as its escape (`\\u202e`).

    One line by default: newlines and tabs are escaped too, so a value cannot start a
    line of its own in a terminal or a log. `multiline=True` keeps newlines and tabs
    (for card bodies); a carriage return is escaped either way, as it overwrites a line.
    """
    text = text if isinstance(text, str) else str(text)
    if text.isprintable() and not multiline:  # the common case: nothing to do
        return text
    return "".join(
        _escape(char) if is_invisible(char) and not (multiline and char in _LAYOUT) else char
        for char in text
    )


def visible_html(text: object, *, multiline: bool = False) -> str:
    """`visible(text)`, then HTML-escaped (quotes too), ready for an element's body or an attribute."""
    return html.escape(visible(text, multiline=multiline), quote=True)
