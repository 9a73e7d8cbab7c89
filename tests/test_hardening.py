"""Hostile input against the library and the CLI: each test names the defect it guards."""

from __future__ import annotations

import pytest


# --- text from users and hubs is neutralised once, at the edge ----------------------------

@pytest.mark.parametrize("char", ["\u202e", "\u2066", "\u200b", "\ufeff", "\x1b", "\r", "\x07", "\u2028"])
def test_visible_writes_invisible_characters_as_escapes(char):
    from comet_zoo._text import visible, visible_html

    shown = visible(f"ab{char}cd")
    assert char not in shown and shown.startswith("ab\\") and shown.endswith("cd")
    assert char not in visible_html(f"<b>{char}</b>")


def test_visible_keeps_plain_text_and_layout_where_asked():
    from comet_zoo._text import visible, visible_html

    assert visible("clevr@v2:obj0 — é 猫") == "clevr@v2:obj0 — é 猫"
    assert visible("a\nb") == "a\\x0ab"
    assert visible("a\n\tb\r", multiline=True) == "a\n\tb\\x0d"
    assert visible_html('<img src="x" onerror=1>&') == "&lt;img src=&quot;x&quot; onerror=1&gt;&amp;"
