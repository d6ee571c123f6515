"""A read-only cache folder on the Embeddings and Evaluation pages (issue 9, item 15): what
is there is still shown; what would need writing is one sentence naming the folder; no
traceback."""

from __future__ import annotations

from tests.helpers import as_shown
from tests.test_app import _app, _metrics, _wait_for_jobs


def test_embeddings_page_in_a_read_only_cache_says_so_in_one_sentence(cache_dir, read_only):
    read_only(cache_dir / "embeddings")
    at = _app("digits").run()
    at.switch_page("views/embeddings.py").run()
    assert not at.exception
    errors = [as_shown(e.value) for e in at.error]
    assert len(errors) == 1, errors
    assert str(cache_dir / "embeddings") in errors[0] and "read-only" in errors[0]
    at.run()  # a rerun keeps saying so, and still no traceback
    assert not at.exception and len(at.error) == 1


def test_a_computed_embedding_is_still_shown_when_the_cache_turns_read_only(cache_dir, read_only):
    at = _app("digits").run()
    at.switch_page("views/embeddings.py").run()
    _wait_for_jobs(cache_dir)
    at.run()
    before = _metrics(at)
    read_only(cache_dir / "embeddings")
    at = _app("digits").run()  # a new session: read from the disk, not from memory
    at.switch_page("views/embeddings.py").run()
    assert not at.exception and not at.error
    assert _metrics(at)["k-NN accuracy in PC1–PC2"] == before["k-NN accuracy in PC1–PC2"]


def test_evaluation_page_in_a_read_only_cache_shows_the_run(finished_run, cache_dir, read_only):
    read_only(cache_dir / "runs")
    at = _app("digits")
    at.query_params["run"] = finished_run.name
    at.run()
    at.switch_page("views/evaluate.py").run()
    assert not at.exception and not at.error
    assert any("accuracy" in m.label.lower() for m in at.metric)
