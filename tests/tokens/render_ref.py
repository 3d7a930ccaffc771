#!/usr/bin/env python3
"""The rendering half of the --format tokens reference (hf_tokens.mjs does the
tokenizing half): renders each case with Python's Jinja2 configured the way
transformers' apply_chat_template configures it (a sandboxed environment with
trim_blocks, lstrip_blocks and loop controls; tojson without ASCII escapes;
raise_exception and strftime_now), and places every message by difference,
never by searching the text: the conversation is rendered again twice with
only that message's content replaced by two dummies that differ in their
first and last characters; the common prefix and suffix of the two renders are
the template's own text around the content, and what the real render holds
between them is the content as printed (possibly with white space cut at its
ends, as Python's str.strip cuts it).

Usage: render_ref.py TOKENIZER_CONFIG.json CASES.jsonl OUT.jsonl
Writes per case {"id", "text", "places": [{"msg", "start", "end", "lead",
"train"}]} (code points; train: the message's per-code-point mask) or
{"id", "error"} when the template refuses the conversation or changes a
content beyond cutting white space.
"""
import json
import sys
from datetime import datetime

import jinja2
import jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment

DUMMY = ["\u0001lacuna\u0001", "\u0002reference dummy\u0002"]


class TemplateRefused(Exception):
    pass


def raise_exception(message):
    raise TemplateRefused(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def token_text(v):
    if isinstance(v, str):
        return v
    if isinstance(v, dict):
        return v.get("content", "")
    return ""


class Generation(jinja2.ext.Extension):
    """transformers' {% generation %} ... {% endgeneration %} (AssistantTracker):
    marks assistant text for its own masks and prints the body as it is."""
    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        return jinja2.nodes.CallBlock(self.call_method("_render", []), [], [], body).set_lineno(lineno)

    def _render(self, caller):
        return caller()


def load(config_path):
    cfg = json.load(open(config_path, encoding="utf-8"))
    source = cfg["chat_template"]
    if isinstance(source, list):
        source = next(t["template"] for t in source if t["name"] == "default")
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols, Generation])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
    template = env.from_string(source)
    special = {k: token_text(cfg.get(k)) for k in ("bos_token", "eos_token", "unk_token", "pad_token")}

    def render(messages):
        return template.render(messages=messages, add_generation_prompt=False, tools=None, documents=None,
                               **special)
    return render


def common_prefix(a, b):
    i = 0
    while i < len(a) and i < len(b) and a[i] == b[i]:
        i += 1
    return i


def common_suffix(a, b):
    i = 0
    while i < len(a) and i < len(b) and a[-1 - i] == b[-1 - i]:
        i += 1
    return i


def place(render, msgs, i, text):
    r = [render([dict(m, content=d) if k == i else m for k, m in enumerate(msgs)]) for d in DUMMY]
    if r[0] == r[1]:
        return None  # the template does not print this message (Mistral v0.3's system before an assistant turn)
    pre, suf = common_prefix(r[0], r[1]), common_suffix(r[0], r[1])
    before, after = r[0][:pre], r[0][len(r[0]) - suf:]
    if not text.startswith(before) or not text.endswith(after) or pre + suf > len(text):
        raise TemplateRefused(f"message {i + 1}: the rendering around it changes with its content")
    printed = text[pre:len(text) - suf]
    content = msgs[i]["content"]
    for a in range(0, len(content) - len(printed) + 1):
        if content[:a].strip() != "":
            break
        if content[a:a + len(printed)] == printed and content[a + len(printed):].strip() == "":
            return {"msg": i, "start": pre, "end": pre + len(printed), "lead": a}
    raise TemplateRefused(f"message {i + 1}: printed as something other than its content with white space cut")


def main(config_path, cases_path, out_path):
    render = load(config_path)
    # closed explicitly: a refused case's traceback can keep this frame in a
    # reference cycle, and an unclosed file then loses its tail at exit
    with open(out_path, "w", encoding="utf-8") as out, open(cases_path, encoding="utf-8") as cases:
        write_cases(render, cases, out)


def write_cases(render, cases, out):
    for line in cases:
        if not line.strip():
            continue
        c = json.loads(line)
        msgs, masks = [], []
        for m in c["messages"]:
            parts = m.get("parts") or [{"text": m["content"], "train": m.get("train", m["role"] == "assistant")}]
            msgs.append({"role": m["role"], "content": "".join(p["text"] for p in parts)})
            masks.append([bool(p["train"]) for p in parts for _ in p["text"]])
        try:
            text = render(msgs)
            places = []
            for i, m in enumerate(msgs):
                # blank untrained messages hold nothing to train nor bound
                if m["content"].strip() == "" and not (m["content"] and any(masks[i])):
                    continue
                p = place(render, msgs, i, text)
                if p is None:
                    if any(masks[i]):
                        raise TemplateRefused(f"message {i + 1} has a trained part and is not printed")
                    continue
                p["train"] = masks[i]
                places.append(p)
        except (TemplateRefused, jinja2.TemplateError) as e:
            out.write(json.dumps({"id": c["id"], "error": str(e)}, ensure_ascii=False) + "\n")
            continue
        out.write(json.dumps({"id": c["id"], "text": text, "roles": [m["role"] for m in msgs], "places": places},
                             ensure_ascii=False) + "\n")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(*sys.argv[1:])
