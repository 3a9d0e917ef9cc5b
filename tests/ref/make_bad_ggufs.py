#!/usr/bin/env python3
"""Writes corrupt variants of a real GGUF for the CLI's bad-input tests (tests/test_cli_errors.sh).

Usage: make_bad_ggufs.py MODEL.gguf OUTDIR
Only the standard library: the header is walked with struct so each corruption hits one field.
Each output file differs from the model in exactly the way its name says."""
import os
import struct
import sys

SIZES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}


def walk(data):
    """Returns (offsets of named fields, end of tensor infos)."""
    pos = 0

    def rd(fmt):
        nonlocal pos
        v = struct.unpack_from(fmt, data, pos)
        pos += struct.calcsize(fmt)
        return v[0]

    def rd_str():
        n = rd("<Q")
        nonlocal pos
        s = data[pos:pos + n]
        pos += n
        return s

    def skip_value(t):
        nonlocal pos
        if t == 8:
            rd_str()
        elif t == 9:
            et, n = rd("<I"), rd("<Q")
            for _ in range(n):
                skip_value(et)
        else:
            pos += SIZES[t]

    fields = {}
    rd("<I"), rd("<I")
    fields["n_tensors"] = pos
    n_tensors = rd("<Q")
    n_kv = rd("<Q")
    for _ in range(n_kv):
        key_pos = pos + 8
        key = rd_str().decode()
        t = rd("<I")
        fields["key:" + key] = key_pos
        fields["val:" + key] = pos
        skip_value(t)
    for i in range(n_tensors):
        rd_str()
        nd = rd("<I")
        pos += 8 * nd
        if i == 0:
            fields["tensor0_type"] = pos
        pos += 4 + 8
    return fields


def main():
    model, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    data = open(model, "rb").read()
    f = walk(data)

    def write(name, blob):
        with open(os.path.join(out, name), "wb") as fh:
            fh.write(blob)

    def patch(offset, raw):
        b = bytearray(data)
        b[offset:offset + len(raw)] = raw
        return bytes(b)

    write("truncated.gguf", data[:4096])
    write("bad_magic.gguf", patch(0, b"GGUX"))
    write("huge_tensor_count.gguf", patch(f["n_tensors"], struct.pack("<Q", 1 << 60)))
    write("data_past_end.gguf", data[: len(data) * 9 // 10])
    write("unknown_tensor_type.gguf", patch(f["tensor0_type"], struct.pack("<I", 99)))
    arch_val = f["val:general.architecture"] + 8  # skip the string length
    write("unknown_arch.gguf", patch(arch_val, b"mamba"))
    write("missing_key.gguf", patch(f["key:llama.block_count"], b"llama.block_coun_"))
    write("empty.gguf", b"")


if __name__ == "__main__":
    main()
