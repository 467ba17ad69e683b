"""Built-in real data sets that ship inside installed packages (usable offline).

* ``digits``: scikit-learn's ``load_digits``: 1,797 real 8x8 handwritten digits, 10
  classes (Alpaydin & Kaynak 1998, UCI Optical Recognition of Handwritten Digits).
* ``faces``: scikit-image's ``data.lfw_subset()``: 200 real 25x25 grayscale crops,
  100 faces then 100 non-faces (Labeled Faces in the Wild, Huang et al. 2007).

``--data digits:0-4`` keeps classes 0..4 (labels renumbered from 0); ``digits:5,7`` keeps 5 and 7.
"""

from __future__ import annotations

from zoo import hookimpl


def _digits():
    import numpy as np
    from sklearn.datasets import load_digits

    d = load_digits()
    images = np.clip(np.round(d.images * (255.0 / 16.0)), 0, 255).astype("uint8")[:, None]  # (N, 1, 8, 8)
    return images, d.target.astype("int64"), [str(i) for i in range(10)]


def _faces():
    import numpy as np
    from skimage.data import lfw_subset

    x = lfw_subset()  # (200, 25, 25) float in [0, 1]; first 100 faces, then 100 non-faces
    images = np.clip(np.round(x * 255.0), 0, 255).astype("uint8")[:, None]
    labels = np.array([1] * 100 + [0] * 100, dtype="int64")
    return images, labels, ["non-face", "face"]


@hookimpl
def zoo_datasets():
    """``{"digits": DatasetSpec, "faces": DatasetSpec}``; each loader returns ``(images uint8
    (N, 1, H, W), labels int64 (N,), class names)`` as numpy arrays. Nothing is loaded here."""
    from zoo.registry.spec import DatasetSpec

    return {
        "digits": DatasetSpec(
            _digits,
            classes=tuple(str(i) for i in range(10)),
            size=1797,
            image_shape=(1, 8, 8),
            description="scikit-learn's handwritten digits (UCI Optical Recognition of Handwritten Digits)",
        ),
        "faces": DatasetSpec(
            _faces,
            classes=("non-face", "face"),
            size=200,
            image_shape=(1, 25, 25),
            description="scikit-image's lfw_subset: 100 faces (Labeled Faces in the Wild) and 100 non-faces",
        ),
    }
