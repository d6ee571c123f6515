"""Widget choices that survive a page switch and travel in the URL.

Streamlit drops a widget's own state when its page is not drawn, so each kept widget has a
copy under the app's own key (``kept:<key>``) and, optionally, a URL parameter. Call
:func:`restore` before drawing the widget (it puts the last value back, from the session,
else the URL, else the default) and :func:`remember` after (it copies the value out).
Widgets drawn this way take no ``default=``/``value=``: their value is in the session.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import streamlit as st


# Each kept widget's default: a value equal to it is left out of the URL, so links stay short.
_DEFAULTS: dict[str, Any] = {}


def _kept(key: str) -> str:
    return f"kept:{key}"


def restore(key: str, default: Any, *, options: Sequence | None = None, url: str | None = None,
            parse: Callable[[str], Any] = str) -> None:  # fmt: skip
    """Put the widget ``key``'s last value back before it is drawn (a value no longer among
    ``options``, or a URL value that does not parse, falls back to ``default``)."""
    _DEFAULTS[key] = default
    if key in st.session_state:
        return
    candidates = [st.session_state.get(_kept(key))]
    if url and url in st.query_params:
        try:
            candidates.append(parse(st.query_params[url]))
        except (TypeError, ValueError):
            pass
    value = next((v for v in candidates if v is not None and (options is None or v in options)),
                 default)  # fmt: skip
    st.session_state[key] = value


def remember(key: str, *, url: str | None = None, shown: Callable[[Any], str] = str) -> Any:
    """Copy the widget ``key``'s value to the app's own key (and the URL); return it."""
    value = st.session_state.get(key)
    st.session_state[_kept(key)] = value
    if url:
        if value is None or value == _DEFAULTS.get(key):
            st.query_params.pop(url, None)
        else:
            st.query_params[url] = shown(value)
    return value


def keep_value(key: str, value: Any, *, url: str | None = None) -> None:
    """Keep a value that is not a widget's (a clicked digit, say) for the session and URL."""
    st.session_state[_kept(key)] = value
    if url:
        st.query_params[url] = str(value)


def kept_value(key: str, *, url: str | None = None, parse: Callable[[str], Any] = str) -> Any:
    """A value kept by :func:`keep_value`: from the session, else the URL, else None."""
    if _kept(key) in st.session_state:
        return st.session_state[_kept(key)]
    if url and url in st.query_params:
        try:
            return parse(st.query_params[url])
        except (TypeError, ValueError):
            return None
    return None
