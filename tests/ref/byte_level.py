"""GPT-2's byte-level alphabet (openai/gpt-2 encoder.py bytes_to_unicode): the printable unicode
character each byte stands for in byte-level BPE vocabularies. Shared by the fixture generators
here and bench/gen_moe_gguf.py."""


def bytes_to_unicode():
    """{byte value: character}: printable Latin-1 bytes map to themselves, the rest to 256 + n."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}
