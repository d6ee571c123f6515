"""One self-contained HTML report of a run's evaluation, for meetings: it opens offline
from a double click, reads on a projector 1,280 px wide and prints on A4 or letter.

:func:`build_report` draws a :class:`~mnist_core.evaluation.RunEvaluation` (the numbers the
page and the CLI show, from the same object); :func:`save_report` writes it so that a
failure never leaves a partial file. Plotly's JavaScript is inlined once; nothing is fetched
when the file opens. Every user string (run, model, layer and class names) is HTML-escaped.
"""

from __future__ import annotations

import html
import os
import tempfile
import time
from pathlib import Path

import pandas as pd

from mnist_core.diskcache import StorageError, storage_error
from mnist_core.evaluation import tables
from mnist_core.evaluation.run_evaluation import RunEvaluation
from mnist_core.evaluation.statistics import normalize

__all__ = [
    "MISTAKES_SHOWN", "PRINT_WIDTH", "build_report", "check_destination", "report_title",
    "save_report",
]  # fmt: skip

MISTAKES_SHOWN = 25
# CSS pixels across an A4 page inside 12 mm margins (186 mm at 96 px per inch: 703), the
# narrower of A4 and letter, less a little slack: wider figures are zoomed to it in print.
PRINT_WIDTH = 690
CURVES_WIDTH = 900

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto;
       max-width: 1100px; padding: 0 1.5rem; color: #222; font-size: 16px; }
h1 { margin-bottom: 0.2rem; font-size: 1.7rem; overflow-wrap: anywhere; }
h2 { margin-top: 2rem; border-bottom: 1px solid #ddd; }
.meta { color: #555; }
table { border-collapse: collapse; margin: 0.5rem 0; font-variant-numeric: tabular-nums; }
td, th { border: 1px solid #ddd; padding: 0.25rem 0.6rem; text-align: right; }
th { background: #f4f4f4; font-weight: 600; }
td:first-child, th:first-child { text-align: left; }
.wide, .figure { overflow-x: auto; max-width: 100%; }
.headline { display: flex; gap: 1rem 2.5rem; flex-wrap: wrap; }
.headline div { font-size: 0.85rem; color: #555; }
.headline b { display: block; font-size: 1.6rem; color: #222; }
@page { margin: 12mm; }
@media print {
  body { margin: 0; padding: 0; max-width: none; font-size: 10pt; }
  h1 { font-size: 16pt; } h2 { font-size: 13pt; margin-top: 1.2rem; }
  h2, h3 { break-after: avoid; }
  table, .figure, .headline { break-inside: avoid; }
  .wide, .figure { overflow: visible; }
  table { font-size: 8.5pt; } td, th { padding: 0.1rem 0.35rem; } th { white-space: nowrap; }
  .headline b { font-size: 14pt; }
  .modebar-container { display: none; }
}
"""


def report_title(ev: RunEvaluation) -> str:
    return f"Run {ev.run.run_id}: {ev.run.name} on {ev.run.dataset_name}"


def build_report(ev: RunEvaluation) -> str:
    """The HTML text of the report of ``ev``: model, headline, training curves, confusion
    matrix, caret's statistics, the most confident mistakes."""
    from mnist_core import figures

    run, summary, names = ev.run, ev.run.summary, ev.class_names
    overall = ev.overall
    cm = ev.confusion
    plots: list = [None, None, None]
    if ev.curves:
        plots[0] = figures.training.curves_figure(list(ev.curves))
        plots[0].update_layout(width=CURVES_WIDTH)
    plots[1] = figures.evaluation.confusion_figure(
        cm, class_names=names, normalized=normalize(cm, "true"),
        normalization_label="of the true class",
    )  # fmt: skip
    worst = ev.mistakes.head(MISTAKES_SHOWN)
    if len(worst):
        rows = worst["index"].to_numpy()
        plots[2] = figures.digits.grid_figure(
            ev.dataset.x_test[rows], worst["true"].to_numpy(), rows, class_names=names,
            columns=min(len(worst), 5), cell=120,
            captions=[tables.mistake_caption(names, t, p, c) for t, p, c in
                      zip(worst["true"], worst["predicted"], worst["confidence"])],
        )  # fmt: skip
    rendered, print_rules, inlined = [], [], False
    for number, fig in enumerate(plots):
        if fig is None:
            rendered.append("")
            continue
        div_id = f"figure-{number}"
        width = fig.layout.width
        if width and width > PRINT_WIDTH:
            print_rules.append(f"#{div_id} {{ zoom: {PRINT_WIDTH / width:.3f}; }}")
        body = fig.to_html(full_html=False, include_plotlyjs=False if inlined else "inline",
                           config={"displaylogo": False, "displayModeBar": False})  # fmt: skip
        rendered.append(f'<div class="figure" id="{div_id}">{body}</div>')
        inlined = True

    title = report_title(ev)
    headline = "".join(f"<div>{html.escape(k)}<b>{html.escape(v)}</b></div>" for k, v in [
        ("Test accuracy", f"{overall['accuracy']:.2%}"),
        ("95% CI", f"{overall['accuracy_ci_low']:.2%} – {overall['accuracy_ci_high']:.2%}"),
        ("Kappa", tables.format_ratio(overall["kappa"])),
        ("Mismatches", (f"{tables.format_count(overall['mismatches'])} of "
                        f"{tables.format_count(overall['n'])}")),
        ("Parameters", tables.format_count(summary.params if summary else None)),
        ("Training time", _training_time(ev)),
    ])  # fmt: skip
    curves = rendered[0] or "<p>No training curves (this model has no epochs).</p>"
    mistakes = rendered[2] or "<p>No mistakes.</p>"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>{_STYLE}
@media print {{ {' '.join(print_rules)} }}</style></head><body>
<h1>{html.escape(title)}</h1>
<p class="meta">{html.escape(run.state.capitalize())}, {html.escape(ev.weights)}
 · report made {time.strftime('%Y-%m-%d %H:%M')} · {len(ev.y_true):,} test images</p>
<div class="headline">{headline}</div>
<h2>Model</h2>{_model_html(ev)}
<h2>Training curves</h2>{curves}
<h2>Confusion matrix</h2>
<p>Rows are the true classes, columns the predictions; each cell shows its count and its
share of the true class.</p>{rendered[1]}
<h2>Statistics</h2>
<p>caret's <code>confusionMatrix(mode = "everything")</code>: overall, then one class
against all others. NA where a ratio is 0/0.</p>
{_table_html(tables.overall_table(ev.stats), corner="Overall")}
<div class="wide">{_table_html(tables.per_class_table(ev.stats), corner="Class")}</div>
<h2>The {min(MISTAKES_SHOWN, len(ev.mistakes))} most confident mistakes</h2>
<p>Each digit reads true→predicted and the model's confidence in its prediction.</p>
{mistakes}
</body></html>"""


def _table_html(frame: pd.DataFrame, *, corner: str) -> str:
    """A table of text, every cell escaped."""
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in [corner, *frame.columns])
    body = "".join(
        "<tr><th>" + html.escape(str(label)) + "</th>"
        + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>"
        for label, row in zip(frame.index, frame.to_numpy())
    )  # fmt: skip
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _training_time(ev: RunEvaluation) -> str:
    summary = ev.run.summary
    if summary is None or summary.wall_seconds is None:
        return tables.NA
    epochs = f", {summary.epochs_run} epochs" if summary.epochs_run else ""
    return f"{summary.wall_seconds:,.0f} s{epochs}"


def _model_html(ev: RunEvaluation) -> str:
    run = ev.run
    if run.kind == "baseline" or run.spec is None:
        b = run.baseline
        if b is None:
            return "<p>No model description is stored with this run.</p>"
        return (f"<p>Random forest (scikit-learn), {b.trees:,} trees, fitted on "
                f"{b.sample:,} training images (seed {b.seed}).</p>")  # fmt: skip
    from mnist_core.models import analyze, format_shape

    spec = run.spec
    analysis = analyze(spec, input_shape=ev.dataset.image_shape, n_classes=ev.dataset.n_classes)
    layers = "".join(
        f"<tr><td>{html.escape(r.name)}</td><td>{html.escape(format_shape(r.output_shape))}</td>"
        f"<td>{tables.format_count(r.params)}</td></tr>" for r in analysis.rows
    )  # fmt: skip
    t = spec.train
    training = ", ".join(filter(None, [
        f"{t.optimizer} (learning rate {t.effective_learning_rate:g}"
        f"{', cosine to 0' if t.lr_schedule == 'cosine' else ''})",
        f"batch {t.batch_size}", f"{t.epochs} epochs",
        f"validation split {t.validation_split:g}" if t.validation_split else "no validation split",
        "early stopping" if t.early_stopping else "", "reduce LR on plateau" if t.reduce_lr else "",
    ]))  # fmt: skip
    return (f"<p>{html.escape(training)}</p><table><thead><tr><th>Layer</th><th>Output shape</th>"
            f"<th>Parameters</th></tr></thead><tbody>{layers}</tbody></table>")


def check_destination(path: str | os.PathLike) -> Path:
    """``path`` as a Path, if a report can be written there (before building it);
    ValueError (one sentence) when ``path`` is a folder or its folder does not exist."""
    target = Path(path)
    if target.is_dir():
        raise ValueError(
            f"{target} is a folder; pass a file name for the report, such as "
            f"{target / 'report.html'}."
        )
    folder = target.parent
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"{folder} is a file, not a folder; write the report into a folder.")
    if not folder.is_dir():
        raise ValueError(f"The folder {folder} does not exist; create it or write the report elsewhere.")
    return target


def save_report(text: str, path: str | os.PathLike) -> Path:
    """Write the report ``text`` to ``path``; the path written.

    A regular file is written beside its target and renamed over it, so a full disk or a
    killed process never leaves a partial or empty report (nor spoils an older one). A
    device (``/dev/stdout``, ``/dev/full``) is written directly.

    Raises:
        ValueError: (one sentence) when ``path`` is a folder or its folder does not exist.
        StorageError: (one sentence naming the folder and the cause) when writing fails.
    """
    target = check_destination(path)
    folder = target.parent
    data = text.encode("utf-8")
    if target.exists() and not target.is_file():
        try:
            with open(target, "wb") as f:
                f.write(data)
        except OSError as exc:
            raise StorageError(exc.errno, f"The report could not be written to {target} "
                               f"({exc.strerror or exc}).") from None  # fmt: skip
        return target
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{target.name}-", suffix=".partial")
    except OSError as exc:
        raise storage_error(exc, target) from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise storage_error(exc, target) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target
