"""Renders the documentation figures: python docs/make_figures.py (needs fieldconv[plot]).

docs/receptive_field.png: the input regions three output pixels of a small network see, over a
synthetic 32x32 image, with the grid of field centres.
"""
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import fieldconv  # noqa: E402

HERE = Path(__file__).resolve().parent


def example_network():
    """5x5 conv, 3x3 conv stride 2, 3x3 conv stride 2 padding 1 (with ReLUs): field 11x11, jump 4."""
    rng = np.random.default_rng(0)
    return fieldconv.Sequential(
        fieldconv.Conv2d(rng.uniform(0, 1, (4, 1, 5, 5))),
        fieldconv.ReLU(),
        fieldconv.Conv2d(rng.uniform(0, 1, (8, 4, 3, 3)), stride=2),
        fieldconv.ReLU(),
        fieldconv.Conv2d(rng.uniform(0, 1, (8, 8, 3, 3)), stride=2, padding=1),
    )


def example_image(size=32):
    rows, cols = np.mgrid[0:size, 0:size] / size
    rings = np.cos(18 * np.hypot(rows - 0.45, cols - 0.55))
    return 0.5 + 0.25 * rings + 0.25 * np.sin(6 * cols) * (rows > 0.3)


def main():
    network = example_network()
    image = example_image()
    network.summary((1,) + image.shape)
    fig, ax = plt.subplots(figsize=(5, 5.6))
    fieldconv.plot_receptive_field(image, network, outputs=[(0, 0), (3, 3), (6, 2)], ax=ax)
    fig.tight_layout()
    out = HERE / "receptive_field.png"
    fig.savefig(out, dpi=80, bbox_inches="tight")
    print(f"wrote {out} ({out.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
