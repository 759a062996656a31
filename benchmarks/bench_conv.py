"""Convolution benchmark: plain loops against im2col, and one CNN training step against PyTorch.

    python benchmarks/bench_conv.py            # or through benchmarks/run.py

1. Layer_Conv2D forward and backward on a batch (100, 3, 31, 31), 25 filters 3x3, stride 2,
   padding 1, float64: the loops of chapter 10 against the im2col layer (ratio).
2. The machine's float32 matrix-multiply throughput (one big product): the ceiling for 3.
3. One training step (forward, backward, SGD update) of
   conv(1->16, 3x3, pad 1)-ReLU-maxpool 2-conv(16->32, 3x3, pad 1)-ReLU-maxpool 2-flatten-dense(1568->10)
   with softmax + cross-entropy on a batch of 128 28x28 images in float32: median time, GFLOP/s,
   share of the matmul ceiling, time per layer, and the same step in PyTorch when torch is importable;
   with all threads, and (when threadpoolctl is importable) with one thread, which a busy machine
   disturbs less.
4. Peak memory of one training step (tracemalloc sees numpy's buffers).

Absolute times drift 10-20 % between runs on shared machines: compare the ratios.
"""
import contextlib
import time
import tracemalloc

import numpy as np

import annicas_lib as al
from annicas_lib import (Activation_ReLU, CalcSoftmaxLossGrad, Layer_Conv2D, Layer_Dense,
                         Layer_MaxPool2D)

BATCH, CLASSES = 128, 10
LEARNING_RATE = 0.01


# ---- 1. the chapter-10 loops ------------------------------------------------------------------

def conv_naive_forward(x, weights, biases, stride, padding):
    """One output number at a time: loops over sample, filter, row, column."""
    N, C, H, W = x.shape
    F, _, kH, kW = weights.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    oH, oW = (H + 2 * padding - kH) // stride + 1, (W + 2 * padding - kW) // stride + 1
    out = np.zeros((N, F, oH, oW))
    for n in range(N):
        for f in range(F):
            for i in range(oH):
                for j in range(oW):
                    window = xp[n, :, i * stride:i * stride + kH, j * stride:j * stride + kW]
                    out[n, f, i, j] = np.sum(window * weights[f]) + biases[f]
    return out


def conv_naive_backward(dout, x, weights, stride, padding):
    N, C, H, W = x.shape
    F, _, kH, kW = weights.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    dxp, dw = np.zeros_like(xp), np.zeros_like(weights)
    for n in range(N):
        for f in range(F):
            for i in range(dout.shape[2]):
                for j in range(dout.shape[3]):
                    rows = slice(i * stride, i * stride + kH)
                    cols = slice(j * stride, j * stride + kW)
                    dw[f] += dout[n, f, i, j] * xp[n, :, rows, cols]
                    dxp[n, :, rows, cols] += dout[n, f, i, j] * weights[f]
    return dxp[:, :, padding:padding + H, padding:padding + W], dw, dout.sum(axis=(0, 2, 3))


def median_time(function, repeats, warmup=1):
    for _ in range(warmup):
        function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def naive_vs_fast(naive_repeats=1, fast_repeats=10):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((100, 3, 31, 31))
    layer = Layer_Conv2D(3, 25, 3, stride=2, padding=1, rng=0, dtype=np.float64)
    layer.biases[:] = rng.standard_normal(25)
    out = layer.forward(x)
    dout = rng.standard_normal(out.shape)
    layer.backward(dout)
    # the two must agree before their times mean anything
    assert np.allclose(out, conv_naive_forward(x, layer.weights, layer.biases, 2, 1), rtol=0, atol=1e-10)
    dx, dw, db = conv_naive_backward(dout, x, layer.weights, 2, 1)
    assert np.allclose(layer.dinputs, dx, rtol=0, atol=1e-10) and np.allclose(layer.dweights, dw, rtol=0, atol=1e-10)
    rows = []
    for what, naive, fast in (
        ("forward", lambda: conv_naive_forward(x, layer.weights, layer.biases, 2, 1), lambda: layer.forward(x)),
        ("backward", lambda: conv_naive_backward(dout, x, layer.weights, 2, 1), lambda: layer.backward(dout)),
    ):
        t_naive = median_time(naive, naive_repeats, warmup=0)
        layer.forward(x)
        t_fast = median_time(fast, fast_repeats)
        rows.append((what, t_naive, t_fast))
    return rows


# ---- 2. the matmul ceiling ----------------------------------------------------------------------

def matmul_gflops(n=2048, dtype=np.float32, repeats=5):
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((n, n)).astype(dtype), rng.standard_normal((n, n)).astype(dtype)
    return 2 * n**3 / median_time(lambda: a @ b, repeats) / 1e9


# ---- 3. one training step -----------------------------------------------------------------------

def _flatten_layer():
    """The library's Layer_Flatten (chapter 13) when it exists, else a two-line stand-in."""
    if hasattr(al, "Layer_Flatten"):
        return al.Layer_Flatten()

    class Reshape:
        def forward(self, inputs):
            self.input_shape = inputs.shape
            self.output = inputs.reshape(len(inputs), -1)
            return self.output

        def backward(self, dvalues):
            self.dinputs = dvalues.reshape(self.input_shape)
            return self.dinputs

    return Reshape()


def build_numpy_net(seed=0):
    layers = [
        Layer_Conv2D(1, 16, 3, padding=1, rng=seed), Activation_ReLU(), Layer_MaxPool2D(2),
        Layer_Conv2D(16, 32, 3, padding=1, rng=seed + 1), Activation_ReLU(), Layer_MaxPool2D(2),
        _flatten_layer(), Layer_Dense(32 * 7 * 7, CLASSES, rng=seed + 2, dtype=np.float32),
    ]
    return layers, CalcSoftmaxLossGrad()


def numpy_step(layers, loss, x, y, timings=None):
    """Forward, backward and a plain SGD update (parameter protocol: every name in layer.params)."""
    clock = time.perf_counter
    out = x
    for k, layer in enumerate(layers):
        start = clock()
        out = layer.forward(out)
        if timings is not None:
            timings.setdefault(("forward", k), []).append(clock() - start)
    start = clock()
    value = loss.forward(out, y)
    grad = loss.backward(loss.output, y)
    if timings is not None:
        timings.setdefault(("loss", -1), []).append(clock() - start)
    for k in range(len(layers) - 1, -1, -1):
        start = clock()
        grad = layers[k].backward(grad)
        if timings is not None:
            timings.setdefault(("backward", k), []).append(clock() - start)
    start = clock()
    for layer in layers:
        for name in getattr(layer, "params", ()):
            parameter = getattr(layer, name)
            parameter -= LEARNING_RATE * getattr(layer, "d" + name).reshape(parameter.shape)
    if timings is not None:
        timings.setdefault(("update", -1), []).append(clock() - start)
    return value


def step_flops():
    """Multiply-adds (x2) of the step's matrix products, counted as the frameworks count them:
    the first layer's input gradient is not needed, so it is not counted."""
    n = BATCH
    conv1 = 2 * n * 16 * 28 * 28 * (1 * 9)
    conv2 = 2 * n * 32 * 14 * 14 * (16 * 9)
    dense = 2 * n * 1568 * CLASSES
    return 3 * (conv2 + dense) + 2 * conv1  # forward, dweights, dinputs (conv1: no dinputs)


def torch_step_factory(layers, x, y):
    """The same network in PyTorch (same initial weights), or None when torch is not importable."""
    try:
        import torch
    except ImportError:
        return None
    conv1, conv2, dense = layers[0], layers[3], layers[7]
    net = torch.nn.Sequential(
        torch.nn.Conv2d(1, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(16, 32, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(1568, CLASSES),
    )
    with torch.no_grad():
        net[0].weight.copy_(torch.from_numpy(conv1.weights)); net[0].bias.copy_(torch.from_numpy(conv1.biases))
        net[3].weight.copy_(torch.from_numpy(conv2.weights)); net[3].bias.copy_(torch.from_numpy(conv2.biases))
        net[7].weight.copy_(torch.from_numpy(dense.weights.T.copy())); net[7].bias.copy_(torch.from_numpy(dense.biases[0]))
    optimizer = torch.optim.SGD(net.parameters(), lr=LEARNING_RATE)
    criterion = torch.nn.CrossEntropyLoss()
    tx, ty = torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss = criterion(net(tx), ty)
        loss.backward()
        optimizer.step()
        return loss.item()

    return step, torch.__version__, torch.get_num_threads()


def peak_step_memory(layers, loss, x, y):
    tracemalloc.start()
    tracemalloc.reset_peak()
    numpy_step(layers, loss, x, y)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def _thread_limit(n_threads):
    """A context that runs BLAS (and torch) with n_threads, or None when threadpoolctl is missing."""
    if n_threads is None:
        return contextlib.nullcontext()
    try:
        import threadpoolctl
    except ImportError:
        return None
    return threadpoolctl.threadpool_limits(n_threads)


def training_step(repeats=30, n_threads=None):
    """Median times of the numpy step and (if torch imports) the torch step, same data and weights.

    The two run in alternating blocks of ten steps: a busy machine slows both alike, and neither
    library's worker threads are still spinning while the other one is timed."""
    limit = _thread_limit(n_threads)
    if limit is None:
        return None
    rng = np.random.default_rng(0)
    x = rng.random((BATCH, 1, 28, 28), dtype=np.float32)
    y = rng.integers(0, CLASSES, BATCH)
    layers, loss = build_numpy_net()
    torch_parts = torch_step_factory(layers, x, y)  # before any update: same starting weights
    with limit:
        if torch_parts is not None:
            import torch

            torch_threads = torch.get_num_threads()
            if n_threads is not None:
                torch.set_num_threads(n_threads)
            torch_loss = torch_parts[0]()
            numpy_loss = numpy_step(layers, loss, x, y)
            assert abs(torch_loss - numpy_loss) < 1e-4, (torch_loss, numpy_loss)
        ceiling = matmul_gflops()
        numpy_times, torch_times, timings = [], [], {}
        for _ in range(2):  # warm-up
            numpy_step(layers, loss, x, y)
            if torch_parts is not None:
                torch_parts[0]()
        for block in range(-(-repeats // 10)):
            # each block starts with one untimed step: the other library's threads have gone quiet by then
            numpy_step(layers, loss, x, y)
            for _ in range(10):
                start = time.perf_counter()
                numpy_step(layers, loss, x, y, timings)
                numpy_times.append(time.perf_counter() - start)
            if torch_parts is not None:
                torch_parts[0]()
                for _ in range(10):
                    start = time.perf_counter()
                    torch_parts[0]()
                    torch_times.append(time.perf_counter() - start)
        threads = torch.get_num_threads() if torch_parts is not None else None
        if torch_parts is not None:
            torch.set_num_threads(torch_threads)
    return dict(
        numpy=float(np.median(numpy_times)),
        torch=float(np.median(torch_times)) if torch_times else None,
        torch_info=(torch_parts[1], threads) if torch_parts else None,
        ceiling=ceiling, layers=layers, timings={k: float(np.median(v)) for k, v in timings.items()},
        peak=peak_step_memory(layers, loss, x, y),
    )


def _print_step_rows(result, flops, label):
    t_np, t_torch, ceiling = result["numpy"], result["torch"], result["ceiling"]
    ratio = f"{t_np / t_torch:>9.2f}x" if t_torch else f"{'-':>10}"
    print(f"   {'numpy ' + label:<20}{t_np * 1e3:>10.1f}{flops / t_np / 1e9:>10.1f}{flops / t_np / 1e9 / ceiling:>11.0%}{ratio}")
    if t_torch:
        version, threads = result["torch_info"]
        print(f"   {'torch ' + label:<20}{t_torch * 1e3:>10.1f}{flops / t_torch / 1e9:>10.1f}"
              f"{flops / t_torch / 1e9 / ceiling:>11.0%}{'1.00x':>10}   (torch {version}, {threads} threads)")


def main(quick=False):
    print("Convolution benchmark (annicas_lib.conv, annicas_lib.pooling)")
    print()
    print("1. Layer_Conv2D on (100, 3, 31, 31), 25 filters 3x3, stride 2, padding 1, float64")
    print(f"   {'pass':<10}{'loops (s)':>12}{'im2col (ms)':>14}{'speed-up':>11}")
    for what, t_naive, t_fast in naive_vs_fast():
        print(f"   {what:<10}{t_naive:>12.2f}{t_fast * 1e3:>14.2f}{t_naive / t_fast:>10.0f}x")
    print()
    result = training_step(repeats=10 if quick else 30)
    flops = step_flops()
    print(f"2. float32 matrix product 2048x2048 @ 2048x2048: {result['ceiling']:.0f} GFLOP/s "
          "(the ceiling: 'of ceiling' below is GFLOP/s divided by this)")
    print()
    print(f"3. Training step, batch {BATCH} of 28x28, float32: conv16-ReLU-pool-conv32-ReLU-pool-flatten-dense10,")
    print(f"   softmax + cross-entropy, SGD update ({flops / 1e6:.1f} MFLOP); median wall-clock time")
    print(f"   {'':<20}{'time (ms)':>10}{'GFLOP/s':>10}{'of ceiling':>12}{'vs torch':>10}")
    _print_step_rows(result, flops, "(all threads)")
    single = training_step(repeats=10 if quick else 20, n_threads=1)
    if single is not None:
        _print_step_rows(single, flops, "(1 thread)")
    if result["torch"] is None:
        print("   torch: not importable here, column skipped (the course never needs it)")
    print("   where the numpy step's time goes (median ms, all threads):")
    names = [type(layer).__name__ for layer in result["layers"]]
    timings = result["timings"]
    for k, name in enumerate(names):
        print(f"     {name:<22}forward {timings[('forward', k)] * 1e3:6.2f}   backward {timings[('backward', k)] * 1e3:6.2f}")
    print(f"     {'loss + update':<22}        {(timings[('loss', -1)] + timings[('update', -1)]) * 1e3:6.2f}")
    print()
    peak = result["peak"] / 2**20
    verdict = "under" if peak < 1024 else "OVER"
    print(f"4. Peak memory of one training step (tracemalloc): {peak:.1f} MiB, {verdict} the 1 GiB budget")
    return result


if __name__ == "__main__":
    main()
