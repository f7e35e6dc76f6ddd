"""Picture folders to try rnncls on, written from data sets this machine already has.

    python tools/example_folders.py mnist-png OUT      # MNIST's 70,000 digits as PNG files
    python tools/example_folders.py digits OUT         # scikit-learn's 1,797 8x8 digits
    python tools/example_folders.py colour-digits OUT  # 24,000 MNIST digits, 32x32, in colour

Each is a folder of class subfolders (``OUT/train/<class>/`` and ``OUT/test/<class>/``
where the data set has a test split), as a user's own pictures would be. The colour set
paints each MNIST digit in a random hue over a background of another random hue, and pads
it to 32x32 at a random place: the class is the digit, so the network has to read the
shape through colours that change from picture to picture. The README's "Your own data"
table was measured on these folders.
"""

from __future__ import annotations

import argparse
import colorsys
import os
from pathlib import Path

import numpy as np
from PIL import Image


def mnist_parts(data_dir: str | None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    from rnncls.config_keys import DataConfig
    from rnncls.datasets import find_data
    from rnncls.datasets.idx import open as open_idx

    parts = open_idx(find_data(data_dir, "").path, DataConfig(), lambda message: None)
    return {part: (parts.read_images(part)[..., 0], parts.labels[part]) for part in parts.labels}


def save(pictures: np.ndarray, labels: np.ndarray, folder: Path, names: list[str]) -> None:
    for index, (picture, label) in enumerate(zip(pictures, labels, strict=True)):
        target = folder / names[int(label)]
        target.mkdir(parents=True, exist_ok=True)
        Image.fromarray(picture).save(target / f"{index:05d}.png")


def mnist_png(out: Path, data_dir: str | None) -> None:
    for part, (images, labels) in mnist_parts(data_dir).items():
        save(images, labels, out / part, [str(k) for k in range(10)])


def digits(out: Path) -> None:
    from sklearn.datasets import load_digits

    loaded = load_digits()
    pictures = np.rint(loaded.images * (255 / 16)).astype(np.uint8)  # 17 levels to 8 bits
    save(pictures, loaded.target, out, [str(k) for k in range(10)])


def colour_digits(out: Path, data_dir: str | None, seed: int = 0) -> None:
    generator = np.random.default_rng(seed)
    counts = {"train": 20000, "test": 4000}
    for part, (images, labels) in mnist_parts(data_dir).items():
        count = counts[part]
        pictures = np.empty((count, 32, 32, 3), np.uint8)
        for index in range(count):
            ink, paper = random_colours(generator)
            alpha = images[index].astype(np.float64)[..., np.newaxis] / 255.0
            digit = alpha * ink + (1.0 - alpha) * paper
            top, left = generator.integers(0, 5, 2)
            canvas = np.broadcast_to(paper, (32, 32, 3)).copy()
            canvas[top : top + 28, left : left + 28] = digit
            pictures[index] = np.rint(canvas).astype(np.uint8)
        save(pictures, labels[:count], out / part, [str(k) for k in range(10)])


def random_colours(generator: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Ink and paper: two hues at least a third of the wheel apart, and light enough
    apart that the digit shows in grey too."""
    hue = generator.random()
    other = (hue + generator.uniform(1 / 3, 2 / 3)) % 1.0
    bright, dark = generator.uniform(0.75, 1.0), generator.uniform(0.15, 0.45)
    if generator.random() < 0.5:
        bright, dark = dark, bright
    ink = np.array(colorsys.hsv_to_rgb(hue, generator.uniform(0.5, 1.0), bright)) * 255
    paper = np.array(colorsys.hsv_to_rgb(other, generator.uniform(0.5, 1.0), dark)) * 255
    return ink, paper


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=["mnist-png", "digits", "colour-digits"])
    parser.add_argument("out", type=Path)
    parser.add_argument("--data-dir", default=os.environ.get("RNNCLS_DATA_DIR"))
    args = parser.parse_args(argv)
    if args.kind == "mnist-png":
        mnist_png(args.out, args.data_dir)
    elif args.kind == "digits":
        digits(args.out)
    else:
        colour_digits(args.out, args.data_dir)
    print(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
