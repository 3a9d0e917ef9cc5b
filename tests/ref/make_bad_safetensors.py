#!/usr/bin/env python3
"""Writes the safetensors fixtures of tests/test_safetensors.c with the real `safetensors` library
(pip safetensors, the independent reference writer), so the reader is checked against files it
did not write itself.

Usage: make_bad_safetensors.py [OUTDIR]   (default tests/fixtures/safetensors)
  ref.safetensors          every dtype family seek uses, a scalar, an empty tensor and metadata;
                           the test checks each value's bits exactly
  bad_<what>.safetensors   a small valid file broken in one way that the reference reader
                           (safetensors.deserialize) also refuses; the script checks it does
Needs numpy and safetensors; BF16 and F8 data are given as raw bits (numpy has no such dtypes)."""
import json
import os
import struct
import sys

import numpy as np
from safetensors import SafetensorError, TensorSpec, deserialize, serialize


def save(tensors, metadata=None):
    """tensors: name -> (safetensors dtype name, shape, numpy array holding the bytes)."""
    keep = []
    specs = {}
    for name, (dtype, shape, arr) in tensors.items():
        arr = np.ascontiguousarray(arr)
        keep.append(arr)
        specs[name] = TensorSpec(dtype=dtype, shape=shape, data_ptr=arr.ctypes.data, data_len=arr.nbytes)
    return bytes(serialize(specs, metadata=metadata))


def split(blob):
    n = struct.unpack_from("<Q", blob)[0]
    return json.loads(blob[8:8 + n]), blob[8 + n:]


def join(header, buf):
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((-len(h)) % 8)
    return struct.pack("<Q", len(h)) + h + buf


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/safetensors"
    os.makedirs(out, exist_ok=True)
    ref = save({
        "w": ("float32", (2, 3), np.arange(6, dtype="<f4") * 0.5 - 1),
        "h": ("float16", (4,), np.array([1.5, -2, 65504, 2.0 ** -24], dtype="<f2")),
        "b": ("bfloat16", (2, 2), np.array([0x3F80, 0xC000, 0x7F80, 0x0001], dtype="<u2")),
        "f8": ("float8_e4m3fn", (4,), np.array([0x38, 0x40, 0xC8, 0x7E], dtype="u1")),
        "f8b": ("float8_e5m2", (2,), np.array([0x3C, 0xC0], dtype="u1")),
        "i64": ("int64", (2,), np.array([-1, 2 ** 40], dtype="<i8")),
        "mask": ("bool", (3,), np.array([True, False, True])),
        "s": ("float64", (), np.array(3.25, dtype="<f8")),
        "e": ("float32", (0, 3), np.zeros((0, 3), dtype="<f4")),
    }, metadata={"format": "pt", "source": "make_bad_safetensors.py"})
    deserialize(ref)
    open(os.path.join(out, "ref.safetensors"), "wb").write(ref)

    base = save({"a": ("float32", (2,), np.array([1, 2], dtype="<f4")),
                 "c": ("float32", (1,), np.array([3], dtype="<f4"))})
    header, buf = split(base)
    bad = {"truncated": base[:-1], "header_len": struct.pack("<Q", len(base)) + base[8:]}
    h = json.loads(json.dumps(header))
    h["c"]["data_offsets"] = [4, 8]
    bad["overlap"] = join(h, buf + b"\0" * 4)
    h = json.loads(json.dumps(header))
    h["c"]["shape"] = [2]
    bad["shape"] = join(h, buf)
    for what, blob in bad.items():
        try:
            deserialize(blob)
        except SafetensorError:
            pass
        else:
            sys.exit(f"the reference reader accepts bad_{what}")
        open(os.path.join(out, f"bad_{what}.safetensors"), "wb").write(blob)


if __name__ == "__main__":
    main()
