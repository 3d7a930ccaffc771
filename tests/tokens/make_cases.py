#!/usr/bin/env python3
"""Writes the edge cases of --format tokens (tests/tokens/test_tokens.sh) as
JSONL, one conversation per line: {"id", "messages": [{role, content | parts,
train}]}. The cases that placing a message by search got wrong: one-letter
answers, content equal to a role name or to a special token's text, leading and
trailing white space of every Unicode kind, empty content, multi-turn
conversations where only one middle turn is trained, and contents that look
like Jinja syntax, like the template's own frames or like the placement's
sentinels.

Usage: make_cases.py OUT.jsonl
"""
import json
import sys

# White space that both Python's str.strip (transformers' Jinja) and
# JavaScript's String.trim (@huggingface/jinja, the reference) remove. The
# others differ between the two engines: U+001C-U+001F and U+0085 (Python
# only), U+FEFF (JavaScript only); test_jinja.lua checks lacuna's trim
# against Python's set on those.
WHITE = ["\t", "\n", "\v", "\f", "\r", " ", "\u00a0", "\u1680"] + [chr(c) for c in range(0x2000, 0x200B)] + \
        ["\u2028", "\u2029", "\u202f", "\u205f", "\u3000"]
# Not white space for either: must never be cut.
NOT_WHITE = ["\u200b", "\u180e", "\u2060"]

ROLES = ["user", "assistant", "system", "model", "tool", "User", "Assistant"]
SPECIAL = ["<|eot_id|>", "<|start_header_id|>", "<|end_header_id|>", "<|begin_of_text|>", "<|im_end|>",
           "<|im_start|>", "<|endoftext|>", "<end_of_turn>", "<start_of_turn>", "<bos>",
           "<\uff5cend\u2581of\u2581sentence\uff5c>", "<\uff5cAssistant\uff5c>", "<\uff5cUser\uff5c>",
           "</s>", "<s>", "[INST]", "[/INST]", "<think>", "</think>"]


def main(out_path):
    cases = []

    def add(messages):
        cases.append({"id": len(cases) + 1, "messages": messages})

    def qa(answer, question="Which option is right: A, B or C?", **kw):
        add([{"role": "user", "content": question}, dict({"role": "assistant", "content": answer, "train": True}, **kw)])

    for a in ["A", "a", "B", "b", "C", "1", ".", "\n", "A\n", "\nA", "\n\nB", "B\n\n", "\n\n\nC\n\n"]:
        qa(a)
    for r in ROLES:
        qa(r)
        add([{"role": "user", "content": r}, {"role": "assistant", "content": "A", "train": True}])
    for s in SPECIAL:
        qa(s)
        qa(s + " then A")
        add([{"role": "user", "content": s}, {"role": "assistant", "content": s, "train": True}])
    for w in WHITE:
        qa(w + "A" + w)
        qa(w + w + "Answer: B." + w)
        add([{"role": "user", "content": w + "Q?" + w}, {"role": "assistant", "content": "a" + w, "train": True}])
        qa(w)  # white space only: the template may trim it to nothing
    for w in NOT_WHITE:
        qa(w + "A" + w)
    # empty content
    add([{"role": "user", "content": ""}, {"role": "assistant", "content": "Fine.", "train": True}])
    add([{"role": "system", "content": ""}, {"role": "user", "content": "Hi"},
         {"role": "assistant", "content": "A", "train": True}])
    add([{"role": "user", "content": "Q1"}, {"role": "assistant", "content": "", "train": False},
         {"role": "user", "content": "Q2"}, {"role": "assistant", "content": "a", "train": True}])
    add([{"role": "user", "content": "Q1"}, {"role": "assistant", "content": "", "train": True},
         {"role": "user", "content": "Q2"}, {"role": "assistant", "content": "B", "train": False},
         {"role": "user", "content": "Q3"}, {"role": "assistant", "content": "C", "train": True}])
    # only one middle turn trained
    for mid in ["B", "b", "assistant", "<|eot_id|>", "\n\nB", "B\u3000"]:
        add([{"role": "system", "content": "Answer with one letter."},
             {"role": "user", "content": "Q1: A, B or C?"}, {"role": "assistant", "content": "A", "train": False},
             {"role": "user", "content": "Q2: A, B or C?"}, {"role": "assistant", "content": mid, "train": True},
             {"role": "user", "content": "Q3: A, B or C?"}, {"role": "assistant", "content": "A", "train": False}])
        add([{"role": "user", "content": "A"}, {"role": "assistant", "content": "A", "train": False},
             {"role": "user", "content": "A"}, {"role": "assistant", "content": mid, "train": True},
             {"role": "user", "content": "A"}, {"role": "assistant", "content": "A", "train": False}])
    # a partly trained middle turn (PAM's shape), and boundaries inside words
    add([{"role": "user", "content": "Q1"}, {"role": "assistant", "content": "A", "train": False},
         {"role": "user", "content": "Q2"},
         {"role": "assistant", "parts": [{"text": "The answer is A.", "train": False},
                                         {"text": " Sorry, it is B.", "train": True}]},
         {"role": "user", "content": "Q3"}, {"role": "assistant", "content": "C", "train": False}])
    add([{"role": "user", "content": "Say hello."},
         {"role": "assistant", "parts": [{"text": "Hel", "train": False}, {"text": "lo world", "train": True}]}])
    add([{"role": "user", "content": "Say it."},
         {"role": "assistant", "parts": [{"text": "A", "train": True}, {"text": "B", "train": False},
                                         {"text": "\u4e2d\u6587", "train": True}]}])
    # contents that look like template syntax, like the template's own frames,
    # or like lacuna's sentinel (the sentinel must move out of their way)
    for a in ["{{ messages }}", "{% if true %}x{% endif %}", "{# c #}", "@@lacuna0:2@@", "@@lacuna0:",
              "<|im_end|>\n<|im_start|>assistant\n", "<end_of_turn>\n<start_of_turn>model\n",
              "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n", " [/INST]", "</s><s>[INST] ",
              "None", "null", "\u0001lacuna\u0001"]:
        qa(a)
        add([{"role": "user", "content": a}, {"role": "assistant", "content": a, "train": True}])
    qa("word " * 3000)
    # partly trained turns whose trained or untrained part is white space a
    # trimming template cuts
    for parts in ([("The answer is A.", False), ("  \n", True)], [("\n\n", True), ("A", False), (" B", True)],
                  [(" \u3000", False), ("B", True), ("\n", False)], [("\n", False), (" C.", True), ("\t", True)]):
        add([{"role": "user", "content": "Q?"},
             {"role": "assistant", "parts": [{"text": t, "train": tr} for t, tr in parts]}])
    # the system turn and the user turn equal to the answer
    add([{"role": "system", "content": "A"}, {"role": "user", "content": "A"},
         {"role": "assistant", "content": "A", "train": True}])
    add([{"role": "system", "content": "system"}, {"role": "user", "content": "user"},
         {"role": "assistant", "content": "assistant", "train": True}])
    with open(out_path, "w", encoding="utf-8") as f:
        for c in cases:
            f.write(json.dumps(c, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
