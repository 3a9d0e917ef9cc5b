#!/usr/bin/env python3
"""GPTQ reference for tests/test_gptq.c: a random weight W (32 x 128) and the Hessian H = X^T X
of correlated random inputs X (512 x 128, with a few large channels, as real activations have),
and GPTQ's dequantized result for q8_0, q4_0, q4_1 (and q4_0 with activation order), computed
here in float64 with numpy, independently of seek.

The algorithm is Frantar et al. 2022 (Algorithm 1): H += damp * mean(diag H) * I, U = the upper
Cholesky factor of H^-1, columns in order (or by decreasing H_ii with act order), each column's
error (w - q) / U_ii pushed onto the later columns with row i of U, lazily per block of B columns.
The grid of each 32-value block (its fp16 scale d, and min m for q4_1) is what ggml's reference
quantizer picks for the block, here gguf-py's (gguf.quants.quantize), from the block's current
values when the algorithm reaches its first column, or from the original weights with act order.

Writes tests/fixtures/quant/gptq_{W,H}.f32 and gptq_<case>.f32 (W's shape, dequantized).
usage: python3 tests/ref/gen_gptq_ref.py"""
import os

import numpy as np
from gguf import GGMLQuantizationType as T
from gguf.quants import quantize

ROWS, COLS, N, BLOCK, DAMP = 32, 128, 512, 64, 0.01
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "quant")

# type: (gguf type, block bytes, has min, qmin, qmax)
FORMATS = {"q8_0": (T.Q8_0, 34, False, -127, 127), "q4_0": (T.Q4_0, 18, False, -8, 7), "q4_1": (T.Q4_1, 20, True, 0, 15)}


def grids(fmt, rows_block):
    """(scale, offset) per row for 32-value blocks, as the format's quantizer chooses them."""
    gt, nbytes, has_min, _, _ = FORMATS[fmt]
    raw = quantize(rows_block.astype(np.float32), gt).reshape(rows_block.shape[0], nbytes)
    d = raw[:, 0:2].copy().view(np.float16).astype(np.float64)[:, 0]
    m = raw[:, 2:4].copy().view(np.float16).astype(np.float64)[:, 0] if has_min else np.zeros_like(d)
    return d, m


def gptq(W0, H0, fmt, act_order):
    _, _, _, qmin, qmax = FORMATS[fmt]
    W = W0.astype(np.float64).copy()
    H = H0.astype(np.float64).copy()
    C = W.shape[1]
    dead = np.diag(H) <= 0
    H[dead, dead] = 1
    perm = np.argsort(-np.diag(H), kind="stable") if act_order else np.arange(C)
    W = W[:, perm]
    H = H[perm][:, perm]
    H += DAMP * np.mean(np.diag(H)) * np.eye(C)
    U = np.linalg.cholesky(np.linalg.inv(H)).T  # upper, U^T U = H^-1
    scale = np.zeros((W.shape[0], C))
    offset = np.zeros((W.shape[0], C))
    if act_order:  # static grids from the original weights
        for c in range(0, C, 32):
            d, m = grids(fmt, W0[:, c:c + 32])
            scale[:, c:c + 32] = d[:, None]
            offset[:, c:c + 32] = m[:, None]
    Q = np.zeros_like(W)
    for i1 in range(0, C, BLOCK):
        i2 = min(i1 + BLOCK, C)
        err = np.zeros((W.shape[0], i2 - i1))
        for i in range(i1, i2):
            c = perm[i]
            if not act_order and c % 32 == 0:
                d, m = grids(fmt, W[:, i:i + 32])
                scale[:, c:c + 32] = d[:, None]
                offset[:, c:c + 32] = m[:, None]
            a, b = scale[:, c], offset[:, c]
            safe = np.where(a != 0, a, 1)
            q = np.where(a != 0, np.clip(np.rint((W[:, i] - b) / safe), qmin, qmax), 0)
            Q[:, c] = a * q + b
            e = (W[:, i] - Q[:, c]) / U[i, i]
            W[:, i:i2] -= np.outer(e, U[i, i:i2])
            err[:, i - i1] = e
        W[:, i2:] -= err @ U[i1:i2, i2:]
    return Q


def main():
    rng = np.random.default_rng(7)
    W = rng.standard_normal((ROWS, COLS)).astype(np.float32) * 0.05
    mix = rng.standard_normal((COLS, COLS)) / np.sqrt(COLS)
    X = rng.standard_normal((N, COLS)) @ (np.eye(COLS) + 0.7 * mix)
    X[:, [3, 50, 97]] *= 8.0  # outlier channels
    X[:, 120] = 0.0           # a channel no input reaches
    H = (X.T @ X).astype(np.float32)
    os.makedirs(OUT, exist_ok=True)
    W.tofile(os.path.join(OUT, "gptq_W.f32"))
    H.tofile(os.path.join(OUT, "gptq_H.f32"))
    for name, fmt, act in [("q8_0", "q8_0", False), ("q4_0", "q4_0", False), ("q4_1", "q4_1", False),
                           ("q4_0_act", "q4_0", True)]:
        Q = gptq(W, H, fmt, act)
        Q.astype(np.float32).tofile(os.path.join(OUT, f"gptq_{name}.f32"))
        d = W.astype(np.float64) - Q
        print(f"{name}: proxy loss {np.einsum('rc,cd,rd->', d, H.astype(np.float64), d):.6g}")


if __name__ == "__main__":
    main()
