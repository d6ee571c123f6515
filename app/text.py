"""User strings inside Markdown: shown as the plain text they are.

Streamlit renders most text as Markdown, so a run name, a file name or a URL parameter such
as ``![t](http://host/x.png)`` would become an image the browser fetches, a link, a formula
or a coloured span. :func:`plain` backslash-escapes every ASCII punctuation character
(CommonMark makes an escaped character literal text) and puts an invisible word joiner
(U+2060) inside ``://``, ``www.`` and ``@``, which GitHub-flavoured Markdown would otherwise
turn into links even when escaped.
"""

from __future__ import annotations

import re

_PUNCTUATION = re.compile(r"([!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~])")
# Where GFM would start a link: a scheme's "://", "www.", and an e-mail's "@domain.tld".
_AUTOLINK = re.compile(r"(?<=[A-Za-z0-9])(?=:/)|(?i:(?<=www))(?=\.)|(?=@[\w-]+\.\w)")
WORD_JOINER = "\u2060"


def plain(text: object) -> str:
    """``text`` escaped for ``st.markdown``, ``st.caption``, ``st.error`` and friends: it
    shows exactly as typed (line breaks as spaces), never as a link, image or markup."""
    flat = " ".join(str(text).split())
    return _PUNCTUATION.sub(r"\\\1", _AUTOLINK.sub(WORD_JOINER, flat))
