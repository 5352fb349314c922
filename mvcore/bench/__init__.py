"""Benchmarks that print figures, one module each; the product never imports this package.

- `accuracy`: the baseline preset against the default recipe on generated sets (`mvcore bench accuracy`).
- `ideas`: `TrainConfig` variants trained side by side and scored alike (`mvcore bench ideas`).
- `speed`: parameters, GFLOPs, training step, frames/s and memory (`mvcore bench speed`).
- `measure`: the clinical measurements against the generator's truth, on model and true masks
  (`mvcore bench measure`).
- `real`: a model on the hand-labelled real echo frames of tests/data/real (`mvcore bench real`),
  on the cine resized as a low-resolution set has it (`mvcore bench real --size 112`), or its
  measured valve events against those marked by eye (`mvcore bench real --events`).
- `locators`: draws of a recipe's locator, trained alone, behind one model's segmenter on those
  frames (`mvcore bench locators`).
- `marks`: those frames' hand marks, snapped onto the leaflets and drawn into masks
  (`python -m mvcore.bench.marks --write`).
- `corrections`: a few of those frames corrected, a fine-tuning on them, the others scored
  (`mvcore bench corrections`).
- `stress`: recipes trained on a small, short, low-resolution set (`mvcore bench stress`).
- `click`: the real app in Chromium, click to overlay (`mvcore bench click`), or click
  "Fine-tune on my corrections" to the clip before and after (`--fine-tune`).
- `load`: several Chromium sessions segmenting in the app at the same moment (`mvcore bench load`).
- `scale`: a folder of 600 x 800 clips in one process, on `--jobs` local processes and on Ray
  (`mvcore bench scale`), optionally with a Ray worker killed midway.
- `machine`: the header each prints (CPU, cores, threads, library versions);
  `appserver`: the app on a local port for the browser benchmark and tests.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError
from .machine import header


def run(args) -> None:
    """Entry point of `mvcore bench WHAT`."""
    if args.variants and args.what not in ("ideas", "stress"):
        raise InputError(f"bench {args.what} takes no variants (only bench ideas and stress do)")
    if args.size and (args.what != "real" or args.events):
        raise InputError("--size is for bench real's frames (not --events, nor other benches)")
    if args.threshold is not None and (args.what != "real" or args.events):
        raise InputError("--threshold is for bench real's frames (not --events, nor other benches)")
    if args.what == "locators" and len(args.scale) > 1:
        raise InputError("bench locators trains its draws on one generated set: give one --scale")
    print(header(), flush=True)
    work = Path(args.work)
    if args.what == "accuracy":
        from .accuracy import ACCURACY_HEADER, accuracy

        print(ACCURACY_HEADER, flush=True)
        accuracy(args.seeds, args.scale, work, args.runs)
    elif args.what == "ideas":
        from .ideas import IDEAS_HEADER, ideas

        print(IDEAS_HEADER, flush=True)
        ideas(args.variants, args.seeds, args.scale, work, args.jobs or 1)
    elif args.what == "stress":
        from .stress import STRESS_HEADER, stress

        print(STRESS_HEADER, flush=True)
        stress(args.variants, args.seeds, work)
    elif args.what == "measure":
        from .measure import MEASURE_HEADER, measure_bench

        print(MEASURE_HEADER, flush=True)
        measure_bench(args.seeds, args.scale, args.n_test, args.model)
    elif args.what == "real":
        from .real import run_real, run_real_events

        if args.events:
            run_real_events(args.model)
        else:
            run_real(args.model, args.size, args.threshold)
    elif args.what == "locators":
        from .locators import LOCATORS_HEADER, locators

        print(LOCATORS_HEADER, flush=True)
        locators(args.seeds, args.data_seed, args.scale[0], work, args.model)
    elif args.what == "corrections":
        from .corrections import CORRECTIONS_HEADER, corrections

        print(CORRECTIONS_HEADER, flush=True)
        corrections(args.counts, args.runs, args.model, work)
    elif args.what == "click" and args.fine_tune:
        from .click import click_to_fine_tuned

        click_to_fine_tuned(work)
    elif args.what == "click":
        from .click import click_to_overlay

        click_to_overlay(args.runs, work)
    elif args.what == "scale":
        from .scale import scale

        scale(args.clips, args.jobs or 2, work, kill=args.kill)
    elif args.what == "load":
        from .load import load

        load(args.sessions, work)
    else:
        from .speed import speed

        speed(work, quick=args.quick)
