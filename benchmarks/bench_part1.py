"""Part I benchmark: the 2-64-3 spiral network of chapters 6-9.

    python benchmarks/bench_part1.py        (or `make bench`, which runs every benchmark)

Measures, on 3,000 spiral points (1,000 per class), full batch, float64:
  * one training step (forward + backward + SGD update) of Layer_Dense(2, 64) - ReLU -
    Layer_Dense(64, 3) - softmax + cross-entropy, as the library does it;
  * the same step with the softmax backward done the slides' first way, one Jacobian matrix
    per sample in a Python loop;
  * the softmax backward alone, three ways: the per-sample Jacobian loop, the vectorized
    Jacobian-vector product (Activation_Softmax.backward), and the combined softmax +
    cross-entropy gradient (p - y) / N (CalcSoftmaxLossGrad.backward);
  * a whole RunMyANN run with the course defaults (10,000 epochs, no plot, no file);
  * the same training step in PyTorch, if it happens to be installed.

Medians of several repeats; absolute times drift between runs on shared machines, so read
the ratios, which are all measured in this one process. Nothing is asserted.
"""
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # runnable directly from a checkout
    sys.path.insert(0, str(ROOT))

from annicas_lib import (  # noqa: E402
    Activation_ReLU,
    Activation_Softmax,
    CalcSoftmaxLossGrad,
    Layer_Dense,
    Loss_CategoricalCrossEntropy,
    Optimizer_SGD,
    RunMyANN,
    make_spiral,
)

SAMPLES_PER_CLASS, CLASSES, HIDDEN = 1000, 3, 64


def median_seconds(fn, *, repeats=7, number=20, warmup=3):
    """Median over `repeats` of the mean time of `number` calls of fn()."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - start) / number)
    return statistics.median(times)


def softmax_backward_per_sample(probabilities, dvalues):
    """The slides' first softmax backward: one (C, C) Jacobian diag(p) - p p^T per sample, in a loop."""
    dinputs = np.empty_like(dvalues)
    for i, (p, d) in enumerate(zip(probabilities, dvalues)):
        p = p.reshape(-1, 1)
        jacobian = np.diagflat(p) - p @ p.T
        dinputs[i] = jacobian @ d
    return dinputs


class SpiralNet:
    """The chapter-9 network and one full-batch training step, in the library's vocabulary."""

    def __init__(self, x, y, per_sample_softmax=False):
        self.x, self.y = x, y
        self.dense1 = Layer_Dense(2, HIDDEN, rng=0)
        self.activation1 = Activation_ReLU()
        self.dense2 = Layer_Dense(HIDDEN, CLASSES, rng=1)
        self.loss_activation = CalcSoftmaxLossGrad()
        self.softmax, self.loss_function = Activation_Softmax(), Loss_CategoricalCrossEntropy()
        self.optimizer = Optimizer_SGD(learning_rate=1.0, decay=1e-3, momentum=0.9)
        self.per_sample_softmax = per_sample_softmax

    def step(self):
        self.dense1.forward(self.x)
        self.activation1.forward(self.dense1.output)
        self.dense2.forward(self.activation1.output)
        if self.per_sample_softmax:  # softmax and loss apart, the softmax gradient sample by sample
            self.softmax.forward(self.dense2.output)
            self.loss_function.calculate(self.softmax.output, self.y)
            self.loss_function.backward(self.softmax.output, self.y)
            dscores = softmax_backward_per_sample(self.softmax.output, self.loss_function.dinputs)
        else:
            self.loss_activation.forward(self.dense2.output, self.y)
            dscores = self.loss_activation.backward(self.loss_activation.output, self.y)
        self.dense2.backward(dscores)
        self.activation1.backward(self.dense2.dinputs)
        self.dense1.backward(self.activation1.dinputs)
        self.optimizer.pre_update_params()
        self.optimizer.update_params(self.dense1)
        self.optimizer.update_params(self.dense2)
        self.optimizer.post_update_params()


def torch_step_seconds(x, y, net):
    """The same step in PyTorch (float64, same initial weights, SGD with decay and momentum), or None."""
    try:
        import torch
    except ImportError:
        return None
    torch.manual_seed(0)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    model = torch.nn.Sequential(torch.nn.Linear(2, HIDDEN), torch.nn.ReLU(), torch.nn.Linear(HIDDEN, CLASSES)).double()
    with torch.no_grad():
        model[0].weight.copy_(torch.from_numpy(net.dense1.weights.T.copy()))
        model[0].bias.zero_()
        model[2].weight.copy_(torch.from_numpy(net.dense2.weights.T.copy()))
        model[2].bias.zero_()
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda t: 1.0 / (1.0 + 1e-3 * t))
    loss_fn = torch.nn.CrossEntropyLoss()

    def step():
        optimizer.zero_grad()
        loss = loss_fn(model(xt), yt)
        loss.backward()
        optimizer.step()
        scheduler.step()

    return median_seconds(step)


def main():
    x, y = make_spiral(SAMPLES_PER_CLASS, CLASSES, seed=0)
    print(f"Spiral network 2-{HIDDEN}-{CLASSES}, {len(x):,} points, full batch, float64; medians of 7 repeats.")

    fast = SpiralNet(x, y)
    step_fast = median_seconds(fast.step)
    slow = SpiralNet(x, y, per_sample_softmax=True)
    step_slow = median_seconds(slow.step, repeats=5, number=3, warmup=1)

    # the softmax backward alone, on the probabilities of the (trained a little) network
    probabilities = fast.loss_activation.output
    loss_function, softmax = Loss_CategoricalCrossEntropy(), Activation_Softmax()
    softmax.forward(fast.dense2.output)
    dvalues = loss_function.backward(probabilities, y)
    combined = median_seconds(lambda: fast.loss_activation.backward(probabilities, y), number=200)
    jvp = median_seconds(lambda: (loss_function.backward(probabilities, y), softmax.backward(dvalues)), number=200)
    per_sample = median_seconds(lambda: softmax_backward_per_sample(probabilities, dvalues), repeats=5, number=2, warmup=1)
    # all three compute the same gradient (up to rounding)
    reference = fast.loss_activation.backward(probabilities, y)
    assert np.allclose(softmax.backward(dvalues), reference, atol=1e-9)
    assert np.allclose(softmax_backward_per_sample(probabilities, dvalues), reference, atol=1e-9)

    start = time.perf_counter()
    result = RunMyANN(plot=False, path=None, verbose=False)
    run_seconds = time.perf_counter() - start
    n_points = len(result.y)

    torch_seconds = torch_step_seconds(x, y, SpiralNet(x, y))

    rows = [
        ("training step (forward + backward + SGD update)", step_fast * 1e3, "ms", 1.0, "step"),
        ("  same, softmax backward per-sample Jacobian loop", step_slow * 1e3, "ms", step_slow / step_fast, "step"),
        ("softmax backward: combined (p - y) / N", combined * 1e3, "ms", 1.0, "combined"),
        ("softmax backward: vectorized Jacobian-vector product", jvp * 1e3, "ms", jvp / combined, "combined"),
        ("softmax backward: per-sample Jacobian loop", per_sample * 1e3, "ms", per_sample / combined, "combined"),
    ]
    if torch_seconds is not None:
        rows.insert(1, ("  same step in PyTorch (float64)", torch_seconds * 1e3, "ms", torch_seconds / step_fast, "step"))
    width = max(len(r[0]) for r in rows) + 2
    print(f"{'measurement':<{width}}{'time':>12}   {'ratio':>9}  relative to")
    print("-" * (width + 40))
    for name, value, unit, ratio, base in rows:
        base_name = "library step" if base == "step" else "combined gradient"
        print(f"{name:<{width}}{value:>9.3f} {unit:<2}   {ratio:>8.1f}x  {base_name}")
    print(f"{f'RunMyANN defaults: 10,000 epochs, {n_points} points':<{width}}{run_seconds:>9.2f} s    "
          f"(train accuracy {result.accuracy:.3f})")
    if torch_seconds is None:
        print("torch not installed: column skipped")


if __name__ == "__main__":
    main()
