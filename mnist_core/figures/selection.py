"""Reading a chart's selection state (what Streamlit returns for ``on_select``) without
importing Streamlit: the decoders beside each figure build on :func:`selected_points`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def selected_points(selection_state: Any) -> list[dict]:
    """The ``points`` of a chart's selection state, or ``[]``.

    ``selection_state`` is what ``st.plotly_chart(..., on_select="rerun")`` returns (also
    kept in ``st.session_state[key]``): a mapping ``{"selection": {"points": [...]}}``;
    None or anything else without points gives ``[]``.
    """
    if not isinstance(selection_state, Mapping):
        return []
    selection = selection_state.get("selection")
    if not isinstance(selection, Mapping):
        return []
    points = selection.get("points")
    return [p for p in points if isinstance(p, Mapping)] if isinstance(points, list) else []


def customdata_of(point: Mapping) -> list | None:
    """A point's ``customdata`` as a list (the frontend sends a list, or a dict keyed by
    position for some traces), or None when it has none."""
    custom = point.get("customdata")
    if custom is None:
        return None
    if isinstance(custom, Mapping):
        return [custom[k] for k in sorted(custom, key=lambda k: int(k))]
    return list(custom) if isinstance(custom, (list, tuple)) else [custom]
