"""A canvas to draw a digit on with the mouse, a pen or a finger (``st.components.v2``).

Thick round strokes, dark ink on white, on a square canvas of :data:`CANVAS` pixels; *Undo*
removes the last stroke, *Clear* all of them. When a stroke ends (or is undone) the pad sends
its picture (a PNG, ink in the alpha channel on a transparent background) and its strokes;
:func:`drawing_pad` returns them as a :class:`Drawing` (the picture as an RGBA array, for
:func:`mnist_core.inside.preprocess_drawing`). The strokes come back through ``strokes`` when
the pad is drawn again (after a page switch), so a drawing survives leaving the page.
"""

from __future__ import annotations

import base64
import binascii
import io
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import streamlit as st

CANVAS = 280  # pixels per side: ten screen pixels per pixel of a 28×28 digit
MAX_STROKES = 200
MAX_POINTS = 20_000  # all strokes together; a drawing beyond that is cut
MAX_PNG_BYTES = 2_000_000

_HTML = """
<div class="pad">
  <canvas width="280" height="280" aria-label="Drawing pad: draw a digit"></canvas>
  <div class="tools">
    <button type="button" data-act="undo" title="Remove the last stroke">Undo</button>
    <button type="button" data-act="clear" title="Remove every stroke">Clear</button>
    <span class="hint"></span>
  </div>
</div>
"""

_CSS = """
.pad { display: flex; flex-direction: column; gap: 0.4rem; width: 100%; max-width: 282px; }
canvas { width: 100%; height: auto; aspect-ratio: 1 / 1; box-sizing: border-box;
         background: #fff; border: 1px solid #9a9a9a; border-radius: 4px;
         touch-action: none; cursor: crosshair; }
.tools { display: flex; gap: 0.5rem; align-items: center; font-size: 14px; }
button { font: inherit; padding: 0.25rem 0.9rem; border: 1px solid #b0b0b0; border-radius: 6px;
         background: #fff; color: #222; cursor: pointer; }
button:hover { border-color: #ff4b4b; color: #ff4b4b; }
button:disabled { opacity: 0.45; cursor: default; border-color: #b0b0b0; color: #222; }
.hint { color: #555; }
"""

# A pad's strokes live on its canvas element: the function runs again on every rerun that
# changes ``data``, and must neither wipe a drawing in progress nor listen twice.
_JS = """

function paint(pad) {
  const { ctx, canvas, strokes, brush } = pad;
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.strokeStyle = "#000"; ctx.fillStyle = "#000";
  ctx.lineWidth = brush; ctx.lineCap = "round"; ctx.lineJoin = "round";
  for (const s of strokes) {
    if (s.length === 1) {
      ctx.beginPath(); ctx.arc(s[0][0], s[0][1], brush / 2, 0, 2 * Math.PI); ctx.fill();
      continue;
    }
    ctx.beginPath(); ctx.moveTo(s[0][0], s[0][1]);
    for (const [x, y] of s.slice(1)) ctx.lineTo(x, y);
    ctx.stroke();
  }
}

function tools(pad) {
  const none = pad.strokes.length === 0;
  pad.undo.disabled = none; pad.clear.disabled = none;
  pad.hint.textContent = none ? "Draw a digit with the mouse." : "";
}

function send(pad) {
  tools(pad);
  pad.sequence += 1;
  pad.setStateValue("drawing", {
    png: pad.strokes.length ? pad.canvas.toDataURL("image/png") : null,
    strokes: pad.strokes, sequence: pad.sequence,
    sent: Date.now(),
  });
}

export default function (component) {
  const { parentElement, data, setStateValue } = component;
  const canvas = parentElement.querySelector("canvas");
  let pad = canvas.mnistPad;
  if (pad) { pad.setStateValue = setStateValue; return; }
  pad = { canvas, ctx: canvas.getContext("2d"), strokes: [], current: null,
          brush: (data && data.brush) || 22, sequence: (data && data.sequence) || 0,
          setStateValue,
          undo: parentElement.querySelector('[data-act="undo"]'),
          clear: parentElement.querySelector('[data-act="clear"]'),
          hint: parentElement.querySelector(".hint") };
  canvas.mnistPad = pad;
  if (data && Array.isArray(data.strokes)) pad.strokes = data.strokes;
  paint(pad); tools(pad);

  const at = (e) => {
    const r = canvas.getBoundingClientRect();
    return [Math.round((e.clientX - r.left) * canvas.width / r.width),
            Math.round((e.clientY - r.top) * canvas.height / r.height)];
  };
  const down = (e) => {
    if (e.button !== undefined && e.button !== 0) return;
    e.preventDefault();
    canvas.setPointerCapture(e.pointerId);
    pad.current = [at(e)];
    pad.strokes.push(pad.current);
    paint(pad);
  };
  const move = (e) => {
    if (!pad.current) return;
    e.preventDefault();
    const p = at(e), last = pad.current[pad.current.length - 1];
    if (p[0] === last[0] && p[1] === last[1]) return;
    pad.current.push(p);
    const { ctx } = pad;
    ctx.beginPath(); ctx.moveTo(last[0], last[1]); ctx.lineTo(p[0], p[1]); ctx.stroke();
  };
  const up = (e) => {
    if (!pad.current) return;
    pad.current = null;
    paint(pad);
    send(pad);
  };
  canvas.addEventListener("pointerdown", down);
  canvas.addEventListener("pointermove", move);
  canvas.addEventListener("pointerup", up);
  canvas.addEventListener("pointercancel", up);
  pad.undo.addEventListener("click", () => { pad.strokes.pop(); paint(pad); send(pad); });
  pad.clear.addEventListener("click", () => { pad.strokes = []; paint(pad); send(pad); });
}
"""

_pad = st.components.v2.component("mnist_drawing_pad", html=_HTML, css=_CSS, js=_JS)


@dataclass(frozen=True)
class Drawing:
    """What the pad sent: ``picture`` RGBA uint8 (CANVAS, CANVAS, 4) with the ink in its
    alpha channel (None when nothing is drawn), the ``strokes`` (lists of [x, y] canvas
    pixels) and the pad's ``sequence`` number (one more for every change)."""

    picture: np.ndarray | None
    strokes: list
    sequence: int
    sent_ms: float | None = None

    @property
    def empty(self) -> bool:
        return self.picture is None


EMPTY = Drawing(None, [], 0)


def decode(value) -> Drawing:
    """The pad's state value as a :class:`Drawing`; anything malformed reads as empty."""
    if not isinstance(value, dict):
        return EMPTY
    strokes = _strokes(value.get("strokes"))
    sequence = value.get("sequence")
    sequence = int(sequence) if isinstance(sequence, int | float) else 0
    sent = value.get("sent")
    sent = float(sent) if isinstance(sent, int | float) else None
    picture = _picture(value.get("png")) if strokes else None
    return Drawing(picture, strokes if picture is not None else [], sequence, sent)


def _strokes(value) -> list:
    if not isinstance(value, list):
        return []
    strokes, points = [], 0
    for stroke in value[:MAX_STROKES]:
        if not isinstance(stroke, list):
            continue
        kept = [[int(p[0]), int(p[1])] for p in stroke
                if isinstance(p, list) and len(p) == 2
                and all(isinstance(v, int | float) and -CANVAS <= v <= 2 * CANVAS for v in p)]
        kept = kept[:max(0, MAX_POINTS - points)]
        if kept:
            strokes.append(kept)
            points += len(kept)
    return strokes


def _picture(data_url) -> np.ndarray | None:
    """The RGBA array of a ``data:image/png;base64,...`` URL; None if it is not one."""
    from PIL import Image, UnidentifiedImageError

    prefix = "data:image/png;base64,"
    if not isinstance(data_url, str) or not data_url.startswith(prefix):
        return None
    if len(data_url) > MAX_PNG_BYTES * 4 // 3 + len(prefix) + 4:
        return None
    try:
        raw = base64.b64decode(data_url[len(prefix):], validate=True)
        with Image.open(io.BytesIO(raw)) as image:
            if image.format != "PNG" or image.size != (CANVAS, CANVAS):
                return None
            return np.asarray(image.convert("RGBA"))
    except (binascii.Error, ValueError, OSError, UnidentifiedImageError, Image.DecompressionBombError):
        return None


def drawing_pad(*, key: str, strokes: list | None = None, brush: int = 22,
                on_change: Callable[[], None] | None = None) -> Drawing | None:
    """Draw the pad; the drawing it holds, or None when it sent nothing since it was drawn
    (after a page switch: show the kept drawing, whose ``strokes`` were passed in)."""
    result = _pad(key=key, data={"strokes": strokes or [], "brush": int(brush)},
                  on_drawing_change=on_change or (lambda: None), width="stretch")
    value = getattr(result, "drawing", None)
    return None if value is None else decode(value)
