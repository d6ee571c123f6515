"""User strings inside Streamlit's Markdown (captions, toasts, alerts, ``st.markdown``) shown
exactly as typed: a file name or a link's ``?dataset=`` like ``![t](http://host/x.png)``
must never become an image the browser fetches, a link, a formula or a coloured span."""

from __future__ import annotations

import re

# CommonMark lets any ASCII punctuation be escaped with a backslash, and a backslash-escaped
# character is always literal text: no image, link, emphasis, HTML, math ($) or directive (:).
_PUNCTUATION = re.compile(r"([!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~])")


def escape_markdown(text: str) -> str:
    """``text`` with every Markdown-significant character escaped, and line breaks as
    spaces (a caption is one line); shows as ``text`` in any Markdown element."""
    flat = " ".join(str(text).split())
    return _PUNCTUATION.sub(r"\\\1", flat)
