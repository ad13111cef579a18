"""``python -m imaging render|info``: for site staff and for checking renders by hand."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from imaging.deid import series_summary
from imaging.encode import encode_jpeg, encode_png
from imaging.errors import ImagingError, ImagingErrorCode
from imaging.frames import decode_frame, frame_count
from imaging.reading import read_dataset
from imaging.render import render
from imaging.voi import Window


def _size(text: str) -> tuple[int, int]:
    width, sep, height = text.lower().partition("x")
    if not sep or not width.isdigit() or not height.isdigit():
        raise argparse.ArgumentTypeError(f"size must look like 512x512, got {text!r}")
    return int(width), int(height)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m imaging", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("render", help="render one frame to PNG or JPEG")
    r.add_argument("input", type=Path)
    r.add_argument("output", type=Path, help="OUT.png, OUT.jpg or OUT.jpeg")
    r.add_argument("--frame", type=int, default=1, help="frame number, from 1 as in DICOM")
    r.add_argument("--window", type=float, nargs=2, metavar=("CENTER", "WIDTH"))
    r.add_argument("--size", type=_size, metavar="WxH", help="fit within W×H, keeping aspect")
    r.add_argument("--quality", type=int, default=90, help="JPEG quality")
    r.add_argument("--overlays", action="store_true", help="burn in overlay planes (60xx)")
    i = sub.add_parser("info", help="print a de-identified summary as JSON")
    i.add_argument("input", type=Path)
    return parser


def _render(args: argparse.Namespace) -> None:
    suffix = args.output.suffix.lower()
    if suffix not in (".png", ".jpg", ".jpeg"):
        raise ImagingError(ImagingErrorCode.BAD_ARGUMENT, f"output must be .png or .jpg: {suffix}")
    ds = read_dataset(args.input)
    frames = frame_count(ds)
    if not 1 <= args.frame <= frames:
        raise ImagingError(
            ImagingErrorCode.FRAME_OUT_OF_RANGE,
            f"--frame {args.frame}: frames are numbered 1…{frames}",
        )
    frame = decode_frame(ds, args.frame - 1)
    window = Window(*args.window) if args.window else None
    img = render(frame, window=window, size=args.size, overlays=args.overlays)
    data = encode_png(img) if suffix == ".png" else encode_jpeg(img, quality=args.quality)
    args.output.write_bytes(data)


def _info(args: argparse.Namespace) -> None:
    summary = series_summary(read_dataset(args.input))
    print(json.dumps(summary, indent=2, sort_keys=True))


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "render":
            _render(args)
        else:
            _info(args)
    except ImagingError as exc:
        print(f"error: {exc.code.value}: {exc.message}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0
