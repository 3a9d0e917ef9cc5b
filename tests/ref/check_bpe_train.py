"""Checks a tokenizer written by `seek tokenizer-train` against Hugging Face `tokenizers`, which
shares no code with it:

1. the GGUF (read with llama.cpp's gguf-py) has the tokenizer.ggml.* keys llama.cpp expects, and
   the vocabulary size asked for;
2. a Hugging Face byte-level BPE built from its tokens and merges, with the GPT-2 ByteLevel
   pre-tokenizer, encodes a held-out text to the same ids as seek (and decodes them back);
3. Hugging Face's own BpeTrainer, on the same text with the same pre-tokenizer, learns the same
   merges. Both break ties between equal counts by the smaller (left id, right id), with ids in
   the same order, so the lists should be equal (tests/test_bpe_train.c holds seek to that rule
   exactly). Should a later `tokenizers` break ties another way, the lists may part only at a
   tie, and the merge counts (replayed here on HF's pre-tokens) must stay nearly the same.

Usage: check_bpe_train.py TOK.gguf TRAIN.txt HELDOUT.txt SEEK_IDS.txt N_VOCAB
Exit status 0 when everything matches; each failure is printed."""

import collections
import json
import sys

import gguf
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

EOT = "<|endoftext|>"


def read_gguf(path):
    r = gguf.GGUFReader(path)

    def field(key):
        f = r.fields.get(key)
        if f is None:
            return None
        t = f.types[0]
        if t == gguf.GGUFValueType.STRING:
            return bytes(f.parts[f.data[0]]).decode("utf-8")
        if t == gguf.GGUFValueType.ARRAY:
            if f.types[1] == gguf.GGUFValueType.STRING:
                return [bytes(f.parts[i]).decode("utf-8") for i in f.data]
            return [int(f.parts[i][0]) for i in f.data]
        return f.parts[f.data[0]][0].item()

    keys = ["model", "pre", "tokens", "token_type", "merges", "bos_token_id", "eos_token_id", "add_bos_token"]
    return {k: field("tokenizer.ggml." + k) for k in keys}, len(r.tensors)


def byte_level():
    return pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)


def replay_counts(words, merges):
    """How often each merge's pair occurs when it is applied, merges applied in order to the
    words (a Counter of pre-token strings in byte-level characters)."""
    syms = [list(w) for w in words]
    freq = list(words.values())
    counts, where = collections.Counter(), collections.defaultdict(set)
    for i, s in enumerate(syms):
        for p in zip(s, s[1:]):
            counts[p] += freq[i]
            where[p].add(i)
    out = []
    for a, b in merges:
        out.append(counts[(a, b)])
        for i in where.pop((a, b), ()):
            s, f = syms[i], freq[i]
            for p in zip(s, s[1:]):
                counts[p] -= f
            n, j = [], 0
            while j < len(s):
                if j + 1 < len(s) and s[j] == a and s[j + 1] == b:
                    n.append(a + b)
                    j += 2
                else:
                    n.append(s[j])
                    j += 1
            syms[i] = n
            for p in zip(n, n[1:]):
                counts[p] += f
                where[p].add(i)
    return out


def main():
    gguf_path, train_path, held_path, ids_path, n_vocab = sys.argv[1:6]
    n_vocab = int(n_vocab)
    fails = []

    def check(ok, msg):
        if not ok:
            fails.append(msg)
            print("FAIL", msg)

    kv, n_tensors = read_gguf(gguf_path)
    tokens, merges = kv["tokens"], kv["merges"]
    eot = len(tokens) - 1
    check(kv["model"] == "gpt2" and kv["pre"] == "gpt-2", f"model/pre are {kv['model']}/{kv['pre']}, want gpt2/gpt-2")
    check(len(tokens) == n_vocab, f"{len(tokens)} tokens, asked for {n_vocab}")
    check(tokens[eot] == EOT and kv["bos_token_id"] == eot and kv["eos_token_id"] == eot,
          f"bos/eos {kv['bos_token_id']}/{kv['eos_token_id']} should be {EOT} = {eot}")
    check(kv["add_bos_token"] is False or kv["add_bos_token"] == 0, "add_bos_token should be false")
    check(kv["token_type"] == [1] * eot + [3], "token types: normal, then <|endoftext|> control")
    check(n_tensors == 0, f"a tokenizer file has no tensors ({n_tensors})")
    check(len(set(tokens)) == len(tokens), "tokens are distinct")
    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet(), key=ord)
    check(tokens[:256] == alphabet, "the first 256 tokens are GPT-2's byte characters by code point")

    # 2. the same vocabulary in Hugging Face's BPE encodes the held-out text the same way
    pairs = [tuple(m.split(" ")) for m in merges]
    check(all(len(p) == 2 for p in pairs), "every merge is 'left right'")
    tok = Tokenizer(models.BPE(vocab={t: i for i, t in enumerate(tokens)}, merges=pairs))
    tok.pre_tokenizer = byte_level()
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([EOT])
    held = open(held_path, encoding="utf-8").read()
    hf_ids = tok.encode(held).ids
    seek_ids = [int(x) for x in open(ids_path).read().split()]
    first = next((i for i, (a, b) in enumerate(zip(hf_ids, seek_ids)) if a != b), None)
    if first is None and len(hf_ids) != len(seek_ids):
        first = min(len(hf_ids), len(seek_ids))
    check(first is None, f"held-out ids differ at {first}: seek {seek_ids[first:first + 8] if first is not None else ''}"
          f", HF {hf_ids[first:first + 8] if first is not None else ''}")
    check(tok.decode(seek_ids) == held, "HF decodes seek's ids back to the held-out text")
    print(f"held-out text: {len(held.encode())} bytes -> {len(seek_ids)} tokens, same ids as HF")

    # 3. Hugging Face's trainer on the same text
    train = open(train_path, encoding="utf-8").read()
    hf = Tokenizer(models.BPE())
    hf.pre_tokenizer = byte_level()
    trainer = trainers.BpeTrainer(vocab_size=n_vocab, special_tokens=[EOT], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    hf.train_from_iterator([train], trainer)
    hf_merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m)
                 for m in json.loads(hf.to_str())["model"]["merges"]]
    if hf_merges == pairs:
        print(f"merges: all {len(pairs)} equal to HF BpeTrainer's")
    else:
        # Both lists replayed on HF's pre-tokens: they may part only at a tie, and afterwards the
        # counts stay close (another tie order shifts a few counts by one or two: 3793 of 3839
        # positions were equal when seek's tie rule was reversed on purpose).
        words = collections.Counter(w for w, _ in byte_level().pre_tokenize_str(train))
        k = next((i for i, (a, b) in enumerate(zip(pairs, hf_merges)) if a != b), min(len(pairs), len(hf_merges)))
        ours, theirs = replay_counts(words, pairs), replay_counts(words, hf_merges)
        tie = k < len(ours) and k < len(theirs) and ours[k] == theirs[k]
        check(tie,
              f"merges part at {k} of {len(pairs)} without a tie: seek {pairs[k:k + 1]} (count {ours[k:k + 1]}), "
              f"HF {hf_merges[k:k + 1]} (count {theirs[k:k + 1]})")
        check(all(c > 0 for c in ours) and all(a >= b for a, b in zip(ours, ours[1:])),
              "seek's merge counts fall (each merge takes the most frequent pair left)")
        same = sum(a == b for a, b in zip(ours, theirs))
        check(len(ours) == len(theirs) and same >= 0.95 * len(ours),
              f"merge counts equal HF's at {same} of {len(ours)} positions ({len(theirs)} merges in HF), want 95%")
        print(f"merges: the first {k} equal HF BpeTrainer's, then {'a tie broken another way' if tie else 'not'}; "
              f"counts equal at {same} of {len(ours)} positions")

    print(f"check_bpe_train: {'ok' if not fails else str(len(fails)) + ' failed'}")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
