"""Take the model away: the run as a standalone Python (Keras 3) or R (keras3) script, and
predictions for a Kaggle ``test.csv`` as a ``submission.csv``."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import streamlit as st

from app.text import plain
from mnist_core import inside, runs
from mnist_core.inside import code_export

CSV_RESULT = "inside:submission"  # the app's own key: the last upload's predictions


@st.cache_data(show_spinner=False, max_entries=32)
def _script(run_id: str, stamp: str, lang: str) -> str:
    """A run's script (``stamp``: the run's own, so a changed run is written again)."""
    record = runs.open_run(run_id)
    return code_export.python_script(record) if lang == "python" else code_export.r_script(record)


LANGUAGES = {"python": ("Copy as Python (Keras 3)", "py"), "r": ("Copy as R (keras3)", "R")}


def code_section(record: runs.RunRecord) -> None:
    st.subheader("Take it away")
    st.caption("A standalone script that trains this run's model again: the same data, split, "
               "layers, optimizer, callbacks and seed. Show it to copy it (the button at the "
               "code's top right), or download it.")  # fmt: skip
    scripts = {}
    for lang in LANGUAGES:
        try:
            scripts[lang] = _script(record.run_id, str(record.stamp), lang)
        except (code_export.ExportError, ValueError, OSError) as exc:
            st.caption(plain(exc))
            return
    # Shown on request: two long highlighted scripts would weigh on every rerun of the page.
    left, right = st.columns([3, 2], vertical_alignment="bottom")
    shown = left.segmented_control("Show the script", list(LANGUAGES), key="inside_code_lang",
                                   format_func=lambda lang: LANGUAGES[lang][0])  # fmt: skip
    with right:
        for lang, (_, suffix) in LANGUAGES.items():
            st.download_button(f"Download {record.run_id}.{suffix}", scripts[lang],
                               file_name=f"{record.run_id}.{suffix}", mime="text/plain",
                               icon=":material/download:", key=f"inside-code-{lang}")  # fmt: skip
    if shown is not None:
        st.code(scripts[shown], language=shown, height=420)


def kaggle_section(record: runs.RunRecord, model: inside.InsideModel) -> None:
    h, w = model.image_shape
    st.markdown("**Predict a Kaggle test.csv**")
    st.caption(f"A CSV with a header pixel0,…,pixel{h * w - 1} and one {h}×{w} digit a row "
               "(Kaggle's digit-recognizer test.csv); you get submission.csv (ImageId,Label) to "
               "download.")  # fmt: skip
    upload = st.file_uploader("test.csv", type=["csv"], key="inside_csv")
    if upload is None:
        st.session_state.pop(CSV_RESULT, None)
        return
    key = (record.run_id, upload.file_id)
    kept = st.session_state.get(CSV_RESULT)
    if kept is None or kept[0] != key:
        kept = (key, _predict(model, upload))
        st.session_state[CSV_RESULT] = kept
    result = kept[1]
    if isinstance(result, str):
        st.error(plain(result), icon=":material/error:")
        return
    data, frame, seconds = result
    counts = frame["Label"].value_counts().sort_index()
    names = model.class_names
    took = f"{seconds:.1f} s" if seconds >= 1 else f"{seconds * 1000:.0f} ms"
    st.text(f"{len(frame):,} digits predicted in {took}. Most common: "
            + ", ".join(f"{names[int(c)]} ({int(n):,})" for c, n in counts.nlargest(3).items()))
    st.download_button("Download submission.csv", data, file_name="submission.csv",
                       mime="text/csv", icon=":material/download:", key="inside-submission")  # fmt: skip
    st.dataframe(frame.head(5), hide_index=True, width=240)


def _predict(model: inside.InsideModel, upload):
    """(submission bytes, frame, seconds), or the sentence saying why not."""
    started = time.perf_counter()
    name = Path(upload.name).name or "test.csv"
    try:
        with tempfile.TemporaryDirectory(prefix="mnist-kaggle-") as folder:
            path = Path(folder) / name
            path.write_bytes(upload.getbuffer())
            frame = inside.predict_csv(model, path)
    except inside.InsideError as exc:
        return str(exc)
    except OSError as exc:
        return f"{name}: cannot be read here ({exc.strerror or exc})."
    return inside.submission_csv(frame), frame, time.perf_counter() - started
