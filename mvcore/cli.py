"""`python -m mvcore SUBCOMMAND ...`: the same functions the app's pages call, for the terminal.

Bad input ends with one line, `error: <file>: <problem>`, and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # keep TensorFlow's start-up chatter off the terminal

from .config import PRESET_ALIASES, PRESETS  # noqa: E402
from .errors import InputError  # noqa: E402
from .runtime import RUNTIMES  # noqa: E402


def cmd_synth(args) -> None:
    from .synth import write_dataset

    started = time.time()
    try:
        paths = write_dataset(args.out_dir, seed=args.seed, n_train=args.n_train, n_test=args.n_test,
                              scale=args.scale, frames_per_clip=args.frames_per_clip,
                              datasets=("amateur",) if args.amateur_only else ("amateur", "expert"), size=args.size)
    except ValueError as err:
        raise InputError(f"synth: {err}") from None
    print(f"wrote {', '.join(str(p) for p in paths)} in {time.time() - started:.1f} s")


def cmd_preview(args) -> None:
    from .data import load_aml
    from .video import contact_sheet, save_png

    save_png(contact_sheet(load_aml(args.data), max_clips=args.clips), args.out)
    print(f"wrote {args.out}")


def cmd_train(args) -> None:
    from .config import TrainConfig
    from .data import load_aml
    from .distribute import place
    from .train import train

    config = TrainConfig.preset_config(
        args.preset, fast=args.fast, epochs_stage1=args.epochs_stage1, epochs_stage2=args.epochs_stage2,
        crop_size=args.image_size, batch_size=args.batch_size, seed=args.seed, lr_stage1=args.lr_stage1,
        lr_stage2=args.lr_stage2, rehearsal=False if args.no_rehearsal else None,
        start="scratch" if args.from_scratch else None)
    if args.choose_threshold:
        config = dataclasses.replace(config, threshold=None)
    placement = place(args.devices, cluster_of(args))  # before any network is built
    clips = [clip for path in args.train for clip in load_aml(path)]
    on_event = print_event if not args.events else EventLog(args.events).with_echo(print_event)
    metrics = train(clips, Path(args.out), config, on_event=on_event, init_dir=args.init, placement=placement)
    print(f"model written to {args.out} (threshold {metrics['threshold']}, {metrics['train_seconds']} s)")


def cluster_of(args):
    """The `mvcore.distribute.Cluster` of train's --coordinator, --num-processes and --process-id;
    InputError where they do not fit together."""
    from .distribute import Cluster

    if args.num_processes > 1 and not args.coordinator:
        raise InputError(f"--num-processes {args.num_processes}: give --coordinator HOST:PORT (process 0's) too")
    if not 0 <= args.process_id < args.num_processes:
        raise InputError(f"--process-id {args.process_id}: must be from 0 to {args.num_processes - 1}")
    return Cluster(args.coordinator, args.num_processes, args.process_id)


class EventLog:
    """Appends each training event as one JSON line to a file (what the app's job page polls)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def __call__(self, event: dict) -> None:
        with open(self.path, "a") as f:
            f.write(json.dumps(dict(event, time=time.time())) + "\n")

    def with_echo(self, echo):
        """An event handler that logs to the file and also calls `echo`."""
        return lambda event: (self(event), echo(event))


def print_event(event: dict) -> None:
    """One line per training event; epochs as a progress bar with loss and validation IoU."""
    kind = event["kind"]
    if kind == "start":
        print(f"training on {event['device']}: {event['train_videos']} videos, "
              f"{event['val_videos']} held out for validation")
    elif kind == "stage":
        print(f"== {event['stage']}: {event['epochs']} epochs")
    elif kind == "epoch":
        done = int(20 * event["epoch"] / event["epochs"])
        print(f"{event['stage']:>8} {event['epoch']:3d}/{event['epochs']:<3d} [{'#' * done}{'.' * (20 - done)}] "
              f"loss {event['loss']:.3f}  val_loss {event['val_loss']:.3f}  val_iou {event['val_iou']:.3f}  "
              f"{event['seconds']:.1f}s", flush=True)
    elif kind == "validation":
        print(f"   {event['stage']} pipeline IoU on validation videos: {event['val_iou']:.3f} "
              f"(threshold {event['threshold']}; at 0.5: {event['val_iou_at_0.5']:.3f})")
    elif kind == "message":
        print(event["text"])
    elif kind == "warning":
        print(f"warning: {event['text']}", flush=True)


def cmd_predict(args) -> None:
    from .config import PredictConfig
    from .data import load_inputs
    from .data.inputs import refuse_shared_clip_names
    from .export import submission_csv_writer, write_clip_outputs, write_masks_npz
    from .predict import Segmenter, segment_clips

    if args.measure and not args.overlay_dir:
        raise InputError("--measure writes its tables beside the overlays: give --overlay-dir too")
    if args.engine == "ray" or args.jobs > 1:
        return predict_on_engine(args)
    clips = load_inputs(args.inputs, axis=args.axis)
    refuse_shared_clip_names([(clip.source, clip.name) for clip in clips])  # outputs are keyed by clip name
    segmenter = Segmenter.load(args.model, PredictConfig(threshold=args.threshold, runtime=args.runtime))
    masks, summaries = {}, []
    with contextlib.ExitStack() as outputs:
        add_to_csv = outputs.enter_context(submission_csv_writer(args.csv)) if args.csv else None
        for clip, result, seconds in segment_clips(segmenter, clips):
            if add_to_csv:  # encoded as it comes; the file appears once every clip is done
                add_to_csv(clip.name, result.mask)
            if args.npz:  # full-size masks are kept only when the .npz needs them all
                masks[clip.name] = result.mask
            print(f"{clip.name}: {clip.n_frames} frames {clip.shape[0]}x{clip.shape[1]} in {seconds:.2f} s "
                  f"({clip.n_frames / max(seconds, 1e-9):.0f} frames/s), mean area {result.area.mean():.0f} px")
            if result.location.unsure:
                print(f"  warning: {result.location.warning()}", flush=True)
            if args.overlay_dir:
                measurement = measure_and_report(clip, result, args, summaries)
                for path in write_clip_outputs(clip, result, Path(args.overlay_dir), args.style, measurement):
                    print(f"  wrote {path}")
    if summaries:
        from .export import write_table

        write_table(summaries, Path(args.overlay_dir) / "measurements.csv")
        print(f"wrote {Path(args.overlay_dir) / 'measurements.csv'}")
    if args.csv:
        print(f"wrote {args.csv}")
    if args.npz:
        write_masks_npz(masks, args.npz)
        print(f"wrote {args.npz}")


def predict_on_engine(args) -> None:
    """`predict --engine ray` or `--jobs N`: every clip's outputs (with --measure, its measurement
    files) and manifest row written into --overlay-dir as it is done (mvcore.folder), then the
    submission CSV, .npz and measurements.csv assembled."""
    from .config import PredictConfig
    from .folder import DONE, FolderJob, assemble, assemble_measurements, run_folder
    from .locate import SEEN_PEAK

    if not args.overlay_dir:
        raise InputError(f"--engine {args.engine} --jobs {args.jobs} writes every clip's outputs and manifest.csv "
                         "as it is done: give --overlay-dir")
    if args.engine == "ray":
        from .ray_engine import import_ray

        import_ray()
    job = FolderJob(Path(args.overlay_dir), args.model, PredictConfig(threshold=args.threshold, runtime=args.runtime),
                    args.style, args.axis, args.measure, args.mm_per_pixel)
    new = []

    def report(row):
        new.append(row)
        detail = f"{row['frames']} frames in {float(row['seconds']):.2f} s" if row["status"] == DONE else row["error"]
        if row["status"] == DONE and row["locator_peak"] and float(row["locator_peak"]) < SEEN_PEAK:
            detail += (f"; the locator did not see a valve (heatmap peak {row['locator_peak']}, crop by "
                       f"{row['crop']}): check its overlay")
        print(f"{row['clip'] or row['file']}: {row['status']}, {detail}", flush=True)

    rows = run_folder(args.inputs, job, args.engine, args.jobs, args.address, on_row=report)
    assemble(rows, job.out_dir, args.csv, args.npz)
    measurements = assemble_measurements(rows, job.out_dir) if args.measure else None
    failed = sum(row["status"] != DONE for row in rows)
    print(f"{len(rows) - failed} clips done, {failed} failed, {len(rows) - len(new)} complete before this run "
          f"and skipped; manifest {job.out_dir / 'manifest.csv'}")
    for path in (measurements, args.csv, args.npz):
        if path:
            print(f"wrote {path}")


def measure_and_report(clip, result, args, summaries: list[dict]):
    """With --measure: the clip's `ClipMeasurement` (its NAME_cycles.csv and NAME_summary.json
    written, one line printed, its summary appended to `summaries`); else None."""
    if not args.measure:
        return None
    from .export import measure_and_write
    from .measure import clip_summary

    m, files = measure_and_write(clip, result, Path(args.overlay_dir), args.mm_per_pixel)
    summaries.append(clip_summary(m))
    print(f"  {m.calibration.source} calibration ({m.unit}): {len(m.cycles)} cycles, "
          f"heart rate {m.heart_rate_bpm:.0f} bpm, {len(m.events)} valve events")
    for path in files:
        print(f"  wrote {path}")
    return m


def cmd_evaluate(args) -> None:
    from .data import load_labels
    from .export import read_masks_npz, read_submission_csv
    from .metrics import evaluate

    labels = load_labels(args.labels)
    if Path(args.pred).suffix.lower() == ".csv":
        preds = read_submission_csv(args.pred, {name: label.shape for name, (_, label) in labels.items()})
    else:
        preds = read_masks_npz(args.pred)
    print(evaluate(preds, labels).table())


def cmd_bench(args) -> None:
    from . import bench

    bench.run(args)


def at_least_one(text: str) -> int:
    """argparse type: an integer of 1 or more."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text}: must be 1 or more")
    return value


def devices_arg(text: str) -> int | str:
    """argparse type of --devices: a count of 1 or more, or 'all'."""
    if text == "all":
        return text
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text}: give a number of devices (1 or more) or 'all'")
    return int(text)


def number(text: str) -> float:
    """A command-line number, or argparse's error naming the text."""
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text}: not a number") from None


def positive(text: str) -> float:
    """argparse type: a finite number above 0."""
    value = number(text)
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text}: must be above 0")
    return value


def probability(text: str) -> float:
    """argparse type: a number from 0 to 1 (0 is honoured: every pixel with any probability is valve)."""
    value = number(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text}: must be from 0 to 1")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m mvcore", description="Mitral valve segmentation in echo videos.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("synth", help="write a synthetic AML-format data set (train.pkl, test.pkl, test_labels.pkl)")
    p.add_argument("out_dir", type=Path)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n-train", type=int, default=65)
    p.add_argument("--n-test", type=int, default=20)
    p.add_argument("--scale", type=float, default=1.0, help="size factor of the high-resolution clips")
    p.add_argument("--frames-per-clip", type=int,
                   help="keep only each clip's labelled frames (3), or them and others up to this many")
    p.add_argument("--amateur-only", action="store_true", help="only amateur-style 112 x 112 clips, test clips too")
    p.add_argument("--size", type=int, help="resize every clip to SIZE x SIZE pixels (e.g. 112)")
    p.set_defaults(run=cmd_synth)

    p = sub.add_parser("preview", help="contact sheet of an AML pickle's annotated frames with label contours")
    p.add_argument("data", type=Path)
    p.add_argument("out", type=Path)
    p.add_argument("--clips", type=int, default=12, help="at most this many clips")
    p.set_defaults(run=cmd_preview)

    p = sub.add_parser("train", help="two-stage training: all labelled frames, then fine-tuning on expert frames")
    p.add_argument("train", nargs="+", type=Path, help="AML train pickles")
    p.add_argument("--out", required=True, type=Path, help="model folder to create")
    p.add_argument("--preset", default="default", choices=[*PRESETS, *PRESET_ALIASES],
                   help="'baseline' (once called 'seed'): the seed project's recipe (128 x 128 letterbox, "
                        "threshold 0.9), for comparison")
    p.add_argument("--epochs-stage1", type=int)
    p.add_argument("--epochs-stage2", type=int)
    p.add_argument("--image-size", type=int, help="segmenter input side in pixels")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr-stage1", type=float)
    p.add_argument("--lr-stage2", type=float)
    p.add_argument("--seed", type=int)
    p.add_argument("--init", type=Path, help="fine-tune this model folder instead of starting from scratch "
                                             "(stage 2 only, the bundled synthetic set's frames mixed in)")
    p.add_argument("--from-scratch", action="store_true",
                   help="random starting weights (by default a new training begins from the bundled model's "
                        "networks where the recipe's shape fits them)")
    p.add_argument("--no-rehearsal", action="store_true",
                   help="with --init: train on the given pickles alone, without the bundled synthetic set")
    p.add_argument("--choose-threshold", action="store_true",
                   help="choose the probability threshold on the validation videos instead of the recipe's "
                        "(0.5; a few videos choose worse than that: BENCHMARKS.md)")
    p.add_argument("--fast", action="store_true", help="a tiny run (seconds), for tests")
    p.add_argument("--events", type=Path, help="also append every progress event as a JSON line to this file")
    p.add_argument("--devices", type=devices_arg, default=1,
                   help="data-parallel training on this many devices, or 'all' (jax or tensorflow backend); "
                        "--batch-size is the global batch, a multiple of it")
    p.add_argument("--coordinator", help="several hosts (jax): process 0's HOST:PORT, the same on every host")
    p.add_argument("--num-processes", type=at_least_one, default=1, help="several hosts (jax): how many processes")
    p.add_argument("--process-id", type=int, default=0, help="several hosts (jax): this one's, 0 to K - 1")
    p.set_defaults(run=cmd_train)

    p = sub.add_parser("predict", help="segment every frame of videos, DICOM, arrays or an AML test.pkl")
    p.add_argument("inputs", nargs="+", type=Path)
    p.add_argument("--model", type=Path, help="model folder (default: the bundled model)")
    p.add_argument("--csv", type=Path, help="write the AML submission CSV")
    p.add_argument("--npz", type=Path, help="write bool (H, W, T) masks keyed by clip name")
    p.add_argument("--overlay-dir", type=Path, help="write NAME.mp4, NAME.gif and NAME_frames.csv per clip")
    p.add_argument("--threshold", type=probability, help="override the model's probability threshold (0 to 1)")
    p.add_argument("--style", default="fill", choices=["fill", "contour"])
    p.add_argument("--axis", default="HWT", choices=["HWT", "THW"], help="axis order of .npy/.npz inputs")
    p.add_argument("--runtime", default="auto", choices=RUNTIMES,
                   help="what runs the networks: ONNX Runtime where it can (auto), or always onnx or keras")
    p.add_argument("--measure", action="store_true",
                   help="also measure the valve (open/shut, events, heart rate, opening and annulus): per-frame "
                        "columns in NAME_frames.csv, NAME_cycles.csv, NAME_summary.json and measurements.csv")
    p.add_argument("--mm-per-pixel", type=positive,
                   help="pixel size in mm for --measure (default: the DICOM file's, else lengths in pixels)")
    p.add_argument("--engine", default="local", choices=["local", "ray"],
                   help="ray: clips decoded and segmented on Ray Data (pip install '.[ray]'), outputs and "
                        "manifest.csv in --overlay-dir clip by clip, complete clips skipped on a rerun")
    p.add_argument("--jobs", type=at_least_one, default=1,
                   help="clips segmented at once: processes (local) or Ray actors; above 1 locally, as --engine ray")
    p.add_argument("--address", help="ray: the cluster to join ('auto', or ray://HOST:10001; default: start one here)")
    p.set_defaults(run=cmd_predict)

    p = sub.add_parser("evaluate", help="IoU per frame and video and the AML score of predictions")
    p.add_argument("pred", type=Path, help="submission CSV or masks .npz")
    p.add_argument("--labels", required=True, type=Path, help="test_labels.pkl or a train.pkl")
    p.set_defaults(run=cmd_evaluate)

    p = sub.add_parser("bench", help="benchmarks that print figures: accuracy, speed, ideas, stress, measure, real, "
                                     "locators, corrections, click, load, scale")
    p.add_argument("what", choices=["accuracy", "speed", "ideas", "stress", "measure", "real", "locators",
                                    "corrections", "click", "load", "scale"])
    p.add_argument("variants", nargs="*",
                   help="ideas, stress: NAME=PRESET[:FIELD=VALUE,...], e.g. wide=default:base_filters=24")
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2],
                   help="the generated sets' seeds (locators: the draws' training seeds)")
    p.add_argument("--data-seed", type=int, default=0, help="locators: the generated set the draws train on")
    p.add_argument("--scale", type=float, nargs="+", default=[0.5])
    p.add_argument("--runs", type=at_least_one, default=1,
                   help="trainings per recipe and set (training seeds 0, 1, ...)")
    p.add_argument("--jobs", type=at_least_one,
                   help="ideas: variants trained at the same time (default 1); scale: workers of each engine (2)")
    p.add_argument("--clips", type=at_least_one, default=200, help="scale: clips in the folder")
    p.add_argument("--kill", action="store_true",
                   help="scale: also run Ray with one worker killed midway; no clip may be lost or duplicated")
    p.add_argument("--work", type=Path, default=Path("bench-work"), help="folder for generated data and models")
    p.add_argument("--model", type=Path, help="real, measure, locators: the model folder to score, corrections: "
                                              "to fine-tune (default: the bundled model)")
    p.add_argument("--events", action="store_true",
                   help="real: the valve's openings and closings measured against those marked by eye")
    p.add_argument("--size", type=at_least_one,
                   help="real: the cine's scan sector cut square and resized to SIZE x SIZE (e.g. 112), "
                        "scored whole and as clips of 3 stills")
    p.add_argument("--threshold", type=probability, help="real: override the model's probability threshold (0 to 1)")
    p.add_argument("--n-test", type=at_least_one, default=10, help="measure: test clips per generated set")
    p.add_argument("--counts", type=at_least_one, nargs="+", default=[1, 3, 5],
                   help="corrections: how many frames are corrected (--runs draws of each)")
    p.add_argument("--quick", action="store_true", help="speed: the default model alone")
    p.add_argument("--fine-tune", action="store_true",
                   help="click: time a fine-tuning on a corrected frame of the real cine to its before and after")
    p.add_argument("--sessions", type=at_least_one, default=4, help="load: browser sessions segmenting at once")
    p.set_defaults(run=cmd_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0
