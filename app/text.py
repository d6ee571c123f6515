"""User strings inside Markdown: shown as the plain text they are.

Streamlit renders most text as Markdown, so a run name or a URL parameter such as
``![t](http://host/x.png)`` would become an image the browser fetches. :func:`plain`
backslash-escapes every character Markdown (CommonMark, GFM autolinks, Streamlit's
``:colour[...]`` and ``$math$``) gives a meaning, so the text reads exactly as typed.
"""

from __future__ import annotations

import re

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:&=\"'])")


def plain(text: object) -> str:
    """``text`` escaped for ``st.markdown`` and friends; newlines become spaces."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))
