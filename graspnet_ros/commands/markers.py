"""``graspnet-ros markers``: write the calibration marker or board at true size (PDF or PNG).

PDF: the page is the pattern plus a margin, drawn at exact physical size;
print at 100 % ("actual size", no fit-to-page) and check the 50 mm scale bar.
PNG: the pattern at ``--dpi`` pixels per inch, with the DPI stored in the file.
"""

from __future__ import annotations

import argparse
from pathlib import Path

MM_PER_INCH = 25.4


def write_png(target, out: Path, dpi: float) -> tuple[int, int, float]:
    """Write the pattern (with its white quiet zone) at ``dpi``.

    Returns (width px, height px, scale): cells are whole pixels, so the
    printed pattern is ``scale`` times its nominal size (within 0.5 px per cell).
    """
    import matplotlib.image as mpimg

    from ..calibration._io import atomic_path
    from ..calibration.render import target_image

    ppm = dpi / MM_PER_INCH * 1000.0
    image, H = target_image(target, ppm)
    with atomic_path(out) as tmp:
        mpimg.imsave(tmp, image, cmap="gray", vmin=0, vmax=255, dpi=dpi, format="png")
    return image.shape[1], image.shape[0], float(H[0, 0] / ppm)


def write_pdf(target, out: Path, margin_mm: float = 15.0) -> tuple[float, float]:
    """Write a PDF whose page holds the pattern at exact size; return the page size in mm."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..calibration._io import atomic_path
    from ..calibration.render import target_image

    w_mm, h_mm = (v * 1000.0 for v in target.size)
    image, _ = target_image(target, 12000.0, margin=0.0)  # ~300 dpi cells, no quiet zone (the page margin is white)
    page_w = w_mm + 2 * margin_mm
    page_h = h_mm + 2 * margin_mm + 15.0  # room for the caption and scale bar
    fig = plt.figure(figsize=(page_w / MM_PER_INCH, page_h / MM_PER_INCH))
    ax = fig.add_axes((margin_mm / page_w, (margin_mm + 15.0) / page_h, w_mm / page_w, h_mm / page_h))
    ax.imshow(image, cmap="gray", vmin=0, vmax=255, interpolation="nearest", aspect="auto")
    ax.set_axis_off()
    bar = fig.add_axes((margin_mm / page_w, 6.0 / page_h, 50.0 / page_w, 1.5 / page_h))
    bar.add_patch(plt.Rectangle((0, 0), 1, 1, color="black"))
    bar.set_xlim(0, 1)
    bar.set_ylim(0, 1)
    bar.set_axis_off()
    fig.text((margin_mm + 52.0) / page_w, 6.0 / page_h, "50 mm: print at 100 %", fontsize=7, va="bottom")
    fig.text(margin_mm / page_w, 10.0 / page_h, target.describe(), fontsize=7, va="bottom")
    try:
        with atomic_path(out) as tmp:
            fig.savefig(tmp, format="pdf")
    finally:
        plt.close(fig)
    return page_w, page_h


def run(args: argparse.Namespace) -> int:
    from ..calibration.config import load_config

    target = load_config(args.target).target
    out = Path(args.out)
    suffix = out.suffix.lower()
    if suffix == ".pdf":
        w, h = write_pdf(target, out)
        print(f"wrote {out}: {target.describe()}, page {w:.1f} x {h:.1f} mm; print at 100 % (actual size)")
    elif suffix == ".png":
        if not args.dpi > 0:
            raise ValueError(f"--dpi must be positive, got {args.dpi}")
        w, h, scale = write_png(target, out, args.dpi)
        print(f"wrote {out}: {target.describe()}, {w} x {h} px at {args.dpi:g} dpi "
              f"({w / args.dpi * MM_PER_INCH:.1f} x {h / args.dpi * MM_PER_INCH:.1f} mm with quiet zone)")
        if abs(scale - 1.0) > 1e-4:
            print(f"note: whole-pixel cells make the pattern {scale * 100:.2f} % of nominal at this dpi; "
                  f"measure the print and set the lengths in the config")
    else:
        raise ValueError(f"--out must end in .pdf or .png, got {out.name}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("markers", help=__doc__.split(":", 1)[1].strip().splitlines()[0],
                              description=__doc__.split(":", 1)[1].strip(),
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--target", required=True, help="calibration config YAML (config/calibration.yaml)")
    p.add_argument("--out", required=True, help="output .pdf (true size) or .png")
    p.add_argument("--dpi", type=float, default=300.0, help="PNG resolution in dots per inch (default 300)")
    p.set_defaults(func=run)
