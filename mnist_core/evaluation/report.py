"""One self-contained HTML report of a run, for meetings: works offline from a double click.

Spec and summary, training curves, confusion matrix, statistics, the 25 most confident
mistakes. Plotly's JavaScript is inlined once; nothing is fetched when the file opens.
"""

from __future__ import annotations

import html
import time
from pathlib import Path

import numpy as np

from mnist_core import evaluation, figures, runs
from mnist_core.models.spec import analyze, format_shape

_STYLE = """
body { font-family: system-ui, -apple-system, Segoe UI, sans-serif; margin: 2rem auto;
       max-width: 1100px; color: #222; }
h1 { margin-bottom: 0.2rem; } h2 { margin-top: 2rem; border-bottom: 1px solid #ddd; }
.meta { color: #666; } table { border-collapse: collapse; margin: 0.5rem 0; }
td, th { border: 1px solid #ddd; padding: 0.25rem 0.6rem; text-align: right; }
th { background: #f4f4f4; } .wide { overflow-x: auto; } td:first-child, th:first-child { text-align: left; }
.headline { display: flex; gap: 2.5rem; flex-wrap: wrap; }
.headline div { font-size: 0.85rem; color: #666; } .headline b { display: block;
  font-size: 1.6rem; color: #222; }
"""


def build_report(directory: Path) -> str:
    """The HTML text of the report of the finished or stopped run in ``directory``."""
    info = runs.read_json(directory / "run.json") or {}
    summary = runs.read_json(directory / "summary.json") or {}
    probabilities, y_true, dataset = evaluation.run_predictions(directory)
    y_pred = probabilities.argmax(axis=1)
    stats = evaluation.classification_stats(y_true, y_pred, class_names=dataset.class_names)
    overall = stats["overall"]
    cm = stats["confusion"]
    worst = evaluation.mistakes(y_true, probabilities).head(25)
    names = dataset.class_names

    events = runs.read_events(directory)
    plots = [
        figures.training.curves_figure(events) if events else None,
        figures.evaluation.confusion_figure(cm, class_names=names,
                                 normalized=evaluation.normalize(cm, "true")),
    ]  # fmt: skip
    if len(worst):
        plots.append(figures.digits.grid_figure(
            dataset.x_test[worst["index"].to_numpy()], worst["true"].to_numpy(),
            worst["index"].to_numpy(), class_names=names, columns=min(len(worst), 5), cell=110,
            captions=[f"{names[t]}→{names[p]} {c:.0%}" for t, p, c in
                      zip(worst["true"], worst["predicted"], worst["confidence"])],
        ))  # fmt: skip
    rendered, inlined = [], False
    for fig in plots:
        if fig is None:
            rendered.append("<p>No training curves (this model has no epochs).</p>")
            continue
        rendered.append(fig.to_html(full_html=False, include_plotlyjs=False if inlined else "inline",
                                    config={"displaylogo": False}))  # fmt: skip
        inlined = True
    model_html = _model_html(directory, info, dataset)
    per_class = stats["per_class"].round(4).to_html(na_rep="NA", border=0)
    title = f"Run {directory.name}: {info.get('name', '?')} on {Path(str(info.get('dataset', '?'))).name}"
    headline = "".join(f"<div>{k}<b>{v}</b></div>" for k, v in [
        ("test accuracy", f"{overall['accuracy']:.2%}"),
        ("95 % CI", f"{overall['accuracy_ci_low']:.2%} – {overall['accuracy_ci_high']:.2%}"),
        ("kappa", f"{overall['kappa']:.4f}"),
        ("mismatches", f"{overall['mismatches']:,} of {overall['n']:,}"),
        ("parameters", f"{summary['params']:,}" if summary.get("params") else "—"),
        ("training time", f"{summary.get('wall_seconds', 0):.0f} s"
         + (f", {summary['epochs_run']} epochs" if summary.get("epochs_run") else "")),
    ])  # fmt: skip
    overall_rows = "".join(f"<tr><td>{k}</td><td>{v:.4g}</td></tr>" for k, v in overall.items())
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>{_STYLE}</style></head><body>
<h1>{html.escape(title)}</h1>
<p class="meta">Status {html.escape(str((runs.read_json(directory / 'status.json') or {}).get('state')))}
 · report made {time.strftime('%Y-%m-%d %H:%M')} · {len(y_true):,} test images</p>
<div class="headline">{headline}</div>
<h2>Model</h2>{model_html}
<h2>Training curves</h2>{rendered[0]}
<h2>Confusion matrix</h2>{rendered[1]}
<h2>Statistics</h2><table><tr><th>overall</th><th>value</th></tr>{overall_rows}</table>
<p>Per class, one-vs-all (caret's confusionMatrix, mode "everything"):</p>
<div class="wide">{per_class}</div>
<h2>The 25 most confident mistakes</h2><p>true→predicted, confidence</p>
{rendered[2] if len(rendered) > 2 else '<p>No mistakes.</p>'}
</body></html>"""


def _model_html(directory: Path, info: dict, dataset) -> str:
    if info.get("kind") == "baseline":
        return (f"<p>Random forest (scikit-learn), {info.get('trees')} trees, fitted on "
                f"{info.get('sample', 0):,} training digits (seed {info.get('seed')}).</p>")
    spec = runs.read_spec(directory)
    analysis = analyze(spec, input_shape=dataset.image_shape, n_classes=dataset.n_classes)
    layers = "".join(
        f"<tr><td>{html.escape(r.name)}</td><td>{format_shape(r.output_shape)}</td>"
        f"<td>{(r.params or 0):,}</td></tr>" for r in analysis.rows
    )  # fmt: skip
    t = spec.train
    training = ", ".join(filter(None, [
        f"{t.optimizer} (learning rate {t.effective_learning_rate:g})",
        f"batch {t.batch_size}", f"{t.epochs} epochs",
        f"validation split {t.validation_split:g}" if t.validation_split else "no validation split",
        "early stopping" if t.early_stopping else "", "reduce LR on plateau" if t.reduce_lr else "",
    ]))  # fmt: skip
    return (f"<p>{html.escape(training)}</p><table><tr><th>layer</th><th>output shape</th>"
            f"<th>parameters</th></tr>{layers}</table>")


def overall_json(directory: Path) -> dict:
    """The overall statistics of a run, for ``python -m mnist_core evaluate``."""
    probabilities, y_true, dataset = evaluation.run_predictions(directory)
    stats = evaluation.classification_stats(y_true, probabilities.argmax(axis=1),
                                            class_names=dataset.class_names)  # fmt: skip
    return {"run_id": directory.name, **{k: (float(v) if isinstance(v, float | np.floating) else v)
                                         for k, v in stats["overall"].items()}}  # fmt: skip
