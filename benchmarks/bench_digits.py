"""Part II benchmark: the digits CNN of chapter 14.

Prints (1) the test accuracy the course's numpy CNN reaches on scikit-learn's 8x8 digits with a
longer schedule than the notebook's (goal: >= 0.99 with the default seed), for five seeds and
for the five networks averaged, and (2) training speed in epochs per second (1,168 training
images, batch 32), with one BLAS thread and with the default threads.
If PyTorch happens to be importable, the same network's epoch time in PyTorch is printed next
to it; otherwise that column is skipped (PyTorch is never a dependency of the course).

    python benchmarks/bench_digits.py          # or: make bench
"""
import contextlib
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from annicas_lib import (Activation_ReLU, Layer_BatchNorm, Layer_Conv2D, Layer_Dense,  # noqa: E402
                         Layer_Flatten, Layer_MaxPool2D, Model, load_digits_split)
from annicas_lib.optimizers import Optimizer_Adam  # noqa: E402

BATCH_SIZE = 32


def build_cnn(seed=0):
    """The chapter 14 network: two conv-batchnorm-ReLU-maxpool blocks and a dense layer."""
    return Model([
        Layer_Conv2D(1, 16, 3, padding=1, rng=seed), Layer_BatchNorm(16), Activation_ReLU(), Layer_MaxPool2D(2),
        Layer_Conv2D(16, 32, 3, padding=1, rng=seed + 1), Layer_BatchNorm(32), Activation_ReLU(), Layer_MaxPool2D(2),
        Layer_Flatten(),
        Layer_Dense(32 * 2 * 2, 10, rng=seed + 2, dtype=np.float32),
    ])


def accuracy_run(data, seed=0):
    """A longer schedule than the notebook's: up to 40 epochs, Adam with learning-rate decay,
    early stopping on the validation loss with patience 8. Returns (model, history, seconds)."""
    model = build_cnn(10 * seed)
    model.set(optimizer=Optimizer_Adam(learning_rate=0.01, decay=5e-3))
    start = time.perf_counter()
    history = model.train(data.X_train, data.y_train, epochs=40, batch_size=BATCH_SIZE,
                          validation_data=(data.X_val, data.y_val), early_stopping=8, seed=seed, verbose=False)
    return model, history, time.perf_counter() - start


def numpy_epoch_seconds(data, epochs=6):
    """Median seconds per training epoch (no validation pass), after one warm-up epoch."""
    model = build_cnn(0)
    model.set(optimizer=Optimizer_Adam(learning_rate=0.01))
    history = model.train(data.X_train, data.y_train, epochs=epochs + 1, batch_size=BATCH_SIZE, verbose=False)
    return statistics.median(history["seconds"][1:])


def torch_epoch_seconds(data, epochs=6):
    """The same network and loop in PyTorch (CPU), or None when torch is not installed."""
    try:
        import torch
        from torch import nn
    except ImportError:
        return None
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16, momentum=0.1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32, momentum=0.1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(128, 10),
    )
    loss_function = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01, eps=1e-7)
    X, y = torch.from_numpy(data.X_train), torch.from_numpy(data.y_train)
    generator = np.random.default_rng(0)
    times = []
    for _ in range(epochs + 1):
        start = time.perf_counter()
        model.train()
        order = torch.from_numpy(generator.permutation(len(X)))
        for first in range(0, len(X), BATCH_SIZE):
            batch = order[first:first + BATCH_SIZE]
            optimizer.zero_grad()
            loss = loss_function(model(X[batch]), y[batch])
            loss.backward()
            optimizer.step()
        times.append(time.perf_counter() - start)
    return statistics.median(times[1:])


def main():
    try:
        from threadpoolctl import threadpool_limits  # comes with scikit-learn
    except ImportError:
        threadpool_limits = None

    def one_thread():  # threadpool_limits applies the limit when created, so make a new one each time
        return threadpool_limits(1) if threadpool_limits is not None else contextlib.nullcontext()

    data = load_digits_split(seed=0)
    print(f"digits: {len(data.X_train)} training, {len(data.X_val)} validation, {len(data.X_test)} test images "
          f"(8x8), batch {BATCH_SIZE}")

    n_test = len(data.y_test)
    accuracies, probabilities = [], []
    for seed in range(5):
        with one_thread():  # small matrices: one BLAS thread is fastest (see the table below)
            model, history, seconds = accuracy_run(data, seed)
        probabilities.append(model.predict_proba(data.X_test))
        accuracies.append(float(np.mean(probabilities[-1].argmax(axis=1) == data.y_test)))
        print(f"  seed {seed}: test accuracy {accuracies[-1]:.4f} ({round((1 - accuracies[-1]) * n_test)} of {n_test} wrong), "
              f"{len(history)} epochs (kept epoch {history.best_epoch}), {seconds:.1f} s")
    ensemble = float(np.mean(np.mean(probabilities, axis=0).argmax(axis=1) == data.y_test))
    goal = "reached" if accuracies[0] >= 0.99 else "NOT reached"
    print(f"test accuracy, one network, default seed 0: {accuracies[0]:.4f} (goal >= 0.99: {goal})")
    print(f"  over seeds 0-4: mean {np.mean(accuracies):.4f}, min {min(accuracies):.4f}, max {max(accuracies):.4f}")
    print(f"  the 5 networks averaged (an ensemble of their probabilities): {ensemble:.4f} "
          f"({round((1 - ensemble) * n_test)} of {n_test} wrong)")

    rows = []
    if threadpool_limits is not None:
        with one_thread():
            rows.append(("numpy, 1 BLAS thread", numpy_epoch_seconds(data)))
    rows.append(("numpy, default BLAS threads", numpy_epoch_seconds(data)))
    torch_seconds = torch_epoch_seconds(data)

    print(f"\n{'training speed':<30}{'ms / epoch':>12}{'epochs / s':>12}  {'PyTorch ms / epoch':>28}")
    torch_column = "skipped: torch not installed" if torch_seconds is None else f"{1000 * torch_seconds:.1f}"
    for name, seconds in rows:
        print(f"{name:<30}{1000 * seconds:>12.1f}{1 / seconds:>12.1f}  {torch_column:>28}")
    if torch_seconds is not None:
        print(f"numpy / PyTorch time per epoch: {min(s for _, s in rows) / torch_seconds:.2f}")


if __name__ == "__main__":
    main()
