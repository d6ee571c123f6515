"""Studies without training: parsing and checking a search space, applying a trial's
parameters, the one-click presets, mean ± sd over repeats, and the CLI refusing bad input
in one sentence before anything starts."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from mnist_core.models import PRESETS, analyze, with_train
from mnist_core.studies import (
    STUDY_PRESETS,
    RunResult,
    SearchSpace,
    StudyError,
    TrialRow,
    mean_sd,
    parse_dimension,
    plan_study,
    preset_study,
)
from tests.conftest import ROOT

DIGITS = dict(dataset="digits", fingerprint="f", input_shape=(8, 8), n_classes=10)
FF64 = with_train(PRESETS["ff64"].spec, epochs=2)


@pytest.mark.parametrize("text, values", [
    ("batch_size=16,128,512", (16, 128, 512)),
    ("optimizer=sgd, rmsprop ,adam", ("sgd", "rmsprop", "adam")),
    ("layer 2.l2=0,1e-3", (0.0, 0.001)),
    ("hidden_dense_layers=1,2,3", (1, 2, 3)),
    ("learning_rate=1e-4..1e-1:log:4", (0.0001, 0.001, 0.01, 0.1)),
    ("layer 2.units=32..512:int:3", (32, 272, 512)),
    ("nesterov=true,false", (True, False)),
])  # fmt: skip
def test_lists_and_spaced_ranges(text, values):
    dimension = parse_dimension(text, FF64)
    numeric = all(isinstance(v, float) for v in values)
    assert dimension.values == (pytest.approx(values) if numeric else values)
    assert [type(v) for v in dimension.values] == [type(v) for v in values]


@pytest.mark.parametrize("text, low, high, log, integer", [
    ("learning_rate=1e-4..1e-1:log", 1e-4, 0.1, True, False),
    ("batch_size=32..512", 32, 512, False, True),
    ("layer 2.units=32..512:int:log", 32, 512, True, True),
])  # fmt: skip
def test_ranges(text, low, high, log, integer):
    d = parse_dimension(text, FF64)
    assert (d.low, d.high, d.log, d.integer, d.values) == (low, high, log, integer, None)
    assert parse_dimension(d.text(), FF64) == d


DROPOUT_MLP = PRESETS["dropout_mlp"].spec


@pytest.mark.parametrize("text, base, sentence", [
    ("foo=1", FF64, "Unknown parameter 'foo'; vary one of optimizer, learning_rate, momentum, "
     "nesterov, batch_size, epochs, validation_split, seed, keras_backend, lr_schedule, layer 2.units, "
     "layer 2.activation, layer 2.l2, Dense.units, Dense.activation, Dense.l2, "
     "hidden_dense_layers."),
    ("learning_rate=0..0.1:log", FF64, "A log range must lie above 0; 'learning_rate' got 0..0.1:log."),
    ("learning_rate=-1..0.1:log", FF64, "A log range must lie above 0; 'learning_rate' got -1..0.1:log."),
    ("batch_size=512..32", FF64, "The range 512..32 for 'batch_size' is empty; write LOW..HIGH "
     "with LOW below HIGH."),
    ("batch_size=32..32", FF64, "The range 32..32 for 'batch_size' is empty; write LOW..HIGH "
     "with LOW below HIGH."),
    ("batch_size=0,16", FF64, "'batch_size' must be a whole number from 1 to 65,536; got 0."),
    ("layer 2.units=0..64", FF64, "'layer 2.units' must be a whole number from 1 to 1,000,000; got 0."),
    ("layer 3.rate=0.2,1.5", DROPOUT_MLP, "'layer 3.rate' must be in [0, 1); got 1.5."),
    ("epochs=1.5", FF64, "'epochs' must be a whole number from 1 to 1,000; got 1.5."),
    ("optimizer=sgd,lion", FF64, "'optimizer' must be one of sgd, rmsprop, adam, adamw, adagrad, "
     "adadelta, nadam; got 'lion'."),
    ("optimizer=1..2", FF64, "'optimizer' takes a list of values (such as sgd,rmsprop,adam), not "
     "a range."),
    ("layer 9.units=3", FF64, "'layer 9.units' names layer 9, but the base spec has layers 1 to 2."),
    ("layer 2.rate=0.1", FF64, "Layer 2 (Dense) has no setting 'rate'; it has units, activation, l2."),
    ("Dropout.rate=0.1", FF64, "'Dropout.rate' sets every Dropout layer, and the base spec has none."),
    ("hidden_dense_layers=1,2", PRESETS["logistic"].spec, "hidden_dense_layers repeats the first "
     "Dense layer, and the base spec has none; add a Dense layer or vary something else."),
    ("batch_size=", FF64, "'batch_size' has no values; give a list (a,b,c) or a range (low..high)."),
    ("batch_size", FF64, "'batch_size' does not say what to vary; write PATH=VALUES, as in "
     "batch_size=16,128,512 or learning_rate=1e-4..1e-1:log."),
    ("batch_size=16,,32", FF64, "'batch_size=16,,32' has an empty value; separate values with "
     "single commas."),
    ("learning_rate=1e-4..1e-1:lg", FF64, "Unknown range option 'lg' in "
     "'learning_rate=1e-4..1e-1:lg'; use log, int or a number of points."),
    ("learning_rate=1e-4..1e-1:1", FF64, "A range's number of points must be from 2 to 1,000; "
     "'learning_rate' asks for 1."),
])  # fmt: skip
def test_bad_dimensions_are_one_sentence(text, base, sentence):
    with pytest.raises(StudyError) as caught:
        parse_dimension(text, base)
    assert str(caught.value) == sentence


@pytest.mark.parametrize("vary, options, sentence", [
    (["batch_size=" + ",".join(map(str, range(1, 51))), "epochs=" + ",".join(map(str, range(1, 22)))],
     {"search": "grid"}, "The grid has 1,050 combinations, over the limit of 1,000 trials; vary "
     "fewer settings or give fewer values."),
    (["batch_size=16,32"], {"repeats": 0}, "Repeats must be a whole number from 1 to 20; got 0."),
    (["batch_size=16,32"], {"repeats": -2}, "Repeats must be a whole number from 1 to 20; got -2."),
    (["learning_rate=1e-4..1e-1:log"], {"search": "grid"}, "A grid needs a list of values for "
     "'learning_rate'; give a list, a range with a number of points (1e-4..1e-1:log:4), or search "
     "random or tpe."),
    (["batch_size=16"], {"search": "bayes"}, "The search must be one of grid, random, tpe; got 'bayes'."),
    (["batch_size=16"], {"objective": "loss"}, "The objective must be one of val_accuracy, "
     "val_loss; got 'loss'."),
    (["batch_size=16"], {"trials": 0}, "The trial budget must be a whole number from 1 to 1,000; got 0."),
    (["batch_size=16"], {"time_budget": 0}, "The time budget must be a number of seconds above 0; got 0."),
    (["seed=1,2"], {"repeats": 2}, "Vary the seed or repeat each trial with several seeds, not both."),
    (["batch_size=16", "batch_size=32"], {}, "'batch_size' is varied twice; give it one list or range."),
    ([], {}, "A study needs at least one parameter to vary, as in --vary 'batch_size=16,128,512'."),
    (["layer 2.units=1000000"], {}, "With layer 2.units=1000000: the model has 75,000,010 "
     "parameters, more than the limit of 50,000,000 (MNIST_MAX_PARAMS); use fewer or smaller layers."),
])  # fmt: skip
def test_bad_plans_are_one_sentence(vary, options, sentence):
    with pytest.raises(StudyError) as caught:
        plan_study(FF64, vary, **DIGITS, **options)
    assert str(caught.value) == sentence


def test_a_grid_point_that_cannot_build_is_named():
    with pytest.raises(StudyError) as caught:
        plan_study(PRESETS["small_cnn"].spec, ["layer 1.kernel_size=3,9"], search="grid", **DIGITS)
    assert str(caught.value) == (
        "With layer 1.kernel_size=9: layer 1 (Conv2D 6@9×9 relu): the 9×9 kernel is larger "
        "than its 8×8 input; use a smaller kernel or padding 'same'.")


def test_a_base_without_validation_is_refused():
    with pytest.raises(StudyError, match=r"^A study compares trials on validation data, and the "
                       r"base spec has no validation split; set one \(0\.2, say\)\.$"):
        plan_study(PRESETS["dense512"].spec, ["batch_size=16"], **DIGITS)


def test_applying_params_gives_an_ordinary_spec():
    space = SearchSpace.parse(["layer 2.units=512", "hidden_dense_layers=3", "Dense.l2=0.001",
                               "learning_rate=0.01"], FF64)  # fmt: skip
    spec = space.apply(FF64, {"hidden_dense_layers": 3, "layer 2.units": 512, "Dense.l2": 0.001,
                              "learning_rate": 0.01})  # fmt: skip
    assert [layer.describe() for layer in spec.layers] == ["Flatten"] + ["Dense 512 relu"] * 3
    assert {layer.params["l2"] for layer in spec.layers[1:]} == {0.001}
    assert spec.train.learning_rate == 0.01 and FF64.train.learning_rate is None
    analysis = analyze(spec, input_shape=(8, 8), n_classes=10)
    assert analysis.ok and analysis.total_params == 64 * 512 + 512 + 2 * (512 * 512 + 512) + 5130


def test_hidden_dense_layers_repeats_the_first_dense_block():
    spec = SearchSpace.parse(["hidden_dense_layers=2"], DROPOUT_MLP).apply(
        DROPOUT_MLP, {"hidden_dense_layers": 2})
    assert [layer.describe() for layer in spec.layers] == [
        "Flatten", "Dense 512 relu", "Dropout 0.4", "Dense 512 relu", "Dropout 0.4"]


def test_plan_round_trips_and_seeds_follow_the_base_seed():
    base = with_train(FF64, seed=7)
    plan = plan_study(base, ["batch_size=16,128"], search="grid", repeats=3, **DIGITS)
    assert (plan.trials, plan.seeds, plan.direction) == (2, (7, 8, 9), "maximize")
    assert type(plan).from_json(json.loads(json.dumps(plan.to_json()))) == plan
    assert [plan.trial_spec({"batch_size": 16}, s).train.seed for s in plan.seeds] == [7, 8, 9]
    assert plan.trial_spec({"batch_size": 16}, 8).train.batch_size == 16


@pytest.mark.parametrize("name, base, vary, grid", [
    ("batch_size", "ff64", ("batch_size=16,128,512",), 3),
    ("optimizer", "tuned_mlp", ("optimizer=sgd,rmsprop,adam",), 3),
    ("learning_rate", "ff64", ("learning_rate=1e-4..1e-1:log",), None),
    ("capacity", "small_cnn", ("layer 4.units=128,256,512,1024", "hidden_dense_layers=1,2,3"), 12),
    ("capacity", "logistic", ("layer 2.units=128,256,512,1024", "hidden_dense_layers=1,2,3"), 12),
    ("l2", "ff64", ("Dense.l2=0,1e-4,1e-3,1e-2",), 4),
    ("dropout", "ff64", ("Dropout.rate=0,0.2,0.4,0.5",), 4),
    ("dropout", "dropout_mlp", ("Dropout.rate=0,0.2,0.4,0.5",), 4),
])  # fmt: skip
def test_one_click_studies_plan_on_any_base(name, base, vary, grid):
    preset = preset_study(name, PRESETS[base].spec)
    assert preset.vary == vary and name in STUDY_PRESETS
    plan = plan_study(preset.base, list(preset.vary), search=preset.search, trials=preset.trials,
                      **DIGITS)  # fmt: skip
    assert plan.space.grid_size == grid
    assert plan.trials == (grid or 8)
    if name == "optimizer":  # each optimizer at its own default learning rate
        assert preset.base.train.learning_rate is None and PRESETS[base].spec.train.learning_rate == 0.1
    if name == "dropout" and base == "ff64":
        assert [layer.type for layer in preset.base.layers] == ["Flatten", "Dense", "Dropout"]


def test_an_unknown_study_preset_is_one_sentence():
    with pytest.raises(StudyError, match=r"^Unknown study preset 'width'; use one of batch_size, "
                       r"optimizer, learning_rate, capacity, l2, dropout\.$"):
        preset_study("width", FF64)


def test_mean_and_sd_over_repeats_on_known_numbers():
    assert mean_sd([0.90, 0.92, 0.94]) == (pytest.approx(0.92), pytest.approx(0.02))
    assert mean_sd([2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]) == (5.0, pytest.approx(2.1380899))
    assert mean_sd([0.5]) == (0.5, None)
    assert mean_sd([None, 0.5, None]) == (0.5, None)
    assert mean_sd([]) == (None, None)
    row = TrialRow(3, "complete", {"batch_size": 16}, (
        RunResult("a", "done", best_epoch=2, value=0.90, val_loss=0.4, val_accuracy=0.90, seconds=10.0),
        RunResult("b", "done", best_epoch=5, value=0.92, val_loss=0.3, val_accuracy=0.92, seconds=12.0),
        RunResult("c", "done", best_epoch=4, value=0.94, val_loss=0.2, val_accuracy=0.94, seconds=14.0),
    ), seeds=(0, 1, 2))  # fmt: skip
    assert (row.value, row.sd) == (pytest.approx(0.92), pytest.approx(0.02))
    assert (row.val_loss, row.best_epoch, row.seconds, row.run_ids) == (
        pytest.approx(0.3), 4, 12.0, ["a", "b", "c"])


def _cli(*args: str, env_cache) -> subprocess.CompletedProcess:
    import os

    return subprocess.run([sys.executable, "-m", "mnist_core", *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=120,
                          env={**os.environ, "MNIST_CACHE_DIR": str(env_cache),
                               "MNIST_RAY_ADDRESS": ""})  # fmt: skip


@pytest.mark.parametrize("args, sentence", [
    (["--vary", "foo=1"], "Unknown parameter 'foo'; vary one of optimizer, learning_rate, "
     "momentum, nesterov, batch_size, epochs, validation_split, seed, keras_backend, "
     "lr_schedule, layer 2.units, layer 2.activation, layer 2.l2, Dense.units, Dense.activation, Dense.l2, "
     "hidden_dense_layers."),
    (["--vary", "learning_rate=0..1e-1:log"], "A log range must lie above 0; 'learning_rate' got "
     "0..1e-1:log."),
    (["--vary", "batch_size=64..16"], "The range 64..16 for 'batch_size' is empty; write "
     "LOW..HIGH with LOW below HIGH."),
    (["--vary", "batch_size=1..40", "--vary", "epochs=1..30", "--search", "grid"],
     "A grid needs a list of values for 'batch_size'; give a list, a range with a number of "
     "points (1e-4..1e-1:log:4), or search random or tpe."),
    (["--vary", "batch_size=1..40:40", "--vary", "epochs=1..30:30", "--search", "grid"],
     "The grid has 1,200 combinations, over the limit of 1,000 trials; vary fewer settings or "
     "give fewer values."),
    (["--vary", "batch_size=16", "--repeats", "0"], "Repeats must be a whole number from 1 to 20; got 0."),
    (["--vary", "batch_size=16", "--backend", "ray"], "The ray backend needs the cluster's "
     "HOST:PORT: pass --address or set MNIST_RAY_ADDRESS."),
    (["--tune", "width"], "Unknown study preset 'width'; use one of batch_size, optimizer, "
     "learning_rate, capacity, l2, dropout."),
])  # fmt: skip
def test_cli_refuses_bad_input_before_anything_starts(args, sentence, cache_dir):
    result = _cli("study", "--preset", "ff64", "--dataset", "digits", *args, env_cache=cache_dir)
    assert (result.returncode, result.stdout, result.stderr.strip()) == (2, "", sentence)
    assert not (cache_dir / "studies").exists() and not (cache_dir / "runs").exists()


def test_cli_study_stop_of_an_unknown_study(cache_dir):
    result = _cli("study-stop", "20200101-000000-abcdef", env_cache=cache_dir)
    assert result.returncode == 2
    assert result.stderr.strip() == (f"There is no study 20200101-000000-abcdef in "
                                     f"{cache_dir / 'studies'}.")  # fmt: skip


@pytest.mark.parametrize("search, prune, sampler, pruner", [
    ("grid", False, "AskTellGridSampler", "NopPruner"),
    ("random", "median", "RandomSampler", "MedianPruner"),
    ("tpe", "hyperband", "TPESampler", "HyperbandPruner"),
])  # fmt: skip
def test_samplers_and_pruners(search, prune, sampler, pruner):
    from mnist_core.studies import optuna_study

    plan = plan_study(FF64, ["batch_size=16,32", "epochs=2,7"], search=search, prune=prune,
                      prune_startup=2, prune_warmup=1, **DIGITS)  # fmt: skip
    assert type(optuna_study.make_sampler(plan)).__name__ == sampler
    made = optuna_study.make_pruner(plan)
    assert type(made).__name__ == pruner
    if pruner == "MedianPruner":
        assert (made._n_startup_trials, made._n_warmup_steps) == (2, 1)
    if pruner == "HyperbandPruner":
        assert (made._min_resource, made._max_resource) == (1, 7)


def test_a_new_study_folder_reads_back_with_its_journal(cache_dir):
    from optuna.trial import TrialState

    from mnist_core.studies import create_study, list_studies, open_study, optuna_study

    plan = plan_study(FF64, ["batch_size=16,32", "learning_rate=0.001,0.01"], search="grid",
                      **DIGITS)  # fmt: skip
    record = create_study(plan)
    assert record.directory == cache_dir / "studies" / record.study_id
    assert (record.state, record.trials, record.counts(), record.best) == ("new", [], {}, None)
    assert open_study(record.study_id).plan == plan
    assert [r.study_id for r in list_studies()] == [record.study_id]
    # Ask for the whole grid and tell every point, as the driver does: the grid sampler's
    # study.stop() (only allowed inside optimize) must not get in the way.
    study = optuna_study.load(record.directory, plan, record.study_id)
    trials = [study.ask(plan.space.distributions()) for _ in range(4)]
    assert sorted((t.params["batch_size"], t.params["learning_rate"]) for t in trials) == [
        (16, 0.001), (16, 0.01), (32, 0.001), (32, 0.01)]
    for value, trial in enumerate(trials):
        trial.set_user_attr("results", [{"run_id": f"r{value}", "state": "done", "value": value / 10,
                                         "val_accuracy": value / 10}])
        trial.set_user_attr("ended", "complete")
        study.tell(trial, value / 10)
    record = record.refresh()
    assert record.counts() == {"complete": 4}
    assert (record.best.number, record.best.value, record.best.run_ids) == (3, 0.3, ["r3"])
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 4


@pytest.mark.parametrize("study_id", ["../runs", "", ".hidden", "a/b"])
def test_bad_study_ids_are_one_sentence(study_id):
    from mnist_core.studies import open_study

    with pytest.raises(StudyError, match=r"^.* is not a study id \(study ids look like "
                       r"20261121-101500-ab12cd\)\.$"):
        open_study(study_id)
