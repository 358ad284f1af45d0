#!/usr/bin/python3
"""The PyTorch side of bench/compare_torch.sh.

Trains the same two Fashion-MNIST models as bench/mlp_epoch.soma and bench/cnn_epoch.soma, the
same way (batch 128, Adam 1e-3, a fresh shuffle every epoch, the last partial batch kept, loss and
accuracy tracked every step as fit does), and prints one machine-readable line per model:

  RESULT framework=torch model=mlp epochs=5 first_s=0.61 median_s=0.55 times=0.61,0.55,...
         test_accuracy=0.8712

With --peers it also times the operations of bench/peers.soma and sgemm:

  PEER name=torch_elementwise median_ms=...  (each operation of bench/peers.soma)
  PEER name=numpy_sgemm_1024 gflops=...     (and torch_sgemm_1024)

Without PyTorch it says so on stderr ("PyTorch not installed: apt install python3-torch"), still
prints numpy's sgemm with --peers, and exits with status 3.

Run it with Debian's python (/usr/bin/python3), which sees python3-torch and python3-numpy:

  OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 /usr/bin/python3 bench/torch_fashion_mnist.py \
      --models mlp,cnn --epochs 5 --threads 2 --peers
"""

import argparse
import gzip
import os
import statistics
import struct
import sys
import time

try:
    import numpy as np
except ImportError:
    sys.exit("numpy not installed: apt install python3-numpy")

DEFAULT_DATA = "/usr/share/datasets/fashion-mnist"


def data_dir():
    """Where the IDX files are: $SOMA_DATA (or its fashion-mnist/), else the Debian package's."""
    env = os.environ.get("SOMA_DATA")
    dirs = [os.path.join(env, "fashion-mnist"), env] if env else []
    for d in dirs + [DEFAULT_DATA]:
        if os.path.exists(os.path.join(d, "train-images-idx3-ubyte.gz")) or os.path.exists(
            os.path.join(d, "train-images-idx3-ubyte")
        ):
            return d
    sys.exit(
        "Fashion-MNIST not found in %s: apt install dataset-fashion-mnist (or set SOMA_DATA)"
        % DEFAULT_DATA
    )


def read_idx(path):
    """An IDX file (gzip or not) as a numpy array: magic 0,0,type,rank, big-endian u32 dims."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    zero, kind, rank = struct.unpack(">HBB", raw[:4])
    if zero != 0 or kind != 0x08:
        raise ValueError("%s: not a u8 IDX file" % path)
    dims = struct.unpack(">%dI" % rank, raw[4 : 4 + 4 * rank])
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * rank).reshape(dims)


def load_fashion_mnist():
    d = data_dir()

    def load(name):
        p = os.path.join(d, name + ".gz")
        return read_idx(p if os.path.exists(p) else os.path.join(d, name))

    # Scaled to [0, 1] as soma's fashion_mnist() does.
    x_train = load("train-images-idx3-ubyte").astype(np.float32) / np.float32(255)
    y_train = load("train-labels-idx1-ubyte").astype(np.int64)
    x_test = load("t10k-images-idx3-ubyte").astype(np.float32) / np.float32(255)
    y_test = load("t10k-labels-idx1-ubyte").astype(np.int64)
    return x_train, y_train, x_test, y_test


def Reshape(torch, shape):
    """soma's Reshape layer: a new per-sample shape (the batch axis kept)."""

    class _Reshape(torch.nn.Module):
        def forward(self, x):
            return x.reshape((x.shape[0],) + shape)

    return _Reshape()


def make_model(torch, name):
    nn = torch.nn
    if name == "mlp":
        model = nn.Sequential(
            nn.Flatten(),
            nn.Linear(784, 256),
            nn.ReLU(),
            nn.Linear(256, 128),
            nn.ReLU(),
            nn.Linear(128, 10),
        )
    elif name == "cnn":
        # NCHW, valid padding: 28 -> 26 -> 13 -> 11 -> 5, so 64 * 5 * 5 features.
        model = nn.Sequential(
            Reshape(torch, (1, 28, 28)),
            nn.Conv2d(1, 32, 3),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(64 * 5 * 5, 128),
            nn.ReLU(),
            nn.Linear(128, 10),
        )
    else:
        raise ValueError("unknown model %r (mlp, cnn)" % name)
    # soma's (Keras's) initialization: glorot-uniform kernels, zero biases.
    for m in model.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)
    return model


def train(torch, name, data, epochs, batch_size, seed):
    x_train, y_train, x_test, y_test = data
    torch.manual_seed(seed)
    model = make_model(torch, name)
    # Adam 1e-3 with soma's (Keras's) epsilon.
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    loss_fn = torch.nn.CrossEntropyLoss()
    xs, ys = torch.from_numpy(x_train), torch.from_numpy(y_train)
    n = xs.shape[0]
    gen = torch.Generator().manual_seed(seed)
    times = []
    for epoch in range(epochs):
        model.train()
        t0 = time.perf_counter()
        order = torch.randperm(n, generator=gen)
        loss_sum, correct = 0.0, 0
        for b in range(0, n, batch_size):
            idx = order[b : b + batch_size]
            xb, yb = xs[idx], ys[idx]
            logits = model(xb)
            loss = loss_fn(logits, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            # What fit reports: the running loss and accuracy, read every step.
            loss_sum += loss.item() * yb.shape[0]
            correct += (logits.argmax(1) == yb).sum().item()
        times.append(time.perf_counter() - t0)
        print(
            "torch %s epoch %d/%d - %.3fs - loss: %.4f - accuracy: %.4f"
            % (name, epoch + 1, epochs, times[-1], loss_sum / n, correct / n),
            flush=True,
        )
    model.eval()
    correct = 0
    with torch.no_grad():
        xt, yt = torch.from_numpy(x_test), torch.from_numpy(y_test)
        for b in range(0, xt.shape[0], 1000):
            correct += (model(xt[b : b + 1000]).argmax(1) == yt[b : b + 1000]).sum().item()
    acc = correct / x_test.shape[0]
    rest = times[1:] or times
    print(
        "RESULT framework=torch model=%s epochs=%d first_s=%.4f median_s=%.4f times=%s "
        "test_accuracy=%.4f"
        % (
            name,
            epochs,
            times[0],
            statistics.median(rest),
            ",".join("%.4f" % t for t in times),
            acc,
        ),
        flush=True,
    )


def median_time(fn, runs, warmup=2):
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def blas_library():
    """The BLAS shared library this process loaded (numpy and torch use libblas.so.3)."""
    try:
        with open("/proc/self/maps") as f:
            libs = {line.split()[-1] for line in f if "blas" in line.lower()}
        return ",".join(sorted(os.path.realpath(p) for p in libs)) or "unknown"
    except OSError:
        return "unknown"


def families(torch, runs):
    """The operations of bench/peers.soma, each through PyTorch's eager call, named as there."""
    g = torch.Generator().manual_seed(0)

    def rand(*shape, grad=False):
        return torch.rand(*shape, generator=g).requires_grad_(grad)

    n = 16777216
    x, w, b = rand(n), rand(n), rand(n)
    yield "elementwise", lambda: torch.sigmoid(x * w + b) * x
    s = rand(4096, 4096)
    yield "softmax_rows", lambda: torch.softmax(s, dim=1)
    conv = torch.nn.functional.conv2d
    img, k1, g1 = rand(128, 1, 28, 28), rand(32, 1, 3, 3, grad=True), rand(128, 32, 26, 26)
    h, k2, g2 = rand(128, 32, 13, 13, grad=True), rand(64, 32, 3, 3, grad=True), rand(128, 64, 11, 11)

    def forward(x, k):
        with torch.no_grad():
            return conv(x, k)

    def train(x, k, gy, wrt):
        for t in wrt:
            t.grad = None
        loss = (conv(x, k) * gy).sum()
        loss.backward()
        return loss.item() + sum(t.grad.sum().item() for t in wrt)

    yield "conv1_forward", lambda: forward(img, k1)
    yield "conv1_train", lambda: train(img, k1, g1, [k1])
    yield "conv2_forward", lambda: forward(h, k2)
    yield "conv2_train", lambda: train(h, k2, g2, [h, k2])


def peers(torch, runs):
    """bench/peers.soma's operations (torch) and sgemm 1024 (numpy, and torch when present)."""
    if torch is not None:
        for name, fn in families(torch, runs):
            t = median_time(fn, runs)
            print("PEER name=torch_%s median_ms=%.3f" % (name, t * 1e3), flush=True)

    n = 1024
    flops = 2.0 * n * n * n
    rng = np.random.default_rng(0)
    a = rng.random((n, n), dtype=np.float32)
    b = rng.random((n, n), dtype=np.float32)
    c = np.empty((n, n), dtype=np.float32)
    t = median_time(lambda: np.matmul(a, b, out=c), runs)
    print("PEER name=numpy_sgemm_1024 gflops=%.1f median_ms=%.3f" % (flops / t / 1e9, t * 1e3))
    if torch is not None:
        ta, tb = torch.from_numpy(a), torch.from_numpy(b)
        tc = torch.empty(n, n)
        t = median_time(lambda: torch.matmul(ta, tb, out=tc), runs)
        print("PEER name=torch_sgemm_1024 gflops=%.1f median_ms=%.3f" % (flops / t / 1e9, t * 1e3))
    print("PEER blas=%s" % blas_library(), flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", default="mlp,cnn", help="comma-separated: mlp, cnn")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--peers", action="store_true", help="bench/peers.soma's operations, sgemm")
    p.add_argument("--peer-runs", type=int, default=20)
    args = p.parse_args()
    try:
        import torch
    except ImportError:
        torch = None
        print("PyTorch not installed: apt install python3-torch", file=sys.stderr, flush=True)
    if torch is not None:
        torch.set_num_threads(args.threads)
        print(
            "torch %s, %d threads, batch %d"
            % (torch.__version__, torch.get_num_threads(), args.batch_size),
            flush=True,
        )
        models = [m for m in args.models.split(",") if m]
        if models:
            data = load_fashion_mnist()
            for m in models:
                train(torch, m, data, args.epochs, args.batch_size, args.seed)
    if args.peers:
        peers(torch, args.peer_runs)
    return 0 if torch is not None else 3


if __name__ == "__main__":
    sys.exit(main())
