"""The linear probe of ``zoo features --classifier logistic``: a logistic regression on fixed
features, its regularisation chosen by cross-validation (scikit-learn's ``LogisticRegressionCV``)."""

from __future__ import annotations

from typing import Any

import torch

from zoo.errors import ZooError

__all__ = ["FIXED_C", "LOGISTIC_CS", "LOGISTIC_FOLDS", "logistic_probe"]


#: The grid of inverse regularisation strengths C the logistic classifier's cross-validation searches: 1e-4 .. 1e4, one per decade.
LOGISTIC_CS: tuple[float, ...] = tuple(10.0**e for e in range(-4, 5))
#: Most folds of that cross-validation (fewer when the smallest class has fewer training images).
LOGISTIC_FOLDS = 5
#: C when cross-validation is impossible (a class with one training image): scikit-learn's default.
FIXED_C = 1.0


def _cv_options() -> dict[str, Any]:
    """Arguments newer scikit-learn releases want stated (their defaults are changing), when the installed one has them."""
    import inspect

    from sklearn.linear_model import LogisticRegressionCV

    params = inspect.signature(LogisticRegressionCV).parameters
    wanted = {"l1_ratios": (0.0,), "use_legacy_attributes": False}  # plain L2; C_ a float (scikit-learn >= 1.8)
    return {k: v for k, v in wanted.items() if k in params}


def logistic_probe(
    train_x: torch.Tensor, train_y: torch.Tensor, val_x: torch.Tensor, val_y: torch.Tensor, *, seed: int = 0
) -> dict[str, Any]:
    """A linear classifier on fixed features, its regularisation chosen by cross-validation.

    ``StandardScaler`` then scikit-learn's ``LogisticRegressionCV`` (L2, lbfgs, multinomial),
    fitted on the training split: C is chosen from :data:`LOGISTIC_CS` (1e-4 to 1e4, 9
    values, one per decade) by stratified k-fold cross-validation on the training split
    (``StratifiedKFold(k, shuffle=True, random_state=seed)``, ``k = min(5, images of the
    smallest class)``, scored by log-loss, which separates the Cs where a few held-out
    images per fold tie on accuracy), then refitted on the whole training split with that C.
    The scaler is fitted on the whole training split before the folds are cut.

    With one training image in some class (K = 1 shot) no fold can hold that class out and
    still train on it, so cross-validation is impossible: C is then fixed at
    :data:`FIXED_C` (1.0, scikit-learn's default) and the result says so
    (``selection="fixed"``, ``cv_folds=0``, ``note``).

    Args:
        train_x, val_x: ``(N, D)`` float32 features; train_y, val_y: ``(N,)`` int64 labels.
        seed: ``random_state`` of the folds and the solver.

    Returns:
        ``classifier`` ("logistic"), ``selection`` ("cross-validation" or "fixed"), ``C`` (the
        one used), ``Cs`` (the grid searched, ``[]`` when fixed), ``cv_folds`` (0 when fixed),
        ``cv_scoring`` ("neg_log_loss" or ``None``), ``note`` (why C is fixed, or ``None``),
        ``train_accuracy`` and ``val_accuracy`` (0..1), ``train_images``, ``val_images``.

    Raises:
        ZooError: an empty split, or fewer than 2 classes in the training split.
    """
    import numpy as np
    from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
    from sklearn.metrics import accuracy_score
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if len(train_y) == 0 or len(val_y) == 0:
        raise ZooError(f"the logistic classifier needs a training and a held-out split; got {len(train_y)} and {len(val_y)} images")
    _, counts = np.unique(train_y.numpy(), return_counts=True)
    if len(counts) < 2:
        raise ZooError("the logistic classifier needs at least 2 classes in the training split")
    folds = min(LOGISTIC_FOLDS, int(counts.min()))
    note = None
    if folds >= 2:
        cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
        head = LogisticRegressionCV(Cs=list(LOGISTIC_CS), cv=cv, scoring="neg_log_loss", max_iter=2000, random_state=seed, **_cv_options())
    else:
        note = (
            f"C fixed at {FIXED_C:g}: a class has only {int(counts.min())} training image, too few to cross-validate "
            "(each fold must both train on and hold out every class)"
        )
        head = LogisticRegression(C=FIXED_C, max_iter=2000, random_state=seed)
    clf = make_pipeline(StandardScaler(), head)
    clf.fit(train_x.numpy(), train_y.numpy())
    chosen = float(np.ravel(head.C_)[0]) if folds >= 2 else FIXED_C
    return {
        "classifier": "logistic",
        "selection": "cross-validation" if folds >= 2 else "fixed",
        "C": chosen,
        "Cs": list(LOGISTIC_CS) if folds >= 2 else [],
        "cv_folds": folds if folds >= 2 else 0,
        "cv_scoring": "neg_log_loss" if folds >= 2 else None,
        "note": note,
        # accuracy_score, not clf.score: LogisticRegressionCV.score returns its CV scoring (log-loss)
        "train_accuracy": float(accuracy_score(train_y.numpy(), clf.predict(train_x.numpy()))),
        "val_accuracy": float(accuracy_score(val_y.numpy(), clf.predict(val_x.numpy()))),
        "train_images": len(train_y),
        "val_images": len(val_y),
    }
