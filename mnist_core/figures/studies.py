"""A study's trials: parallel coordinates coloured by the objective, the best so far against
time, parameter importance, the trials' curves overlaid (pruned ones marked), repeats as
mean ± sd, and a two-parameter grid's heat map.

Every builder takes plain frames (the shape of ``StudyRecord.trials_frame()`` and the
caller's long tables) and the objective's name, ``val_accuracy`` (higher is better, drawn
as a percentage) or ``val_loss`` (lower is better). Colour scales are turned so the best
trials are always the bright end of Viridis.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from mnist_core.figures.style import MIN_FONT, class_color

__all__ = ["best_so_far_figure", "curves_figure", "grid_heatmap_figure", "importance_figure",
           "objective_label", "parallel_figure", "params_text", "repeats_figure"]  # fmt: skip

_LABELS = {"val_accuracy": "validation accuracy", "val_loss": "validation loss"}
PRUNED_COLOR = "#7F7F7F"
MAX_LEGEND = 20  # more trials than this: named on hover only


def objective_label(objective: str) -> str:
    return _LABELS.get(objective, objective)


def _percent(objective: str) -> bool:
    return objective == "val_accuracy"


def _tickformat(objective: str) -> str:
    return ".1~%" if _percent(objective) else "~g"


def _shown(value) -> str:
    """A parameter value for people: 0.001 as "0.001", 1e-05 as "1e-05", 128 as "128"."""
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.4g}"
    return str(value)


def params_text(row, params: Sequence[str]) -> str:
    """``"batch_size 16 · learning_rate 0.001"``: a trial's parameters in one line."""
    return " · ".join(f"{p} {_shown(row[p])}" for p in params if p in row)


def _complete(trials: pd.DataFrame) -> pd.DataFrame:
    return trials[(trials["state"] == "complete") & trials["objective"].notna()]


# --------------------------------------------------------------------------- parallel


def _numeric(values: pd.Series) -> bool:
    return all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
               for v in values)  # fmt: skip


def _dimension(name: str, values: pd.Series) -> dict:
    """One parallel axis: numbers as they are (on a log scale when they are positive and
    span two decades or more, with ticks in their own numbers), anything else (optimizer
    names, true/false) as evenly spaced categories."""
    if not _numeric(values):
        categories = sorted({_shown(v) for v in values})
        codes = [categories.index(_shown(v)) for v in values]
        top = max(len(categories) - 1, 1)
        return dict(label=name, values=codes, tickvals=list(range(len(categories))),
                    ticktext=categories, range=[0, top] if len(categories) > 1 else [-1, 1])  # fmt: skip
    numbers = values.astype(float).to_numpy()
    low, high = float(numbers.min()), float(numbers.max())
    log = low > 0 and high / low >= 100
    shown = np.log10(numbers) if log else numbers
    unique = sorted(set(numbers.tolist()))
    if len(unique) <= 8:  # ticks at the values tried
        ticks = unique
    elif log:
        ticks = [10.0**k for k in range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1)]
    else:
        ticks = None
    dimension = dict(label=name + (" (log)" if log else ""), values=shown)
    if ticks is not None:
        dimension.update(tickvals=[math.log10(t) if log else t for t in ticks],
                         ticktext=[_shown(t) for t in ticks])  # fmt: skip
    s_low, s_high = float(shown.min()), float(shown.max())
    pad = 0.0 if s_high > s_low else max(abs(s_low) * 0.5, 1.0)
    dimension["range"] = [s_low - pad, s_high + pad]
    return dimension


def parallel_figure(trials: pd.DataFrame, *, params: Sequence[str], objective: str) -> go.Figure:
    """One line per complete trial through an axis per varied parameter and one for the
    objective, coloured by the objective (best bright).

    ``trials`` has columns ``state``, ``objective`` and one per name in ``params``.
    """
    data = _complete(trials)
    values = data["objective"].astype(float)
    dimensions = [_dimension(p, data[p]) for p in params]
    scale = 100 if _percent(objective) else 1
    label = objective_label(objective) + (" (%)" if scale == 100 else "")
    dimensions.append(dict(label=label, values=values * scale, tickformat=".4~g"))
    fig = go.Figure(go.Parcoords(
        dimensions=dimensions,
        # No colour bar: the objective's own axis, last, says what the colours mean.
        line=dict(color=values * scale, colorscale="Viridis", reversescale=objective == "val_loss",
                  showscale=False),
        labelfont=dict(size=MIN_FONT + 1), tickfont=dict(size=MIN_FONT),
        rangefont=dict(size=MIN_FONT - 1), labelangle=0, labelside="top",
    ))  # fmt: skip
    fig.update_layout(height=380, margin=dict(t=60, b=24, l=70, r=70), font=dict(size=MIN_FONT))
    return fig


# --------------------------------------------------------------------------- best so far


def best_so_far_figure(points: pd.DataFrame, *, objective: str) -> go.Figure:
    """Each ended trial's objective at the time it ended, and the best so far as a step.

    ``points`` has columns ``trial``, ``minutes`` (since the study's first run began),
    ``objective``, ``state``; complete trials make the best-so-far line, pruned ones are
    drawn as grey crosses (their value at the epoch they were stopped)."""
    data = points.dropna(subset=["minutes", "objective"]).sort_values("minutes")
    complete = data[data["state"] == "complete"]
    pruned = data[data["state"] == "pruned"]
    fig = go.Figure()
    if not complete.empty:
        better = np.fmin if objective == "val_loss" else np.fmax
        best = better.accumulate(complete["objective"].to_numpy(dtype=float))
        x = complete["minutes"].to_numpy(dtype=float)
        if data["minutes"].max() > x[-1]:  # the best holds until the last trial ended
            x, best = np.append(x, data["minutes"].max()), np.append(best, best[-1])
        fig.add_scatter(x=x, y=best, mode="lines", line_shape="hv",
                        name="best so far", line=dict(color=class_color(0), width=3),
                        hovertemplate="best so far at %{x:.1f} min: %{y:.4~g}<extra></extra>")  # fmt: skip
        fig.add_scatter(x=complete["minutes"], y=complete["objective"], mode="markers",
                        name="complete trial", customdata=complete["trial"],
                        marker=dict(size=9, color=class_color(1), line=dict(width=1, color="white")),
                        hovertemplate="trial %{customdata}: %{y:.4~g} at %{x:.1f} min<extra></extra>")  # fmt: skip
    if not pruned.empty:
        fig.add_scatter(x=pruned["minutes"], y=pruned["objective"], mode="markers",
                        name="pruned trial", customdata=pruned["trial"],
                        marker=dict(size=9, symbol="x", color=PRUNED_COLOR),
                        hovertemplate="trial %{customdata} (pruned): %{y:.4~g}<extra></extra>")  # fmt: skip
    fig.update_xaxes(title_text="minutes since the study's first run began", rangemode="tozero",
                     tickformat="~g", automargin=True)  # fmt: skip
    fig.update_yaxes(title_text=objective_label(objective), tickformat=_tickformat(objective),
                     automargin=True)  # fmt: skip
    fig.update_layout(height=340, margin=dict(t=20, b=10, l=10, r=10), font=dict(size=MIN_FONT),
                      legend=dict(orientation="h", y=-0.25, yanchor="top"))  # fmt: skip
    return fig


# --------------------------------------------------------------------------- importance


def importance_figure(importances: dict[str, float]) -> go.Figure:
    """Each parameter's share of the objective's variance (fANOVA), largest on top."""
    ordered = sorted(importances.items(), key=lambda kv: kv[1])
    names = [name for name, _ in ordered]
    shares = [float(value) for _, value in ordered]
    fig = go.Figure(go.Bar(
        x=shares, y=names, orientation="h", marker_color=class_color(0),
        text=[f"{s:.0%}" for s in shares], textposition="outside", cliponaxis=False,
        textfont=dict(size=MIN_FONT), hovertemplate="%{y}: %{x:.1%}<extra></extra>",
    ))  # fmt: skip
    fig.update_xaxes(title_text="share of the objective's variance (fANOVA)", tickformat=".0%",
                     range=[0, min(1.0, max(shares, default=1.0) * 1.2) or 1.0])  # fmt: skip
    fig.update_yaxes(automargin=True, tickfont=dict(size=MIN_FONT + 1))
    fig.update_layout(height=120 + 40 * len(names), margin=dict(t=10, b=10, l=10, r=30),
                      font=dict(size=MIN_FONT))  # fmt: skip
    return fig


# --------------------------------------------------------------------------- curves


def curves_figure(curves: pd.DataFrame, *, objective: str, labels: dict[int, str] | None = None,
                  best: int | None = None) -> go.Figure:  # fmt: skip
    """Every run's objective per epoch, a colour per trial, repeats in the same colour.

    ``curves`` has columns ``trial``, ``repeat``, ``epoch``, ``value`` and ``state`` (the
    trial's). Pruned trials are dotted and end in a cross at the epoch they were stopped;
    the ``best`` trial is drawn thicker. ``labels`` names trials in the legend and on hover
    (default "trial N")."""
    labels = labels or {}
    trials = sorted(set(curves["trial"]))
    legend = len(trials) <= MAX_LEGEND
    fig = go.Figure()
    for number in trials:
        part = curves[curves["trial"] == number]
        state = part["state"].iloc[0]
        pruned = state == "pruned"
        color = class_color(int(number))
        name = labels.get(number, f"trial {number}") + (" (pruned)" if pruned else "")
        for index, (repeat, run) in enumerate(part.groupby("repeat", sort=True)):
            run = run.sort_values("epoch")
            fig.add_scatter(
                x=run["epoch"], y=run["value"], mode="lines+markers", name=name,
                legendgroup=str(number), showlegend=legend and index == 0,
                line=dict(color=color, dash="dot" if pruned else "solid",
                          width=4 if number == best else 2),
                marker=dict(size=[4] * (len(run) - 1) + [12 if pruned else 4],
                            symbol=["circle"] * (len(run) - 1) + ["x" if pruned else "circle"]),
                hovertemplate=f"{name} · repeat {repeat}<br>epoch %{{x}}: %{{y:.4~g}}<extra></extra>",
            )  # fmt: skip
    fig.update_xaxes(title_text="epoch", tickformat="d", dtick=1 if _max_epoch(curves) <= 12 else None,
                     automargin=True)  # fmt: skip
    fig.update_yaxes(title_text=objective_label(objective), tickformat=_tickformat(objective),
                     automargin=True)  # fmt: skip
    fig.update_layout(height=380, margin=dict(t=20, b=10, l=10, r=10), font=dict(size=MIN_FONT),
                      legend=dict(orientation="h", y=-0.2, yanchor="top"))  # fmt: skip
    return fig


def _max_epoch(curves: pd.DataFrame) -> int:
    return int(curves["epoch"].max()) if len(curves) else 0


# --------------------------------------------------------------------------- repeats


def repeats_figure(trials: pd.DataFrame, *, params: Sequence[str], objective: str) -> go.Figure:
    """Each complete trial's objective as the mean over its repeats with ± one standard
    deviation as error bars, in trial order. ``trials`` has ``trial``, ``objective``,
    ``sd``, ``repeats`` and the ``params`` columns."""
    data = _complete(trials).sort_values("trial")
    hover = [params_text(row, params) for _, row in data.iterrows()]
    fig = go.Figure(go.Scatter(
        x=[f"trial {n}" for n in data["trial"]], y=data["objective"], mode="markers",
        error_y=dict(type="data", array=data["sd"].fillna(0.0).to_numpy(dtype=float),
                     visible=True, thickness=2, width=8),
        marker=dict(size=10, color=class_color(0)),
        customdata=[[text, int(n), float(sd)] for text, n, sd in
                    zip(hover, data["repeats"], data["sd"].fillna(0.0))],
        hovertemplate="%{x}: %{y:.4~g} ± %{customdata[2]:.2~g} over %{customdata[1]} seeds"
                      "<br>%{customdata[0]}<extra></extra>",
    ))  # fmt: skip
    fig.update_xaxes(type="category", automargin=True)
    fig.update_yaxes(title_text=f"{objective_label(objective)}, mean ± sd",
                     tickformat=_tickformat(objective), automargin=True)  # fmt: skip
    fig.update_layout(height=340, margin=dict(t=20, b=10, l=10, r=10), font=dict(size=MIN_FONT))
    return fig


# --------------------------------------------------------------------------- grid heat map


def grid_heatmap_figure(trials: pd.DataFrame, *, x: str, y: str, objective: str) -> go.Figure:
    """The objective of each (``x``, ``y``) cell of a two-parameter grid (the mean when a
    cell holds several complete trials). A cell without a complete trial stays blank and
    says how its trial stands ("pruned", "running", ...)."""
    data = _complete(trials)
    pivot = data.pivot_table(index=y, columns=x, values="objective", aggfunc="mean")
    pivot = pivot.reindex(index=_sorted(trials[y]), columns=_sorted(trials[x]))
    scale = 100 if _percent(objective) else 1
    z = pivot.to_numpy(dtype=float) * scale
    states = {(_shown(a), _shown(b)): s for a, b, s in zip(trials[x], trials[y], trials["state"])}
    xs, ys = [_shown(c) for c in pivot.columns], [_shown(i) for i in pivot.index]
    text = [[(f"{value:.2f} %" if scale == 100 else f"{value:.4f}") if np.isfinite(value)
             else states.get((cx, cy), "") for cx, value in zip(xs, row)]
            for cy, row in zip(ys, z)]  # fmt: skip
    fig = go.Figure(go.Heatmap(
        z=z, x=xs, y=ys, text=text, texttemplate="%{text}", colorscale="Viridis",
        reversescale=objective == "val_loss", textfont=dict(size=MIN_FONT), xgap=2, ygap=2,
        colorbar=dict(title=dict(text=objective_label(objective), side="right"), thickness=14,
                      ticksuffix=" %" if scale == 100 else None),
        hovertemplate=f"{x} %{{x}} · {y} %{{y}}: %{{text}}<extra></extra>",
    ))  # fmt: skip
    fig.update_xaxes(title_text=x, type="category", automargin=True)
    fig.update_yaxes(title_text=y, type="category", automargin=True)
    fig.update_layout(height=max(260, 90 + 60 * len(ys)), margin=dict(t=10, b=10, l=10, r=10),
                      font=dict(size=MIN_FONT), plot_bgcolor="#F4F4F4")  # fmt: skip
    return fig


def _sorted(values: pd.Series) -> list:
    """A column's distinct values in order (numbers by value, anything else by its text)."""
    unique = list(dict.fromkeys(values))
    return sorted(unique) if _numeric(pd.Series(unique)) else sorted(unique, key=_shown)
