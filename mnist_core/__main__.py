"""Command line: ``python -m mnist_core COMMAND ...``.

Commands print JSON on stdout. A bad input prints one sentence on stderr and exits 2.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import time
from pathlib import Path

from mnist_core import paths
from mnist_core.data import NAMED_DATASETS, DatasetError, fetch, load_dataset
from mnist_core.diskcache import storage_error, storage_error_in_message

EXIT_BAD_INPUT = 2


def _cmd_load(args: argparse.Namespace) -> dict:
    dataset = load_dataset(args.dataset, test_size=args.test_size, seed=args.seed)
    return dataset.summary()


def _cmd_fetch(args: argparse.Namespace) -> dict:
    # A stalled connection should fail, not hang the app that waits for this process.
    socket.setdefaulttimeout(60)
    files = fetch(args.name, base_url=args.base_url)
    return {"name": args.name, "files": [str(p) for p in files]}


def _backend(args: argparse.Namespace):
    """The executor ``--backend``/``--address`` name (default ``$MNIST_EXECUTOR`` and
    ``$MNIST_RAY_ADDRESS``), reached now: a cluster that cannot be reached is one sentence
    (exit 2) before anything is made."""
    from mnist_core.runs.executor import get_executor

    executor = get_executor(args.backend, args.address)
    executor.check()
    return executor


def _cmd_embed(args: argparse.Namespace) -> dict:
    from mnist_core import embeddings

    start = time.perf_counter()
    executor = _backend(args)
    dataset = load_dataset(args.dataset)
    if args.method == "pca":
        params = {"n_components": args.n_components, "seed": args.seed}
    else:
        params = {
            "n_neighbors": args.n_neighbors, "min_dist": args.min_dist, "metric": args.metric,
            "pca_dims": None if args.no_pca else 50, "seed": args.seed,
            "parallel": args.parallel,
        }  # fmt: skip
    request = embeddings.EmbeddingRequest(
        args.dataset, dataset.fingerprint, args.method, args.split, params
    )
    if executor.name == "local":  # computed here, in this process
        result, cached = embeddings.compute_cached(
            request, dataset, on_stage=lambda stage: print(stage, file=sys.stderr, flush=True)
        )
    else:  # a job on the cluster, followed until it ends
        result, cached = _embed_as_job(request, executor)
    return {
        "method": args.method,
        "split": args.split,
        "n_points": int(len(result.coords)),
        "seconds": round(time.perf_counter() - start, 3),
        "compute_seconds": round(result.seconds, 3),
        "knn_accuracy": result.quality["knn_accuracy"],
        "knn_accuracy_pixels": result.quality["knn_accuracy_pixels"],
        "silhouette": result.quality["silhouette"],
        "cache_path": str(request.directory),
        "cached": cached,
    }


def _embed_as_job(request, executor):
    """Compute ``request`` as a background job through ``executor``; (result, cached)."""
    import os

    from mnist_core import embeddings
    from mnist_core.runs import jobs
    from mnist_core.runs.executor import EXECUTOR_ENV, RAY_ADDRESS_ENV

    cached = embeddings.load_cached(request)
    if cached is not None:
        return cached, True
    # embeddings.submit starts its job through this process's executor settings.
    os.environ[EXECUTOR_ENV] = executor.name
    if executor.address:
        os.environ[RAY_ADDRESS_ENV] = executor.address
    embeddings.submit(request, retry=True)
    stage = None
    while (status := jobs.read_status(request.directory)).active:
        if status.stage != stage:
            print(status.stage, file=sys.stderr, flush=True)
            stage = status.stage
        time.sleep(0.5)
    result = embeddings.load_cached(request)
    if result is None:
        raise ValueError(status.error or f"The embedding job ended {status.state}.")
    return result, False


def _cmd_presets(args: argparse.Namespace) -> list:
    from mnist_core.models import PRESETS

    return [{"name": p.name, "title": p.title, "params": p.params_mnist} for p in PRESETS.values()]


def _spec_from_args(args: argparse.Namespace):
    """The ModelSpec of ``--spec FILE`` or ``--preset NAME``, with ``--epochs`` applied."""
    from mnist_core.models import PRESETS, ModelSpec, SpecError, with_train

    if args.spec:
        try:
            spec = ModelSpec.from_json(json.loads(Path(args.spec).read_text()))
        except OSError as exc:
            raise SpecError(f"{args.spec}: cannot be read ({exc.strerror}).") from None
        except ValueError as exc:  # SpecError, or JSON that does not parse
            raise SpecError(f"{Path(args.spec).name}: {exc}") from None
    elif args.preset in PRESETS:
        spec = PRESETS[args.preset].spec
    else:
        raise SpecError(f"Unknown preset {args.preset!r}; use one of {', '.join(PRESETS)}.")
    if getattr(args, "epochs", None) is not None:
        spec = with_train(spec, epochs=args.epochs)
    if getattr(args, "keras_backend", None) is not None:  # checked with the spec's settings
        spec = with_train(spec, keras_backend=args.keras_backend)
    return spec


def _cmd_train(args: argparse.Namespace) -> dict:
    from mnist_core import runs
    from mnist_core.runs.backend import backend_label, used_backend

    spec = _spec_from_args(args)
    executor = _backend(args)
    dataset = load_dataset(args.dataset)
    record = runs.create_run(spec, dataset=args.dataset, fingerprint=dataset.fingerprint,
                             input_shape=dataset.image_shape, n_classes=dataset.n_classes)
    start = time.perf_counter()
    runs.start(record, executor=executor.name, address=executor.address)
    where = f" on the Ray cluster at {executor.address}" if executor.name == "ray" else ""
    print(f"run {record.run_id}: {spec.name} on {args.dataset}{where}", file=sys.stderr,
          flush=True)  # fmt: skip
    stage, seen = None, 0

    def report(text: str) -> None:
        print(f"[{time.perf_counter() - start:7.1f} s] {text}", file=sys.stderr, flush=True)

    try:
        while True:
            status = runs.read_status(record.directory)
            events = record.events()
            for event in events[seen:]:
                if event["type"] == "epoch":
                    report(_epoch_line(event))
                elif event["type"] == "train_begin" and isinstance(event.get("keras"), dict):
                    report(f"Keras backend: {backend_label(event['keras'])} ({event['keras']['reason']})")
            seen = len(events)
            if status.stage != stage and not status.stage.startswith("training"):
                report(status.stage)
            stage = status.stage
            if not status.active:
                break
            time.sleep(0.5)
    except KeyboardInterrupt:
        print("stopping within a few batches…", file=sys.stderr, flush=True)
        runs.stop(record)
        status = runs.wait(record.directory)
    summary = record.refresh().summary
    result = {
        "run_id": record.run_id,
        "status": status.state,
        **{k: getattr(summary, k, None) for k in ("params", "epochs_run", "test_accuracy", "test_loss")},
        "seconds": round(time.perf_counter() - start, 3),
        **({"error": status.error} if status.error else {}),
        **{k: v for k, v in (used_backend(record) or {}).items() if k in ("backend", "device")},
    }
    if status.state not in ("done", "stopped"):
        # The JSON still goes to stdout (the run exists and can be inspected); the sentence
        # to stderr, and the exit status says it did not succeed.
        raise RunFailed(result, status.error or f"Run {record.run_id} ended {status.state}.")
    return result


class RunFailed(Exception):
    """A command whose run ended failed or diverged: its JSON result and one sentence."""

    def __init__(self, result: dict, sentence: str):
        super().__init__(sentence)
        self.result = result


def _epoch_line(event: dict) -> str:
    parts = [f"epoch {event['epoch']}"]
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        if event.get(key) is not None:
            parts.append(f"{key} {event[key]:.4f}")
    if event.get("lr") is not None:
        parts.append(f"lr {event['lr']:.3g}")
    return ", ".join(parts)


def _cmd_evaluate(args: argparse.Namespace) -> dict:
    from mnist_core import runs
    from mnist_core.evaluation import evaluate_run

    return evaluate_run(runs.open_run(args.run_id)).to_json()


def _cmd_report(args: argparse.Namespace) -> dict:
    from mnist_core import runs
    from mnist_core.evaluation import evaluate_run
    from mnist_core.evaluation.report import build_report, check_destination, save_report

    check_destination(args.output)  # before the work, so a wrong -o fails at once
    text = build_report(evaluate_run(runs.open_run(args.run_id)))
    written = save_report(text, args.output)
    return {"run_id": args.run_id, "report": str(written.resolve()), "bytes": len(text.encode())}


def _cmd_study(args: argparse.Namespace) -> dict:
    from mnist_core import studies

    base = _spec_from_args(args)
    vary, search, trials = list(args.vary or []), args.search, args.trials
    if args.tune:
        tuned = studies.preset_study(args.tune, base)
        mine = {text.partition("=")[0].strip() for text in vary}
        base = tuned.base
        vary = [t for t in tuned.vary if t.partition("=")[0] not in mine] + vary
        search = search or tuned.search
        trials = trials if trials is not None else tuned.trials
    dataset = load_dataset(args.dataset)
    plan = studies.plan_study(
        base, vary, dataset=args.dataset, fingerprint=dataset.fingerprint,
        input_shape=dataset.image_shape, n_classes=dataset.n_classes, search=search or "tpe",
        objective=args.objective, trials=trials, time_budget=args.time_budget,
        repeats=args.repeats, prune=args.pruner if args.prune else False,
        prune_startup=args.prune_startup, prune_warmup=args.prune_warmup,
        search_seed=args.search_seed, name=args.name or "", backend=args.backend,
        address=args.address,
    )  # fmt: skip
    _backend(argparse.Namespace(backend=plan.backend, address=plan.address))
    record = studies.create_study(plan)
    start = time.perf_counter()
    studies.start(record)
    where = f" on the Ray cluster at {plan.address}" if plan.backend == "ray" else ""
    print(f"study {record.study_id}: {plan.search} over {', '.join(plan.space.paths)}, "
          f"{plan.trials} trials × {plan.repeats} on {args.dataset}{where}", file=sys.stderr,
          flush=True)  # fmt: skip

    def report(text: str) -> None:
        print(f"[{time.perf_counter() - start:7.1f} s] {text}", file=sys.stderr, flush=True)

    try:
        status = studies.follow(record, on_stage=report)
    except KeyboardInterrupt:
        report(studies.stop(record))
        status = studies.follow(record, on_stage=report)
    result = studies.summary(record, seconds=time.perf_counter() - start)
    if status.state not in ("done", "stopped"):
        raise RunFailed(result, status.error or f"Study {record.study_id} ended {status.state}.")
    return result


def _cmd_study_stop(args: argparse.Namespace) -> dict:
    from mnist_core import studies

    record = studies.open_study(args.study_id)
    return {"study_id": record.study_id, "message": studies.stop(record)}


def _backend_options(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--backend", choices=["local", "ray"],
                        help=f"{what} (default: $MNIST_EXECUTOR, else local)")  # fmt: skip
    parser.add_argument("--address", metavar="HOST:PORT",
                        help="the Ray head's address (default: $MNIST_RAY_ADDRESS)")  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m mnist_core", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    load = commands.add_parser("load", help="load a dataset and print its summary as JSON")
    load.add_argument("dataset", help=f"a named dataset ({', '.join(NAMED_DATASETS)}) or a path")
    load.add_argument("--test-size", type=float, default=0.2,
                      help="held-out share for files without a test split (default 0.2)")
    load.add_argument("--seed", type=int, default=0, help="seed of that split (default 0)")
    load.set_defaults(run=_cmd_load)

    fetch_cmd = commands.add_parser("fetch", help="download a named dataset into the cache")
    fetch_cmd.add_argument("name", choices=[n for n, d in NAMED_DATASETS.items() if d.downloadable])
    fetch_cmd.add_argument("--base-url", help="fetch from this URL instead of the Keras bucket")
    fetch_cmd.set_defaults(run=_cmd_fetch)

    embed = commands.add_parser("embed", help="compute (or read the cached) PCA or UMAP embedding")
    embed.add_argument("dataset", help="a named dataset or a path")
    embed.add_argument("--method", choices=["pca", "umap"], required=True)
    embed.add_argument("--split", choices=["train", "test", "all"], default="train")
    embed.add_argument("--seed", type=int, default=0)
    embed.add_argument("--n-components", type=int, default=50, help="PCA: 1..50 (default 50)")
    embed.add_argument("--n-neighbors", type=int, default=15, help="UMAP (default 15)")
    embed.add_argument("--min-dist", type=float, default=0.001, help="UMAP (default 0.001)")
    embed.add_argument("--metric", default="euclidean", help="UMAP (default euclidean)")
    embed.add_argument("--no-pca", action="store_true", help="UMAP on raw pixels, no PCA to 50")
    embed.add_argument("--parallel", action="store_true",
                       help="UMAP: a parallel layout on every core, faster but not reproducible")
    _backend_options(embed, "where it is computed: here (local) or as a job on a Ray cluster")
    embed.set_defaults(run=_cmd_embed)

    presets = commands.add_parser("presets", help="list the model presets as JSON")
    presets.set_defaults(run=_cmd_presets)

    train = commands.add_parser("train", help="train a preset or a spec file; JSON result last")
    source = train.add_mutually_exclusive_group(required=True)
    source.add_argument("--preset", help="a preset name (see `presets`)")
    source.add_argument("--spec", help="a model spec JSON file")
    train.add_argument("--dataset", default="mnist", help="a named dataset or a path (default mnist)")
    train.add_argument("--epochs", type=int, help="override the spec's epochs")
    train.add_argument("--keras-backend", help="auto (the default: JAX for dense layers, "
                       "TensorFlow for convolutions), tensorflow or jax")  # fmt: skip
    _backend_options(train, "where the run trains: local or a Ray cluster")
    train.set_defaults(run=_cmd_train)

    evaluate = commands.add_parser(
        "evaluate", help="test statistics of a run (overall and per class, caret's) as JSON"
    )
    evaluate.add_argument("run_id")
    evaluate.set_defaults(run=_cmd_evaluate)

    report = commands.add_parser("report", help="write a self-contained HTML report of a run")
    report.add_argument("run_id")
    report.add_argument("-o", "--output", required=True,
                        help="the HTML file to write (in an existing folder)")  # fmt: skip
    report.set_defaults(run=_cmd_report)

    study = commands.add_parser(
        "study", help="search a spec's settings with Optuna, each trial a run; JSON result last"
    )
    base = study.add_mutually_exclusive_group(required=True)
    base.add_argument("--preset", help="a model preset to start from (see `presets`)")
    base.add_argument("--spec", help="a model spec JSON file to start from")
    study.add_argument("--vary", action="append", metavar="PATH=VALUES",
                       help="a setting and its values: a list (batch_size=16,128,512) or a "
                       "range (learning_rate=1e-4..1e-1:log, layer 2.units=32..512:int); "
                       "repeat for more")  # fmt: skip
    study.add_argument("--tune", metavar="NAME",
                       help="a one-click study: batch_size, optimizer, learning_rate, "
                       "capacity, l2 or dropout (--vary adds to it or overrides it)")  # fmt: skip
    study.add_argument("--search", help="grid, random or tpe (default tpe)")
    study.add_argument("--trials", type=int, help="trial budget (default: the whole grid, or 10)")
    study.add_argument("--repeats", type=int, default=1, help="seeds per trial (default 1)")
    study.add_argument("--objective", default="val_accuracy",
                       help="val_accuracy or val_loss, at each run's best epoch")  # fmt: skip
    study.add_argument("--prune", action="store_true", help="stop trials that fall behind")
    study.add_argument("--pruner", default="median", help="median or hyperband (default median)")
    study.add_argument("--prune-startup", type=int, default=3,
                       help="trials to complete before pruning begins (default 3)")  # fmt: skip
    study.add_argument("--prune-warmup", type=int, default=0,
                       help="epochs never pruned at the start of a trial (default 0)")  # fmt: skip
    study.add_argument("--time-budget", type=float, metavar="S",
                       help="start no new trial after S seconds")  # fmt: skip
    study.add_argument("--search-seed", type=int, default=0, help="the sampler's seed")
    study.add_argument("--epochs", type=int, help="override the base spec's epochs")
    study.add_argument("--name", help="the study's name (default: the base spec's)")
    study.add_argument("--dataset", default="mnist", help="a named dataset or a path")
    _backend_options(study, "where trials run: local or a Ray cluster")
    study.set_defaults(run=_cmd_study)

    study_stop = commands.add_parser(
        "study-stop", help="stop a study: cancel its queued trials, stop its running ones"
    )
    study_stop.add_argument("study_id")
    study_stop.set_defaults(run=_cmd_study_stop)

    # Inside the model: predict, predict-csv, export-code (their modules load the engine lazily).
    from mnist_core.inside.cli import add_commands as add_model_commands
    from mnist_core.inside.code_export_cli import add_commands as add_code_export

    add_model_commands(commands)
    add_code_export(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result = args.run(args)
    except RunFailed as exc:
        print(json.dumps(exc.result))
        print(str(exc), file=sys.stderr)
        return EXIT_BAD_INPUT
    except (DatasetError, ValueError) as exc:  # SpecError and RunError are ValueErrors
        print(str(exc), file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as exc:  # a full disk, a read-only cache folder, ...
        print(str(storage_error(exc, getattr(exc, "filename", None) or paths.cache_dir())),
              file=sys.stderr)  # fmt: skip
        return EXIT_BAD_INPUT
    except Exception as exc:  # a library's own type for a full disk (TensorFlow's file writers)
        if (full := storage_error_in_message(exc, paths.cache_dir())) is None:
            raise
        print(str(full), file=sys.stderr)
        return EXIT_BAD_INPUT
    if result is not None:  # export-code without -o printed the script itself
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
