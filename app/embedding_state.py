"""The Embeddings page's own state: its choices (method, split, UMAP parameters, PCA axes,
the selection, the gallery's filter and page, the enlarged digit) kept in
``st.session_state[PAGE_STATE]``, so they survive a visit to another page (Streamlit drops
a widget's own state when its page is not drawn), and mirrored in the URL
(``?method=&split=&pcx=&pcy=&nn=&md=&metric=&pcadims=&seed=&sel=``), so a link reopens
the same view."""

from __future__ import annotations

import streamlit as st

from app.text import plain
from mnist_core import embeddings, figures
from mnist_core.data import Dataset

PAGE_STATE = "embeddings_page"
URL_KEYS = ("method", "split", "pcx", "pcy", "nn", "md", "metric", "pcadims", "seed", "par",
            "sel")  # fmt: skip
_UMAP_ARGS = (("nn", "n_neighbors"), ("md", "min_dist"), ("metric", "metric"),
              ("pcadims", "pca_dims"), ("seed", "seed"), ("par", "parallel"))  # fmt: skip


def page_state(key: str, dataset: Dataset) -> dict:
    """This session's choices on the page; a new session starts from the URL."""
    if PAGE_STATE not in st.session_state:
        st.session_state[PAGE_STATE] = _state_from_url(key, dataset)
    return st.session_state[PAGE_STATE]


def _state_from_url(key: str, dataset: Dataset) -> dict:
    url = st.query_params
    state = {"method": "pca", "split": "train", "axes": (0, 1), "selection": None,
             "umap": dict(embeddings.DEFAULT_PARAMS["umap"]), "gallery_label": "all",
             "gallery_page": 1, "enlarged": None}  # fmt: skip
    problems = []
    method, split = url.get("method", "pca"), url.get("split", "train")
    if method in embeddings.METHODS:
        state["method"] = method
    else:
        problems.append(f"the method {method!r} is not one of {', '.join(embeddings.METHODS)}")
    if split in embeddings.EMBED_SPLITS:
        state["split"] = split
    else:
        problems.append(f"the split {split!r} is not one of {', '.join(embeddings.EMBED_SPLITS)}")
    try:
        axes = (int(url.get("pcx", 1)) - 1, int(url.get("pcy", 2)) - 1)
        if min(axes) < 0 or max(axes) >= embeddings.MAX_PCA_COMPONENTS or axes[0] == axes[1]:
            raise ValueError
        state["axes"] = axes
    except ValueError:
        problems.append("pcx and pcy must be two different components in 1..50")
    given = {name: url[arg] for arg, name in _UMAP_ARGS if arg in url}
    try:
        state["umap"] = embeddings.normalized_params("umap", _typed_umap(given))
    except ValueError as exc:
        problems.append(f"UMAP parameters are refused ({str(exc).rstrip('.')})")
    if "sel" in url:
        try:
            shapes = figures.embeddings.shapes_from_text(url["sel"])
            params = {} if state["method"] == "pca" else state["umap"]
            request = embeddings.EmbeddingRequest(key, dataset.fingerprint, state["method"],
                                                  state["split"], params)  # fmt: skip
            state["selection"] = {"request": request.key, "axes": state["axes"],
                                  "shapes": shapes, "rows": None}  # fmt: skip
        except ValueError as exc:
            problems.append(str(exc).rstrip("."))
    if problems:
        st.toast(plain(f"Parts of the link were not understood ({'; '.join(problems)}); "
                       "the defaults are shown instead."))
    return state


def _typed_umap(given: dict[str, str]) -> dict:
    typed = {}
    for name, text in given.items():
        try:
            if name in ("n_neighbors", "seed"):
                typed[name] = int(text)
            elif name == "min_dist":
                typed[name] = float(text)
            elif name == "parallel":
                if text not in ("0", "1"):
                    raise ValueError
                typed[name] = text == "1"
            elif name == "pca_dims":
                typed[name] = None if text in ("", "none", "None") else int(text)
            else:
                typed[name] = text
        except ValueError:
            raise ValueError(f"UMAP {name} {text!r} is not a number.") from None
    return typed


def write_url(state: dict, request: embeddings.EmbeddingRequest) -> None:
    """Mirror the page's choices in the URL, writing only what changed."""
    wanted = {"method": request.method, "split": request.split}
    if request.method == "pca":
        wanted.update(pcx=state["axes"][0] + 1, pcy=state["axes"][1] + 1)
    else:
        p = request.params
        wanted.update(nn=p["n_neighbors"], md=p["min_dist"], metric=p["metric"],
                      pcadims=p["pca_dims"] or "none", seed=p["seed"])  # fmt: skip
        if p.get("parallel"):
            wanted["par"] = 1
    selection = selection_for(state, request)
    if selection and selection["shapes"]:
        wanted["sel"] = figures.embeddings.shapes_to_text(selection["shapes"])
    for name in URL_KEYS:
        if name not in wanted and name in st.query_params:
            del st.query_params[name]
    for name, value in wanted.items():
        if st.query_params.get(name) != str(value):
            st.query_params[name] = str(value)


def bind(widget_key: str, value) -> None:
    """Give a widget the page's value when it is drawn again after a page switch."""
    if widget_key not in st.session_state:
        st.session_state[widget_key] = value


def selection_for(state: dict, request: embeddings.EmbeddingRequest) -> dict | None:
    selection = state.get("selection")
    return selection if selection and selection["request"] == request.key else None

