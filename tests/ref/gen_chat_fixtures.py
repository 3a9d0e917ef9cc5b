#!/usr/bin/env python3
"""Generates tests/fixtures/chat/expected.txt: what Hugging Face transformers'
tokenizer.apply_chat_template(msgs, tokenize=False, add_generation_prompt=...) renders for a few
conversations under each family's published template (the reference; the C code never makes
expected values).

Templates: SmolLM2-135M-Instruct (read from the model GGUF's tokenizer.chat_template), Qwen2.5-7B-Instruct
(ChatML with a default system prompt), a plain ChatML, DeepSeek-R1-Distill-Qwen-32B, DeepSeek-V3,
deepseek-llm-7b-chat and Meta-Llama-3-8B-Instruct, as published in their tokenizer_config.json.

Format (one record per line, fields separated by single spaces, text fields hex-encoded UTF-8):
  template NAME FAMILY HEX(template text)
  case TEMPLATE_NAME GEN(0|1) HEX(bos text) N_MSGS
  msg ROLE HEX(content)            (N_MSGS of them)
  expect HEX(rendered text)

Usage: python3 tests/ref/gen_chat_fixtures.py [--smollm2 PATH.gguf]   (needs transformers, tokenizers, gguf)
"""
import argparse
import os

from tokenizers import Tokenizer, models
from transformers import PreTrainedTokenizerFast

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

QWEN25 = """{%- if tools %}
    {{- '<|im_start|>system\\n' }}
    {%- if messages[0]['role'] == 'system' %}
        {{- messages[0]['content'] }}
    {%- else %}
        {{- 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' }}
    {%- endif %}
    {{- "\\n\\n# Tools\\n\\nYou may call one or more functions to assist with the user query.\\n\\nYou are provided with function signatures within <tools></tools> XML tags:\\n<tools>" }}
    {%- for tool in tools %}
        {{- "\\n" }}
        {{- tool | tojson }}
    {%- endfor %}
    {{- "\\n</tools>\\n\\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\\n<tool_call>\\n{\\"name\\": <function-name>, \\"arguments\\": <args-json-object>}\\n</tool_call><|im_end|>\\n" }}
{%- else %}
    {%- if messages[0]['role'] == 'system' %}
        {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}
    {%- else %}
        {{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}
    {%- endif %}
{%- endif %}
{%- for message in messages %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) or (message.role == "assistant" and not message.tool_calls) %}
        {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}
    {%- elif message.role == "assistant" %}
        {{- '<|im_start|>' + message.role }}
        {%- if message.content %}
            {{- '\\n' + message.content }}
        {%- endif %}
        {%- for tool_call in message.tool_calls %}
            {%- if tool_call.function is defined %}
                {%- set tool_call = tool_call.function %}
            {%- endif %}
            {{- '\\n<tool_call>\\n{"name": "' }}
            {{- tool_call.name }}
            {{- '", "arguments": ' }}
            {{- tool_call.arguments | tojson }}
            {{- '}\\n</tool_call>' }}
        {%- endfor %}
        {{- '<|im_end|>\\n' }}
    {%- elif message.role == "tool" %}
        {%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != "tool") %}
            {{- '<|im_start|>user' }}
        {%- endif %}
        {{- '\\n<tool_response>\\n' }}
        {{- message.content }}
        {{- '\\n</tool_response>' }}
        {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}
            {{- '<|im_end|>\\n' }}
        {%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\\n' }}
{%- endif %}
"""

CHATML = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}"
          "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")

_DS_TOOLS = (
    "{%- if message['role'] == 'assistant' and message['content'] is none %}{%- set ns.is_tool = false -%}{%- for tool in message['tool_calls']%}"
    "{%- if not ns.is_first %}{{'<｜Assistant｜><｜tool▁calls▁begin｜><｜tool▁call▁begin｜>' + tool['type'] + '<｜tool▁sep｜>' + tool['function']['name'] + '\\n' + '```json' + '\\n' + tool['function']['arguments'] + '\\n' + '```' + '<｜tool▁call▁end｜>'}}"
    "{%- set ns.is_first = true -%}{%- else %}{{'\\n' + '<｜tool▁call▁begin｜>' + tool['type'] + '<｜tool▁sep｜>' + tool['function']['name'] + '\\n' + '```json' + '\\n' + tool['function']['arguments'] + '\\n' + '```' + '<｜tool▁call▁end｜>'}}"
    "{{'<｜tool▁calls▁end｜><｜end▁of▁sentence｜>'}}{%- endif %}{%- endfor %}{%- endif %}"
)
_DS_TOOL_OUT = (
    "{%- if message['role'] == 'tool' %}{%- set ns.is_tool = true -%}{%- if ns.is_output_first %}"
    "{{'<｜tool▁outputs▁begin｜><｜tool▁output▁begin｜>' + message['content'] + '<｜tool▁output▁end｜>'}}{%- set ns.is_output_first = false %}"
    "{%- else %}{{'\\n<｜tool▁output▁begin｜>' + message['content'] + '<｜tool▁output▁end｜>'}}{%- endif %}{%- endif %}{%- endfor -%}"
    "{% if ns.is_tool %}{{'<｜tool▁outputs▁end｜>'}}{% endif %}"
)

DEEPSEEK_R1 = (
    "{% if not add_generation_prompt is defined %}{% set add_generation_prompt = false %}{% endif %}"
    "{% set ns = namespace(is_first=false, is_tool=false, is_output_first=true, system_prompt='') %}"
    "{%- for message in messages %}{%- if message['role'] == 'system' %}{% set ns.system_prompt = message['content'] %}{%- endif %}{%- endfor %}"
    "{{bos_token}}{{ns.system_prompt}}{%- for message in messages %}{%- if message['role'] == 'user' %}{%- set ns.is_tool = false -%}{{'<｜User｜>' + message['content']}}{%- endif %}"
    + _DS_TOOLS +
    "{%- if message['role'] == 'assistant' and message['content'] is not none %}{%- if ns.is_tool %}{{'<｜tool▁outputs▁end｜>' + message['content'] + '<｜end▁of▁sentence｜>'}}{%- set ns.is_tool = false -%}"
    "{%- else %}{% set content = message['content'] %}{% if '</think>' in content %}{% set content = content.split('</think>')[-1] %}{% endif %}"
    "{{'<｜Assistant｜>' + content + '<｜end▁of▁sentence｜>'}}{%- endif %}{%- endif %}"
    + _DS_TOOL_OUT +
    "{% if add_generation_prompt and not ns.is_tool %}{{'<｜Assistant｜><think>\\n'}}{% endif %}"
)

DEEPSEEK_V3 = (
    "{% if not add_generation_prompt is defined %}{% set add_generation_prompt = false %}{% endif %}"
    "{% set ns = namespace(is_first=false, is_tool=false, is_output_first=true, system_prompt='', is_first_sp=true) %}"
    "{%- for message in messages %}{%- if message['role'] == 'system' %}{%- if ns.is_first_sp %}{% set ns.system_prompt = ns.system_prompt + message['content'] %}"
    "{% set ns.is_first_sp = false %}{%- else %}{% set ns.system_prompt = ns.system_prompt + '\\n\\n' + message['content'] %}{%- endif %}{%- endif %}{%- endfor %}"
    "{{bos_token}}{{ns.system_prompt}}{%- for message in messages %}{%- if message['role'] == 'user' %}{%- set ns.is_tool = false -%}{{'<｜User｜>' + message['content']}}{%- endif %}"
    + _DS_TOOLS +
    "{%- if message['role'] == 'assistant' and message['content'] is not none %}{%- if ns.is_tool %}{{'<｜tool▁outputs▁end｜>' + message['content'] + '<｜end▁of▁sentence｜>'}}{%- set ns.is_tool = false -%}"
    "{%- else %}{{'<｜Assistant｜>' + message['content'] + '<｜end▁of▁sentence｜>'}}{%- endif %}{%- endif %}"
    + _DS_TOOL_OUT +
    "{% if add_generation_prompt and not ns.is_tool %}{{'<｜Assistant｜>'}}{% endif %}"
)

DEEPSEEK_LLM = (
    "{% if not add_generation_prompt is defined %}{% set add_generation_prompt = false %}{% endif %}{{ bos_token }}"
    "{% for message in messages %}{% if message['role'] == 'user' %}{{ 'User: ' + message['content'] + '\\n\\n' }}"
    "{% elif message['role'] == 'assistant' %}{{ 'Assistant: ' + message['content'] + eos_token }}"
    "{% elif message['role'] == 'system' %}{{ message['content'] + '\\n\\n' }}{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}"
)

LLAMA3 = (
    "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + "
    "'<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}"
    "{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}"
)

CONVERSATIONS = [
    [("user", "Hello!")],
    [("system", "You are terse."), ("user", "Hi"), ("assistant", "Hello."), ("user", "How are you?")],
    [("user", "What is 2+2?"), ("assistant", "<think>\nadd them\n</think>\n\n4"), ("user", "And 3+3?")],
    [("user", "q"), ("assistant", "<think>a</think>b</think>c"), ("user", "again")],
    [("system", "First rule."), ("system", "Second rule."), ("user", "x")],
    [("user", "  padded with spaces \n\t"), ("assistant", "\n answer \n")],
    [("user", "你好 🦙 naïve"), ("assistant", "Ça va? ✓")],
    [("user", "one"), ("assistant", "two")],
    [("user", "line1\nline2\n\nline4"), ("assistant", ""), ("user", "")],
    [("user", "<|im_start|> and <｜User｜> as text")],
    [("assistant", "I start."), ("user", "ok")],
]  # (transformers refuses an empty conversation)


def render(template, bos, eos, msgs, gen):
    tok = PreTrainedTokenizerFast(tokenizer_object=Tokenizer(models.BPE()), bos_token=bos, eos_token=eos)
    tok.chat_template = template
    return tok.apply_chat_template([{"role": r, "content": c} for r, c in msgs], tokenize=False,
                                   add_generation_prompt=gen)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--smollm2", default=os.environ.get("SEEK_MODEL", os.path.join(ROOT, "models", "SmolLM2-135M-Instruct.Q4_1.gguf")))
    args = ap.parse_args()
    from gguf import GGUFReader

    f = GGUFReader(args.smollm2).fields["tokenizer.chat_template"]
    smollm2 = bytes(f.parts[f.data[0]]).decode("utf-8")
    ds_bos, ds_eos = "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"
    templates = [  # name, family (what seek_chat_detect must say), text, bos, eos
        ("smollm2", "chatml", smollm2, "<|im_start|>", "<|im_end|>"),
        ("qwen2.5", "chatml", QWEN25, None, "<|im_end|>"),
        ("chatml", "chatml", CHATML, None, "<|im_end|>"),
        ("deepseek-r1", "deepseek-r1", DEEPSEEK_R1, ds_bos, ds_eos),
        ("deepseek-v3", "deepseek-v3", DEEPSEEK_V3, ds_bos, ds_eos),
        ("deepseek-llm", "deepseek-llm", DEEPSEEK_LLM, ds_bos, ds_eos),
        ("llama3", "llama3", LLAMA3, "<|begin_of_text|>", "<|eot_id|>"),
    ]
    lines = []
    n_cases = 0
    for name, family, text, bos, eos in templates:
        lines.append(f"template {name} {family} {text.encode().hex()}")
        # a template that writes no bos_token is rendered with bos None; the C side gets NULL
        for msgs in CONVERSATIONS:
            for gen in (True, False):
                try:
                    out = render(text, bos, eos, msgs, gen)
                except Exception:  # e.g. Qwen2.5 reads messages[0] of an empty list
                    continue
                lines.append(f"case {name} {int(gen)} {(bos or '').encode().hex()} {len(msgs)}")
                for r, c in msgs:
                    lines.append(f"msg {r} {c.encode().hex()}")
                lines.append(f"expect {out.encode().hex()}")
                n_cases += 1
    path = os.path.join(ROOT, "tests", "fixtures", "chat", "expected.txt")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="ascii") as fh:
        fh.write("\n".join(lines) + "\n")
    print(f"{os.path.relpath(path, ROOT)}: {len(templates)} templates, {n_cases} cases")


if __name__ == "__main__":
    main()
