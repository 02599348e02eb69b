"""`stereofoley report RESULT_DIR`: per clip a PNG and a preview MP4 (boxes, ids, pan meter, stereo audio), and index.html."""

from __future__ import annotations

import argparse

from tqdm import tqdm

from ..evaluation.report import write_report
from .common import emit


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "report",
        help="plots and preview videos of a result folder, with an HTML index",
        description=(
            "RESULT_DIR holds a synth-dataset (manifest.json) or a timeline report / job status JSON listing clips with "
            "their WAVs (boxes come from <wav>.tracks.json when present). Writes RESULT_DIR/report/ by default."
        ),
    )
    p.add_argument("result_dir", help="folder with results")
    p.add_argument("--out", help="output folder (default RESULT_DIR/report)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing report")
    p.add_argument("--json", action="store_true", help="print a machine-readable summary on stdout")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    with tqdm(unit="clip", desc="report", disable=None) as bar:
        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        summary = write_report(args.result_dir, args.out, overwrite=args.overwrite, progress=progress)
    emit(args, summary, f"wrote {summary['index']} ({len(summary['clips'])} clips)")
    return 0
