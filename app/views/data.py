"""Data explorer: overview, naming an upload, class balance, a grid of digits with the
chosen digit's pixel values, pixel-wise statistics."""

from __future__ import annotations

import numpy as np
import streamlit as st

from app import data_figures, loaders
from app.inside_links import model_view_link
from app.page_state import keep_value, kept_value, remember, restore
from app.text import plain
from app.sidebar import ActiveDataset, active_dataset
from mnist_core import figures
from mnist_core.data import Dataset, DatasetError, name_upload, stats, upload_info
from mnist_core.data.uploads import MAX_TITLE_LENGTH, parse_class_names

SPLITS = ["train", "test"]


def render(active: ActiveDataset) -> None:
    key, dataset = active
    st.title("Data explorer")
    st.caption(f"{loaders.title_of(key)} · {plain(_origin(key, dataset))}")
    overview(dataset)
    if key.startswith(loaders.UPLOAD_PREFIX):
        upload_names(key, dataset)
    class_balance(dataset)
    digit_grid(dataset, key)
    pixel_statistics(key, dataset)


def _origin(key: str, dataset: Dataset) -> str:
    """Where the dataset came from: an upload's own file names (never its cache folder)."""
    info = upload_info(dataset.source) if key.startswith(loaders.UPLOAD_PREFIX) else None
    if info is None:
        return dataset.source
    return "uploaded " + ", ".join(info.files)


def overview(dataset: Dataset) -> None:
    summary = data_figures.overview(dataset.fingerprint, dataset)
    h, w = dataset.image_shape
    cols = st.columns(5)
    cols[0].metric("Training images", f"{len(dataset.x_train):,}")
    cols[1].metric("Test images", f"{len(dataset.x_test):,}")
    cols[2].metric("Image size", f"{h} × {w} px")
    cols[3].metric("Pixel range", f"{summary['pixel_min']} – {summary['pixel_max']}")
    cols[4].metric("Classes", dataset.n_classes)


def upload_names(key: str, dataset: Dataset) -> None:
    """A form to name an upload and its classes; the names are kept beside the upload."""
    path = loaders.source_of(key)
    info = upload_info(path)
    with st.expander("Name this upload and its classes"):
        with st.form("upload_names", border=False):
            title = st.text_input("Name", value=info.title, max_chars=MAX_TITLE_LENGTH)
            text = st.text_area(
                f"Class names, one per line, for labels 0 to {dataset.n_classes - 1}",
                value="\n".join(dataset.class_names),
                height=min(60 + 24 * dataset.n_classes, 300),
            )
            saved = st.form_submit_button("Save the names")
        if saved:
            try:
                name_upload(
                    path, title=title, class_names=parse_class_names(text),
                    n_classes=dataset.n_classes,
                )  # fmt: skip
            except (DatasetError, OSError) as exc:  # OSError: a full or read-only cache
                st.error(plain(str(exc)), icon=":material/error:")
            else:
                loaders.forget_dataset(key)
                st.rerun()


def class_balance(dataset: Dataset) -> None:
    st.subheader("Class balance")
    st.plotly_chart(data_figures.class_balance(dataset.fingerprint, tuple(dataset.class_names),
                                               dataset), key="class_balance")  # fmt: skip


def digit_grid(dataset: Dataset, key: str) -> None:
    st.subheader("Digits")
    c_split, c_order, c_class, c_size, c_seed = st.columns([1.2, 1.2, 1.4, 2, 1])
    classes = [None, *range(dataset.n_classes)]
    restore("grid_split", "train", options=SPLITS, url="grid")
    restore("grid_order", "first", options=["first", "random"], url="order")
    restore("grid_class", None, options=classes, url="class", parse=int)
    restore("grid_side", 10, options=range(2, 21), url="side", parse=int)
    restore("grid_seed", 0, url="seed", parse=int)
    c_split.segmented_control("Split", SPLITS, required=True, key="grid_split")
    c_order.segmented_control("Order", ["first", "random"], required=True, key="grid_order")
    c_class.selectbox(
        "Class", classes, key="grid_class",
        format_func=lambda c: "all classes" if c is None else dataset.class_names[c],
    )  # fmt: skip
    c_size.slider("Grid size (digits per side)", 2, 20, key="grid_side")
    c_seed.number_input("Seed", min_value=0, step=1, key="grid_seed",
                        disabled=st.session_state["grid_order"] != "random")  # fmt: skip
    split, order = remember("grid_split", url="grid"), remember("grid_order", url="order")
    label, side = remember("grid_class", url="class"), remember("grid_side", url="side")
    seed = remember("grid_seed", url="seed")
    images, labels = dataset.split(split)
    indices = stats.select_digits(labels, side * side, order=order, label=label, seed=seed)
    if len(indices) == 0:
        st.info("This split has no images of that class.")
        return

    # The chart key changes with the grid, so a click on one grid never selects in another.
    chart_key = f"grid-{split}-{order}-{label}-{side}-{seed}"
    position = _clicked_position(chart_key, len(indices))
    if position is None:  # no click on this grid in this visit: the digit kept for it, if any
        kept = kept_value("grid_digit", url="digit", parse=lambda text: (chart_key, int(text)))
        position = kept[1] if (isinstance(kept, tuple) and kept[0] == chart_key
                               and 0 <= kept[1] < len(indices)) else 0  # fmt: skip
    keep_value("grid_digit", (chart_key, position))
    if position:
        st.query_params["digit"] = str(position)
    else:
        st.query_params.pop("digit", None)
    index = int(indices[position])
    name = dataset.class_names[int(labels[index])]
    left, right = st.columns([3, 1], gap="medium")
    with left:
        st.caption("Click a digit to see its pixel values below.")
        fig = data_figures.digit_grid(
            dataset.fingerprint, (split, order, label, side, seed), position, images[indices],
            labels[indices], indices, tuple(dataset.class_names),
        )  # fmt: skip
        st.plotly_chart(
            fig, key=chart_key, on_select="rerun", selection_mode="points",
            width="content", config={"displayModeBar": False},
        )  # fmt: skip
    with right:
        st.image(_picture(images[index]), caption=f"{split} #{index}", width="stretch")
        st.metric("Label", name)
        model_view_link(split, index, dataset=key)
    # Full width: 28 columns of three-digit numbers need ~640 px to be read at 11 px.
    # (Class names never hold "<" or ">", which plotly would read as markup.)
    st.plotly_chart(
        data_figures.pixels(dataset.fingerprint, split, index,
                            f"Pixel values of {split} #{index} · label {name}", images[index]),
        key="digit_pixels", width="content", config={"displayModeBar": False},
    )  # fmt: skip


def _picture(image: np.ndarray) -> np.ndarray:
    """The digit as dark ink on white, scaled up by whole pixels so it stays sharp."""
    scale = max(1, 224 // max(image.shape))  # ~224 px, about the column's width
    return np.kron(255 - image, np.ones((scale, scale), dtype=np.uint8))


def _clicked_position(chart_key: str, n: int) -> int | None:
    """Grid position of the digit last clicked in the chart ``chart_key``; None if none."""
    return figures.digits.clicked_digit(st.session_state.get(chart_key), n=n)


def pixel_statistics(key: str, dataset: Dataset) -> None:
    st.subheader("Pixel-wise statistics per class")
    restore("stats_split", "train", options=SPLITS, url="stats")
    st.segmented_control("Split", SPLITS, required=True, key="stats_split")
    split = remember("stats_split", url="stats")
    pixel_stats, cache_error = loaders.pixel_stats(key, split, dataset.fingerprint)
    st.caption(
        "Each image is one statistic of every pixel over the "
        f"{int(pixel_stats.counts[-1]):,} {split} images of a class (last column: all classes). "
        "Mean and median share a colour scale; the standard deviation has its own."
    )
    if cache_error:
        st.caption(f":material/warning: Computed in memory, not kept: {plain(cache_error)}")
    st.plotly_chart(
        data_figures.pixel_statistics(dataset.fingerprint, split, tuple(dataset.class_names),
                                      pixel_stats),
        key="pixel_stats",
        theme=None,  # the Streamlit theme recolours the second colour axis
    )


if __name__ == "__main__":  # run as a page by st.navigation
    render(active_dataset())
