#!/usr/bin/env python3
"""Builds the tokenizer conformance corpora (python3 stdlib only, deterministic).

Usage: make_corpus.py [--bench] [--force] OUTDIR

Writes OUTDIR/<category>.txt, >= 1 MB each (--bench: OUTDIR/bench.txt, >= 10 MB,
records drawn in turn from english, cjk, arabic, emoji, code, special and
combining). Already-built files whose stamp
matches this script are kept, so a second run costs nothing.

File format: one record per "line", records separated by a single NUL byte
(records contain newlines, tabs and CRs, never NUL). View one with
`tr '\\0' '\\n' < file` or split on b'\\0'.

Categories: english, cjk, arabic, emoji, code, runs (long whitespace, digit and
repeat runs, control and format characters), special (special-token strings
inside text), combining (decomposed accents, Hangul jamo, Devanagari, Thai,
compatibility characters), rare (private use, unassigned and noncharacter
code points, scripts of recent Unicode versions, case-folding traps for the
(?i:'s|...) contractions), invalid (raw bytes that are not UTF-8), and
unicode_new: letters, digits and marks of Unicode 14-16, whose properties
Debian 12's PCRE2/utf8proc and HF tokenizers' own tables disagree on (not in
conformance.sh's default list: see the note at NEW_RANGES).

Invalid UTF-8: invalid.txt holds raw ill-formed bytes. lacuna is fed the bytes
as they are and repairs them itself; the HF reference (hf_dump.mjs) gets the
text decoded by Node's UTF-8 decoder, which, like Rust's from_utf8_lossy and
Python's errors="replace", turns each maximal ill-formed subpart into one
U+FFFD. The comparison is therefore made on the repaired text, with offsets in
code points of the repaired text (one U+FFFD = one code point).

Text comes from word lists and Unicode ranges written here; nothing is
downloaded. Record lengths vary: mostly short, some medium, a few up to 20 KB.
"""

import hashlib
import os
import random
import sys
import unicodedata

MIN_BYTES = 1_000_000 + 50_000  # >= 1 MB per category, with margin
BENCH_BYTES = 10_500_000
MAX_RECORD = 20_000  # bytes

# --------------------------------------------------------------------------
# word lists

EN_WORDS = """the of and to in is that it was for on are as with his they at be this
from have or by one had not but what all were when we there can an your which their
said if do will each about how up out them then she many some so these would other
into has more her two like him see time could no make than first been its who now
people my made over did down only way find use may water long little very after
words called just where most know get through back much before go good new write our
used me man too any day same right look think also around another came come work
three word must because does part even place well such here take why things help
put years different away again off went old number great tell men say small every
found still between name should home big give air line set own under read last never
us left end along while might next sound below saw something thought both few those
always looks show large often together asked house world going want school important
until form food keep children feet land side without boy once animals life enough took
sometimes four head above kind began almost live page got earth need far hand high
year mother light parts country father let night following picture being study second
eyes soon times story boys since white days ever paper hard near sentence better best
across during today others however sure means knew its try told young miles sun ways
thing whole hear example heard several change answer room sea against top turned learn
point city play toward five using himself usually money seen car morning given family
model data training tokenizer loss mask gradient layer token context window attention
network recipe teacher student reasoning strategy answer question segment corpus
benchmark throughput latency memory cache scheduler coroutine runtime compiler
""".split()

EN_CONTRACTIONS = ["don't", "it's", "we'll", "they're", "I've", "I'm", "you'd", "can't",
                   "won't", "she'll", "he's", "that's", "DON'T", "IT'S", "We'RE", "I'D",
                   "o'clock", "rock'n'roll", "y'all", "isn't", "wouldn't've"]
EN_NAMES = ["Alice", "Bob", "Carol", "Dave", "Eve", "Mallory", "Trent", "Zoë", "José",
            "François", "Müller", "O'Brien", "McDonald", "van der Berg", "Nguyễn",
            "Łukasz", "Søren", "Ångström", "Renée", "Björk"]
EN_PUNCT = [".", ".", ".", ",", ",", ";", ":", "!", "?", "...", "—", " - ", "…", "?!"]

# Common hanzi, hiragana/katakana words, hangul words, written out here.
ZH_CHARS = ("的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着"
            "去之过家学对可她里后小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行"
            "方又如前所本见经头面公同三已老从动两长知民样现分将外但身些与高意进把法此实回二理美"
            "点月明其种声全工己话儿者向情部正名定女问力机给等几很业最间新什打便位因重被走电四第"
            "门相次东政海口使教西再平真听世气信北少关并内加化由却代军产入先山五太水万市眼体别处"
            "总才场师书比住员九笑性通目华报立马命张活难神数件安表原车白应路期叫死常提感金何更反"
            "合放做系计或司利受光王果亲界及今京务制解各任至清物台象记边共风战干接它许八特觉望直"
            "服毛林题建南度统色字请交爱让认算论百吃义科怎元社术结六功指思非流每青管夫连远资队跟")
ZH_PUNCT = ["。", "，", "、", "；", "：", "？", "！", "「", "」", "『", "』", "《", "》", "（", "）",
            "——", "……", "·", "“", "”"]
JA_WORDS = ["これは", "それは", "あれは", "わたし", "あなた", "ありがとう", "ございます", "日本語",
            "東京", "大阪", "カタカナ", "ひらがな", "コンピューター", "プログラム", "トークナイザー",
            "データ", "学習", "モデル", "です", "ます", "でした", "ません", "ください", "しかし",
            "そして", "ですか", "ラーメン", "すし", "さくら", "ヴァイオリン", "ウィキペディア",
            "ｶﾀｶﾅ", "ﾃｽﾄ", "ｱｲｳｴｵ", "ー", "っ", "ゃ", "ゅ", "ょ", "ゐ", "ゑ", "ヶ", "〜"]
KO_WORDS = ["안녕하세요", "감사합니다", "한국어", "서울", "부산", "컴퓨터", "프로그램", "데이터",
            "학습", "모델", "입니다", "습니다", "그리고", "하지만", "사람", "사랑", "시간", "세계",
            "토크나이저", "읽기", "쓰기", "값", "닭", "읊다", "꽃", "뷁", "똠방각하", "햏"]

AR_WORDS = """في من على إلى عن مع هذا هذه ذلك التي الذي هو هي نحن أنا أنت كان يكون قال
ليس كل بعض بين عند حتى لكن أو ثم إذا لم لن قد الله العربية اللغة الكتاب المدرسة
البيت الطالب المعلم الحاسوب البرنامج البيانات التعلم النموذج السلام عليكم مرحبا شكرا
جميل كبير صغير جديد قديم اليوم غدا أمس الشمس القمر الماء الأرض السماء""".split()
AR_HARAKAT = [chr(c) for c in range(0x064B, 0x0653)]
FA_WORDS = ["پدر", "چای", "ژاله", "گربه", "کتاب", "فارسی", "زبان", "یک", "دو", "سه"]
HE_WORDS = ["שלום", "עולם", "תודה", "ספר", "מחשב", "אהבה", "ירושלים", "בית"]
RTL_MARKS = ["\u200f", "\u200e", "\u061c", "\u202b", "\u202c", "\u202e", "\u2067", "\u2069",
             "\u2066", "\u2068"]

EMOJI_RANGES = [(0x1F600, 0x1F64F), (0x1F300, 0x1F5FF), (0x1F680, 0x1F6FF),
                (0x1F900, 0x1F9FF), (0x1FA70, 0x1FAFF)]
EMOJI_BMP = [0x2600, 0x2601, 0x2614, 0x2615, 0x2648, 0x267B, 0x26A1, 0x26BD, 0x2705,
             0x2708, 0x2709, 0x270C, 0x270F, 0x2728, 0x2744, 0x274C, 0x2757, 0x2764,
             0x27A1, 0x2B50, 0x2B55, 0x3030, 0x303D, 0x00A9, 0x00AE, 0x2122, 0x2139]
SKIN_BASES = [0x1F44B, 0x1F44D, 0x1F44E, 0x1F44F, 0x1F590, 0x270B, 0x270C, 0x1F64F,
              0x1F9D1, 0x1F469, 0x1F468, 0x1F476, 0x1F46E, 0x1F3C3, 0x1F6B4, 0x1F937]
ZWJ = "\u200d"
VS16 = "\ufe0f"
ZWJ_SEQS = [
    "\U0001F468\u200d\U0001F469\u200d\U0001F467\u200d\U0001F466",  # family
    "\U0001F469\u200d\U0001F4BB", "\U0001F468\u200d\U0001F373", "\U0001F9D1\u200d\U0001F680",
    "\U0001F3F3\ufe0f\u200d\U0001F308",  # rainbow flag
    "\U0001F3F4\u200d\u2620\ufe0f",  # pirate flag
    "\u2764\ufe0f\u200d\U0001F525", "\U0001F441\ufe0f\u200d\U0001F5E8\ufe0f",
    "\U0001F415\u200d\U0001F9BA", "\U0001F43B\u200d\u2744\ufe0f",
    "\U0001F469\u200d\u2764\ufe0f\u200d\U0001F48B\u200d\U0001F468",
    "\U0001F9D1\U0001F3FD\u200d\U0001F680", "\U0001F469\U0001F3FF\u200d\U0001F52C",
    "\U0001F468\U0001F3FB\u200d\U0001F91D\u200d\U0001F468\U0001F3FF",
]
FLAGS = ["US", "FR", "JP", "DE", "CN", "KR", "BR", "IN", "EG", "SA", "IL", "GB", "UA",
         "ZA", "NG", "MX", "CA", "AU", "EU", "UN"]
TAG_FLAGS = ["gbeng", "gbsct", "gbwls", "usca"]

SPECIAL_TOKENS = [
    # Llama 3
    "<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>",
    "<|eot_id|>", "<|eom_id|>", "<|python_tag|>", "<|finetune_right_pad_id|>",
    "<|reserved_special_token_0|>", "<|reserved_special_token_5|>",
    "<|reserved_special_token_247|>",
    # Qwen3 (special and added non-special)
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|image_pad|>",
    "<|object_ref_start|>", "<|box_end|>", "<think>", "</think>", "<tool_call>",
    "</tool_call>", "<tool_response>", "<|fim_prefix|>", "<|fim_middle|>", "<|file_sep|>",
    # Gemma 3 (special, added non-special: unused, HTML-ish tags)
    "<start_of_turn>", "<end_of_turn>", "<bos>", "<eos>", "<pad>", "<unk>", "<mask>",
    "[multimodal]", "<start_of_image>", "<image_soft_token>", "<unused0>", "<unused17>",
    "<unused98>", "<table>", "</table>", "<tr>", "<td>", "<code>", "</code>", "<b>", "</b>",
    "<h1>", "</h2>", "<li>", "<div>", "</div>", "<span>", "<blockquote>",
    # SentencePiece models
    "<s>", "</s>",
]
NEAR_MISSES = ["<|im_start|", "|im_start|>", "<|IM_START|>", "< s>", "<s >", "<<s>>",
               "<|begin_of_text>", "<|eot_id||>", "<start_of_turn", "start_of_turn>",
               "<think >", "<tool_call/>", "<unused>", "<unused-1>", "<TABLE>", "</ s>",
               "<|>", "<||>", "<>", "</>", "<|endoftext|", "[multimodal"]


def _gen_words(rng, n):
    return [rng.choice(EN_WORDS) for _ in range(n)]


def en_sentence(rng):
    n = rng.randint(3, 28)
    words = _gen_words(rng, n)
    for _ in range(rng.randint(0, 3)):
        i = rng.randrange(n)
        r = rng.random()
        if r < 0.3:
            words[i] = rng.choice(EN_CONTRACTIONS)
        elif r < 0.55:
            words[i] = rng.choice(EN_NAMES)
        elif r < 0.7:
            words[i] = str(rng.choice([rng.randint(0, 99), rng.randint(100, 99999),
                                      rng.randint(1900, 2030)]))
        elif r < 0.8:
            words[i] = rng.choice(["$%d.%02d" % (rng.randint(0, 9999), rng.randint(0, 99)),
                                   "%d%%" % rng.randint(0, 100), "3.14159", "1,000,000",
                                   "%d-%02d-%02d" % (rng.randint(1990, 2030), rng.randint(1, 12),
                                                     rng.randint(1, 28)),
                                   "10:%02d" % rng.randint(0, 59), "#%d" % rng.randint(1, 999)])
        elif r < 0.87:
            w = words[i]
            words[i] = rng.choice(['"%s"' % w, "'%s'" % w, "(%s)" % w, "[%s]" % w,
                                   "\u201c%s\u201d" % w, "\u2018%s\u2019" % w, w.upper(),
                                   w + "-" + rng.choice(EN_WORDS), "*%s*" % w, "_%s_" % w])
        elif r < 0.93:
            words[i] = rng.choice(["https://example.com/%s?q=%d" % (words[i], rng.randint(0, 99)),
                                   "%s@example.org" % words[i], "e.g.", "i.e.", "etc.",
                                   "U.S.A.", "Dr.", "Mr.", "St.", "a.m.", "vs."])
        else:
            words[i] = words[i] + rng.choice(EN_PUNCT[:3])
    s = " ".join(words)
    s = s[0].upper() + s[1:]
    return s + rng.choice(EN_PUNCT[:1] * 6 + ["!", "?", "...", ":", ";", "\u2026"])


def gen_english(rng, target):
    out = []
    size = 0
    while size < target:
        s = en_sentence(rng)
        r = rng.random()
        if r < 0.08:
            sep = "\n\n"
        elif r < 0.14:
            sep = "\n"
        elif r < 0.17:
            sep = "  "
        elif r < 0.19:
            sep = "\r\n"
        else:
            sep = " "
        out.append(s)
        out.append(sep)
        size += len(s) + len(sep)
    return "".join(out).rstrip(" ") if rng.random() < 0.8 else "".join(out)


def rand_cp(rng, lo, hi):
    return chr(rng.randint(lo, hi))


def gen_cjk(rng, target):
    out = []
    size = 0
    lang = rng.choice(["zh", "ja", "ko", "mix"])
    while size < target:
        l = lang if lang != "mix" else rng.choice(["zh", "ja", "ko", "en"])
        r = rng.random()
        if l == "zh":
            k = rng.randint(2, 30)
            piece = "".join(rng.choice(ZH_CHARS) if rng.random() < 0.9 else
                            rand_cp(rng, 0x4E00, 0x9FFF) if rng.random() < 0.8 else
                            rand_cp(rng, 0x3400, 0x4DBF) if rng.random() < 0.6 else
                            rand_cp(rng, 0x20000, 0x2A6DF) for _ in range(k))
            piece += rng.choice(ZH_PUNCT)
        elif l == "ja":
            k = rng.randint(1, 8)
            piece = "".join(rng.choice(JA_WORDS) if rng.random() < 0.6 else
                            rand_cp(rng, 0x3041, 0x3096) if rng.random() < 0.5 else
                            rand_cp(rng, 0x30A1, 0x30FA) if rng.random() < 0.7 else
                            rng.choice(ZH_CHARS) for _ in range(k))
            piece += rng.choice(["。", "、", "！", "？", "", "「", "」"])
        elif l == "ko":
            k = rng.randint(1, 6)
            piece = " ".join(rng.choice(KO_WORDS) if rng.random() < 0.7 else
                             "".join(rand_cp(rng, 0xAC00, 0xD7A3)
                                     for _ in range(rng.randint(1, 4))) for _ in range(k))
            piece += rng.choice([".", ",", "!", "?", ""]) + " "
        else:
            piece = " " + en_sentence(rng) + " "
        if r < 0.05:
            piece += str(rng.randint(0, 100000))
        elif r < 0.08:
            piece += "".join(chr(0xFF10 + rng.randint(0, 9)) for _ in range(rng.randint(1, 6)))
        elif r < 0.10:
            piece += "".join(rand_cp(rng, 0xFF21, 0xFF5A) for _ in range(rng.randint(1, 6)))
        elif r < 0.13:
            piece += "\u3000"
        elif r < 0.18:
            piece += "\n"
        out.append(piece)
        size += len(piece.encode("utf-8"))
    return "".join(out)


def gen_arabic(rng, target):
    out = []
    size = 0
    while size < target:
        r = rng.random()
        if r < 0.55:
            words = [rng.choice(AR_WORDS) for _ in range(rng.randint(2, 15))]
            if rng.random() < 0.3:  # fully vocalised words
                words = ["".join(c + (rng.choice(AR_HARAKAT) if rng.random() < 0.6 else "")
                                 for c in w) for w in words]
            if rng.random() < 0.15:  # tatweel (kashida)
                words = [w[:1] + "\u0640" * rng.randint(1, 5) + w[1:] for w in words]
            piece = " ".join(words) + rng.choice(["، ", ". ", "؟ ", "؛ ", " ", "! "])
        elif r < 0.65:
            piece = " ".join(rng.choice(FA_WORDS) for _ in range(rng.randint(1, 6))) + ". "
        elif r < 0.72:
            piece = " ".join(rng.choice(HE_WORDS) for _ in range(rng.randint(1, 6))) + ". "
        elif r < 0.80:
            mark = rng.choice(RTL_MARKS)
            piece = mark + " ".join(rng.choice(AR_WORDS) for _ in range(rng.randint(1, 4))) + \
                rng.choice(["", mark, "\u202c", "\u2069"]) + " "
        elif r < 0.86:
            piece = "".join(chr(0x0660 + rng.randint(0, 9)) for _ in range(rng.randint(1, 12))) + " "
        elif r < 0.90:
            # Arabic presentation forms (compatibility characters)
            piece = "".join(rand_cp(rng, 0xFE70, 0xFEFC) if rng.random() < 0.7 else
                            rand_cp(rng, 0xFB50, 0xFBB1) for _ in range(rng.randint(1, 8))) + " "
        elif r < 0.96:
            # bidi mix: English inside Arabic with explicit marks
            piece = "\u200f" + rng.choice(AR_WORDS) + " \u200e" + en_sentence(rng) + "\u200f " + \
                rng.choice(AR_WORDS) + " " + str(rng.randint(0, 9999)) + " "
        else:
            piece = "\n"
        out.append(piece)
        size += len(piece.encode("utf-8"))
    return "".join(out)


def one_emoji(rng):
    r = rng.random()
    if r < 0.35:
        lo, hi = rng.choice(EMOJI_RANGES)
        return rand_cp(rng, lo, hi)
    if r < 0.45:
        return chr(rng.choice(EMOJI_BMP)) + (VS16 if rng.random() < 0.6 else "")
    if r < 0.6:
        return chr(rng.choice(SKIN_BASES)) + chr(0x1F3FB + rng.randint(0, 4))
    if r < 0.75:
        return rng.choice(ZWJ_SEQS)
    if r < 0.87:
        if rng.random() < 0.8:
            cc = rng.choice(FLAGS)
        else:
            cc = chr(65 + rng.randint(0, 25)) + chr(65 + rng.randint(0, 25))
        return "".join(chr(0x1F1E6 + ord(c) - 65) for c in cc)
    if r < 0.92:
        tag = rng.choice(TAG_FLAGS)
        return "\U0001F3F4" + "".join(chr(0xE0000 + ord(c)) for c in tag) + "\U000E007F"
    if r < 0.97:
        return rng.choice("0123456789#*") + VS16 + "\u20e3"  # keycap
    # random ZWJ join of two emoji, and a lone regional indicator
    if rng.random() < 0.5:
        return one_emoji(rng) + ZWJ + one_emoji(rng)
    return chr(0x1F1E6 + rng.randint(0, 25))


def gen_emoji(rng, target):
    out = []
    size = 0
    while size < target:
        r = rng.random()
        if r < 0.4:
            words = _gen_words(rng, rng.randint(1, 10))
            for _ in range(rng.randint(1, 3)):
                i = rng.randrange(len(words) + 1)
                words.insert(i, one_emoji(rng))
            piece = " ".join(words) + rng.choice([" ", ". ", "! ", "\n"])
        elif r < 0.65:
            piece = "".join(one_emoji(rng) for _ in range(rng.randint(1, 30))) + \
                rng.choice(["", " ", "\n"])
        elif r < 0.8:
            piece = " ".join(one_emoji(rng) for _ in range(rng.randint(1, 10))) + " "
        elif r < 0.9:
            piece = rng.choice(ZH_CHARS) * rng.randint(1, 3) + one_emoji(rng) + \
                rng.choice(KO_WORDS) + one_emoji(rng) + rng.choice(AR_WORDS) + " "
        else:
            e = one_emoji(rng)
            piece = e * rng.randint(2, 40) + " "
        out.append(piece)
        size += len(piece.encode("utf-8"))
    return "".join(out)


# --------------------------------------------------------------------------
# source code

def ident(rng, style):
    parts = [rng.choice(EN_WORDS).replace("'", "") for _ in range(rng.randint(1, 3))]
    if style == "snake":
        return "_".join(parts)
    if style == "camel":
        return parts[0] + "".join(p.capitalize() for p in parts[1:])
    if style == "pascal":
        return "".join(p.capitalize() for p in parts)
    return "_".join(parts).upper()


def c_expr(rng, depth=0):
    r = rng.random()
    if depth > 2 or r < 0.3:
        return rng.choice([ident(rng, "snake"), str(rng.randint(0, 1000)),
                           "0x%X" % rng.randint(0, 0xFFFFFFFF), "%d.%de-%d" % (
                               rng.randint(0, 9), rng.randint(0, 99), rng.randint(1, 12)),
                           "'\\n'", "'a'", "NULL", "sizeof(int)", "%dU" % rng.randint(0, 99)])
    op = rng.choice(["+", "-", "*", "/", "%", "<<", ">>", "&", "|", "^", "&&", "||", "==",
                     "!=", "<=", ">=", "<", ">"])
    return "(%s %s %s)" % (c_expr(rng, depth + 1), op, c_expr(rng, depth + 1))


def gen_c(rng, ind):
    lines = ["#include <%s.h>" % rng.choice(["stdio", "stdlib", "string", "stdint"]), ""]
    if rng.random() < 0.3:
        lines += ["/* %s */" % en_sentence(rng), ""]
    for _ in range(rng.randint(1, 4)):
        fn = ident(rng, "snake")
        args = ", ".join("%s %s" % (rng.choice(["int", "size_t", "const char *", "double",
                                                 "uint8_t *", "struct node *"]), ident(rng, "snake"))
                         for _ in range(rng.randint(0, 3))) or "void"
        lines.append("static %s %s(%s) {" % (rng.choice(["int", "void", "char *", "size_t"]), fn, args))
        depth = 1
        for _ in range(rng.randint(2, 14)):
            r = rng.random()
            pad = ind * depth
            if r < 0.2 and depth < 5:
                lines.append("%s%s (%s) {" % (pad, rng.choice(["if", "while"]), c_expr(rng)))
                depth += 1
            elif r < 0.28 and depth < 5:
                v = ident(rng, "snake")[:8]
                lines.append("%sfor (size_t %s = 0; %s < %d; %s++) {" % (pad, v, v, rng.randint(1, 64), v))
                depth += 1
            elif r < 0.4 and depth > 1:
                depth -= 1
                lines.append(ind * depth + "}")
            elif r < 0.5:
                lines.append('%sprintf("%s: %%d\\n", %s);' % (pad, en_sentence(rng)[:40].replace('"', "'"),
                                                            ident(rng, "snake")))
            elif r < 0.57:
                lines.append("%s// %s" % (pad, en_sentence(rng)))
            elif r < 0.62:
                lines.append("")
            elif r < 0.66:
                lines.append("%sp->%s[%d] = *q++;%s" % (pad, ident(rng, "snake"), rng.randint(0, 9),
                                                       " " * rng.randint(1, 4)))
            else:
                lines.append("%s%s %s = %s;" % (pad, rng.choice(["int", "long", "double", "unsigned"]),
                                                ident(rng, "snake"), c_expr(rng)))
        while depth > 1:
            depth -= 1
            lines.append(ind * depth + "}")
        lines.append("    return 0;" if rng.random() < 0.5 else "\treturn;")
        lines.append("}")
        lines.append("")
    return lines


def gen_py(rng, ind):
    lines = []
    if rng.random() < 0.4:
        lines.append('"""%s"""' % en_sentence(rng))
    lines.append("import %s" % rng.choice(["os", "sys", "json", "re", "math"]))
    lines.append("")
    for _ in range(rng.randint(1, 4)):
        if rng.random() < 0.3:
            lines.append("class %s(%s):" % (ident(rng, "pascal"), rng.choice(["object", "Exception", "dict"])))
            base = 1
            lines.append(ind + "def __init__(self, %s=None):" % ident(rng, "snake"))
            lines.append(ind * 2 + "self.%s = %s" % (ident(rng, "snake"), rng.choice(["[]", "{}", "None", "0.5"])))
        else:
            base = 0
        lines.append(ind * base + "def %s(%s):" % (ident(rng, "snake"),
                                                  ", ".join(ident(rng, "snake") for _ in range(rng.randint(0, 4)))))
        depth = base + 1
        for _ in range(rng.randint(2, 12)):
            pad = ind * depth
            r = rng.random()
            if r < 0.2 and depth < 6:
                lines.append("%s%s %s:" % (pad, rng.choice(["if", "while", "elif"]) if r < 0.1 else "for x in",
                                           rng.choice([ident(rng, "snake"), "range(%d)" % rng.randint(1, 99),
                                                       "%s and not %s" % (ident(rng, "snake"), ident(rng, "snake"))])))
                depth += 1
                lines.append(ind * depth + "pass" if rng.random() < 0.1 else ind * depth + "x += 1")
            elif r < 0.35 and depth > base + 1:
                depth -= 1
                lines.append(ind * depth + rng.choice(["else:", "continue", "break"]))
                if lines[-1].endswith(":"):
                    lines.append(ind * (depth + 1) + "return None")
            elif r < 0.5:
                lines.append('%sprint(f"{%s!r} -> {%s:>10}")' % (pad, ident(rng, "snake"), ident(rng, "snake")))
            elif r < 0.6:
                lines.append("%s# %s" % (pad, en_sentence(rng)))
            elif r < 0.7:
                lines.append("%s%s = [%s for %s in %s if %s %% 2 == 0]" % (
                    pad, ident(rng, "snake"), "v ** 2", "v", ident(rng, "snake"), "v"))
            elif r < 0.75:
                lines.append("")
            else:
                lines.append("%s%s = {'%s': %d, \"%s\": %r}" % (pad, ident(rng, "snake"), ident(rng, "snake"),
                                                                 rng.randint(0, 10 ** 6), ident(rng, "camel"),
                                                                 rng.random()))
        lines.append(ind * (base + 1) + "return %s" % ident(rng, "snake"))
        lines.append("")
    return lines


def gen_js(rng, ind):
    lines = ["'use strict';", "const %s = require('%s');" % (ident(rng, "camel"), ident(rng, "snake"))]
    for _ in range(rng.randint(1, 4)):
        r = rng.random()
        if r < 0.4:
            lines.append("export async function %s(%s) {" % (ident(rng, "camel"),
                                                             ", ".join(ident(rng, "camel") for _ in range(rng.randint(0, 3)))))
        elif r < 0.7:
            lines.append("const %s = (%s) => {" % (ident(rng, "camel"), ident(rng, "camel")))
        else:
            lines.append("class %s extends %s {" % (ident(rng, "pascal"), ident(rng, "pascal")))
        depth = 1
        for _ in range(rng.randint(2, 12)):
            pad = ind * depth
            r = rng.random()
            if r < 0.2 and depth < 6:
                lines.append("%sif (%s === %s && !%s) {" % (pad, ident(rng, "camel"), rng.choice(["null", "undefined", "0", "''"]),
                                                           ident(rng, "camel")))
                depth += 1
            elif r < 0.3 and depth > 1:
                depth -= 1
                lines.append(ind * depth + "}")
            elif r < 0.45:
                lines.append("%sconst %s = await fetch(`https://api.example.com/${%s}`);" % (
                    pad, ident(rng, "camel"), ident(rng, "camel")))
            elif r < 0.55:
                lines.append("%s/* %s */" % (pad, en_sentence(rng)))
            elif r < 0.65:
                lines.append("%s%s.map((x) => x * %d).filter(Boolean);" % (pad, ident(rng, "camel"), rng.randint(2, 9)))
            elif r < 0.72:
                lines.append("%sconsole.log('%s', %s?.%s ?? %d);" % (pad, en_sentence(rng)[:30].replace("'", ""),
                                                                      ident(rng, "camel"), ident(rng, "camel"),
                                                                      rng.randint(0, 99)))
            else:
                lines.append("%slet %s = { %s: [%s], '%s': %s };" % (
                    pad, ident(rng, "camel"), ident(rng, "camel"),
                    ", ".join(str(rng.randint(-50, 50)) for _ in range(rng.randint(0, 6))),
                    ident(rng, "snake"), rng.choice(["true", "false", "null", "NaN", "-Infinity", "1e21"])))
        while depth > 1:
            depth -= 1
            lines.append(ind * depth + "}")
        lines.append("}" + (";" if rng.random() < 0.3 else ""))
        lines.append("")
    return lines


def gen_code(rng, target):
    out = []
    size = 0
    while size < target:
        ind = rng.choice(["    ", "  ", "\t", "\t", "        ", " \t"])
        eol = "\r\n" if rng.random() < 0.1 else "\n"
        # line by line, so that short records are snippets of a few lines
        for line in rng.choice([gen_c, gen_py, gen_js])(rng, ind):
            out.append(line + eol)
            size += len(line) + len(eol)
            if size >= target:
                break
    return "".join(out)


# --------------------------------------------------------------------------
# runs: whitespace, digits, repeats, control and format characters

WS_CHARS = [" ", " ", " ", "\t", "\n", "\r", "\r\n", "\u00a0", "\u3000", "\u2003", "\u2009",
            "\u200a", "\u2028", "\u2029", "\u0085", "\u000b", "\u000c", "\u1680", "\u202f",
            "\u205f", "\u180e", "\u200b", "\ufeff"]
DIGIT_SETS = ["0123456789", "0123456789", "0123456789", "\u0660\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669",
              "".join(chr(0x0966 + i) for i in range(10)), "".join(chr(0xFF10 + i) for i in range(10)),
              "\u00b9\u00b2\u00b3\u2074\u2075", "\u2460\u2461\u2462\u2463", "\u2160\u2161\u2162\u216b"]


def run_len(rng):
    r = rng.random()
    if r < 0.5:
        return rng.randint(1, 8)
    if r < 0.85:
        return rng.randint(9, 200)
    if r < 0.97:
        return rng.randint(201, 2000)
    return rng.randint(2001, 15000)


def gen_runs(rng, target):
    out = []
    size = 0
    while size < target:
        r = rng.random()
        n = run_len(rng)
        if r < 0.25:
            c = rng.choice(WS_CHARS[:10])
            piece = c * n
        elif r < 0.35:
            piece = "".join(rng.choice(WS_CHARS) for _ in range(n))
        elif r < 0.55:
            ds = rng.choice(DIGIT_SETS)
            piece = "".join(rng.choice(ds) for _ in range(n))
        elif r < 0.62:
            piece = ",".join("%03d" % rng.randint(0, 999) for _ in range(max(1, n // 4)))
        elif r < 0.7:
            piece = rng.choice(["-", "=", "*", "!", ".", "#", "_", "~", "a", "ab", "abc", "\u2581",
                                "\u00e9", "\u4e00", "\U0001F600", "\\", "/", "<", "0", "10"]) * n
        elif r < 0.76:
            # C0/C1 controls and DEL (never NUL: it separates records)
            piece = "".join(chr(rng.choice(list(range(1, 32)) + [127] + list(range(0x80, 0xA0))))
                            for _ in range(min(n, 64)))
        elif r < 0.8:
            piece = "".join(rng.choice(["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad",
                                        "\u034f", "\u061c", "\u180e"]) for _ in range(min(n, 64)))
        elif r < 0.88:
            # words separated by long, varied whitespace (pre-tokenizer lookahead)
            piece = "".join(rng.choice(EN_WORDS) + rng.choice(WS_CHARS[:7]) * rng.randint(1, 40)
                            for _ in range(rng.randint(1, 20)))
        else:
            piece = en_sentence(rng)
        piece += rng.choice(["", " ", "\n", "x", " word ", "1", "."])
        # Keep records varied: some end right after a run, some begin with one.
        out.append(piece)
        size += len(piece.encode("utf-8"))
    return "".join(out)


# --------------------------------------------------------------------------
# special-token strings inside text

def gen_special(rng, target):
    out = []
    size = 0
    while size < target:
        r = rng.random()
        tok = rng.choice(SPECIAL_TOKENS)
        if r < 0.35:
            words = _gen_words(rng, rng.randint(2, 12))
            i = rng.randrange(len(words) + 1)
            glue = rng.choice([" ", "", " ", "\n", "  ", "\t"])
            left = " ".join(words[:i])
            right = " ".join(words[i:])
            piece = left + glue + tok + rng.choice([" ", "", "\n", "  "]) + right + ". "
        elif r < 0.5:
            # adjacent tokens, repeated tokens, tokens glued to words
            piece = "".join(rng.choice(SPECIAL_TOKENS) + rng.choice(["", "", " ", "x", "\n"])
                            for _ in range(rng.randint(2, 8)))
        elif r < 0.62:
            role = rng.choice(["system", "user", "assistant"])
            fmt = rng.choice([
                "<|im_start|>%s\n%s<|im_end|>\n",
                "<|start_header_id|>%s<|end_header_id|>\n\n%s<|eot_id|>",
                "<start_of_turn>%s\n%s<end_of_turn>\n",
                "<s>[INST] %s %s [/INST]</s>",
                "<|begin_of_text|>%s: %s<|end_of_text|>",
            ])
            piece = fmt % (role, en_sentence(rng))
        elif r < 0.75:
            piece = rng.choice(EN_WORDS) + rng.choice(NEAR_MISSES) + rng.choice([" ", "", "\n"]) + \
                en_sentence(rng) + " "
        elif r < 0.83:
            # the Metaspace marker U+2581 and HTML tags written literally
            piece = rng.choice(["\u2581", "\u2581\u2581", " \u2581", "\u2581 "]) + rng.choice(EN_WORDS) + \
                rng.choice(["<p>", "</p>", "<br/>", "<table>", "<td>", "</td>", ""]) + " "
        elif r < 0.9:
            # tokens next to non-ASCII text and emoji
            piece = rng.choice(ZH_CHARS) + tok + rng.choice(AR_WORDS) + tok + "\U0001F600" + \
                rng.choice(KO_WORDS) + " "
        else:
            piece = tok
        out.append(piece)
        size += len(piece.encode("utf-8"))
    return "".join(out)


# --------------------------------------------------------------------------
# combining marks and normalization-sensitive text

ACCENTED = ["café", "naïve", "résumé", "façade", "jalapeño", "über", "Ångström", "crème brûlée",
            "Nguyễn Thị Minh Khai", "Tiếng Việt", "Đà Nẵng", "São Paulo", "Zürich", "Kraków",
            "Ελληνικά", "άέήίόύώ", "ΐΰ", "Москва", "ёлка", "й", "Český", "Ħaż-Żebbuġ", "Þórður",
            "ǅemal", "ﬁnance", "ﬂow", "Ⅻ", "x²", "H₂O", "℃", "№", "½", "ℌ", "Ω", "Å", "K",
            "ẛ̣", "ᾼ", "ῷ", "ﾊﾟ", "ｶﾞ", "㍿", "㈱", "Ⓐ", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "𝐁𝐨𝐥𝐝"]
COMBINING = [chr(c) for c in range(0x0300, 0x0370)] + [chr(c) for c in range(0x1AB0, 0x1ABF)] + \
    [chr(c) for c in range(0x20D0, 0x20F0)] + [chr(c) for c in range(0xFE20, 0xFE30)]
DEVA_CONS = [chr(c) for c in range(0x0915, 0x093A)]
DEVA_VOWEL_SIGNS = [chr(c) for c in range(0x093E, 0x094D)]
DEVA_WORDS = ["नमस्ते", "हिन्दी", "भारत", "क्षत्रिय", "ज्ञान", "श्री", "प्रेम", "संस्कृत", "दिल्ली",
              "क़िला", "ज़िंदगी", "कार्य", "स्त्री"]
THAI_WORDS = ["สวัสดี", "ภาษาไทย", "กรุงเทพมหานคร", "ขอบคุณ", "น้ำ", "ผู้ใหญ่", "เด็ก", "ไม่"]


def hangul_jamo(rng):
    s = chr(0x1100 + rng.randint(0, 18)) + chr(0x1161 + rng.randint(0, 20))
    if rng.random() < 0.6:
        s += chr(0x11A8 + rng.randint(0, 26))
    return s


def gen_combining(rng, target):
    out = []
    size = 0
    while size < target:
        r = rng.random()
        if r < 0.25:
            words = [rng.choice(ACCENTED) for _ in range(rng.randint(1, 8))]
            form = rng.choice(["NFD", "NFD", "NFC", "NFKD", None])
            s = " ".join(words)
            piece = (unicodedata.normalize(form, s) if form else s) + rng.choice([" ", ". ", ", ", "\n"])
        elif r < 0.35:
            # stacked marks ("zalgo"), on letters, digits, spaces and line starts
            base = rng.choice(["a", "e", "Z", "0", " ", "\u4e00", "\U0001F600", ""])
            piece = base + "".join(rng.choice(COMBINING) for _ in range(rng.randint(1, 30))) + \
                rng.choice(["", " ", "x "])
        elif r < 0.5:
            piece = "".join(hangul_jamo(rng) for _ in range(rng.randint(1, 10))) + \
                rng.choice([" ", "", "\u1160", chr(0xAC00 + rng.randint(0, 11171)) + "\u11b8 "])
        elif r < 0.7:
            if rng.random() < 0.6:
                piece = " ".join(rng.choice(DEVA_WORDS) for _ in range(rng.randint(1, 8)))
            else:
                piece = "".join(rng.choice(DEVA_CONS) + rng.choice(DEVA_VOWEL_SIGNS + ["\u094d", "\u093c", "\u0902",
                                                                                        "\u094d\u200d", "\u094d\u200c", ""])
                                for _ in range(rng.randint(1, 12)))
            piece += rng.choice(["। ", "॥ ", " ", "\n", " १२३ "])
        elif r < 0.8:
            piece = " ".join(rng.choice(THAI_WORDS) for _ in range(rng.randint(1, 6))) + \
                rng.choice([" ", "\n", "ๆ "])
        elif r < 0.9:
            # a precomposed word, then the same decomposed, side by side
            w = rng.choice(ACCENTED)
            piece = w + unicodedata.normalize("NFD", w) + " " + unicodedata.normalize("NFKC", w) + " "
        else:
            piece = en_sentence(rng) + " "
            piece = "".join(c + (rng.choice(COMBINING) if rng.random() < 0.1 else "") for c in piece)
        out.append(piece)
        size += len(piece.encode("utf-8"))
    return "".join(out)


# --------------------------------------------------------------------------
# rare code points: where Unicode versions and property tables of two regex
# engines or normalizers can disagree

RARE_RANGES = [
    (0xE000, 0xF8FF),    # private use
    (0xF0000, 0xF00FF),  # supplementary private use A
    (0x0378, 0x0379),    # unassigned
    (0x2FE0, 0x2FEF),    # unassigned
    (0xFDD0, 0xFDEF),    # noncharacters
    (0xFFFE, 0xFFFF),
    (0x1FFFE, 0x1FFFF),
    (0x10FFFE, 0x10FFFF),
    (0x30000, 0x3134A),  # CJK extension G (Unicode 13)
    (0x10E80, 0x10EA9),  # Yezidi (13)
    (0x10FB0, 0x10FCB),  # Chorasmian (13)
    (0x18B00, 0x18CD5),  # Khitan small script (13)
    (0x10570, 0x105BC),  # Vithkuqi (14)
    (0x16A70, 0x16AC9),  # Tangsa (14)
    (0x1E290, 0x1E2AE),  # Toto (14)
    (0x1D400, 0x1D7FF),  # mathematical alphanumerics
    (0x1F100, 0x1F1FF),  # enclosed alphanumerics
    (0xA720, 0xA7BF),    # Latin extended-D, up to Unicode 12
    (0x1B000, 0x1B11E),  # kana supplement / extended-A
    (0x0080, 0x00FF),    # Latin-1: C1 controls, NBSP, soft hyphen, symbols
]
# Code points whose properties are newer than Debian 12's libraries: letters
# and digits of Unicode 15 and 16 (PCRE2 10.42 knows Unicode 14, utf8proc 2.8
# Unicode 15; HF tokenizers' regex engine knows Unicode 16) and combining marks
# of Unicode 14+ (utf8proc gives them their combining class, so NFC reorders
# them; HF's normalization tables predate them and leave them in place).
NEW_RANGES = [
    (0x31350, 0x323AF),  # CJK extension H (15)
    (0x11F00, 0x11F59),  # Kawi (15)
    (0x1E4D0, 0x1E4F9),  # Nag Mundari (15)
    (0x1E030, 0x1E06D),  # Cyrillic extended-D (15, modifier letters)
    (0x1B132, 0x1B155),  # small kana (15)
    (0x10D40, 0x10D8F),  # Garay (16)
    (0x105C0, 0x105F3),  # Todhri (16)
    (0x16D40, 0x16D79),  # Kirat Rai (16)
    (0x11BC0, 0x11BE1),  # Sunuwar (16)
    (0x1E5D0, 0x1E5FF),  # Ol Onal (16)
    (0x10EC2, 0x10EC4),  # Arabic extended-C letters (16)
    (0xA7C0, 0xA7DC),    # Latin extended-D, Unicode 13-16
    (0x0870, 0x089F),    # Arabic extended-B (14), marks 0898-089F
    (0x10EFD, 0x10EFF),  # Arabic small marks (15)
]
# Case folding inside the contraction alternatives (?i:'s|'t|...): long s,
# Kelvin sign and dotted/dotless i are the usual surprises.
CASE_TRAPS = ["'\u017f", "'S", "'T", "'RE", "'Ve", "'M", "'LL", "'D", "'\u212a", "'\u0130", "'\u0131",
              "\u2019s", "'s'", "''s", "'\u017ft", "\u0130stanbul", "\u03a3\u03c3\u03c2", "\u00df\u1e9e"]


def gen_rare(rng, target, ranges=RARE_RANGES):
    out = []
    size = 0
    while size < target:
        r = rng.random()
        if r < 0.55:
            lo, hi = rng.choice(ranges)
            piece = "".join(rand_cp(rng, lo, hi) for _ in range(rng.randint(1, 12)))
            piece += rng.choice([" ", "", "1", "a", "\n", " x", "'s"])
        elif r < 0.75:
            piece = rng.choice(EN_WORDS) + rng.choice(CASE_TRAPS) + rng.choice([" ", "", "x "])
        else:
            lo, hi = rng.choice(ranges)
            words = _gen_words(rng, rng.randint(1, 8))
            i = rng.randrange(len(words))
            words[i] = words[i] + "".join(rand_cp(rng, lo, hi) for _ in range(rng.randint(1, 3)))
            piece = " ".join(words) + rng.choice([" ", ". ", "\n"])
        out.append(piece)
        size += len(piece.encode("utf-8"))
    return "".join(out)


def gen_unicode_new(rng, target):
    return gen_rare(rng, target, NEW_RANGES)


# --------------------------------------------------------------------------
# invalid UTF-8 (bytes, not text)

def bad_bytes(rng):
    r = rng.random()
    if r < 0.2:
        return bytes([rng.randint(0x80, 0xBF)])  # lone continuation byte
    if r < 0.35:
        full = chr(rng.choice([0x1F600, 0x4E2D, 0x00E9, 0x10348, 0xAC00])).encode("utf-8")
        return full[:rng.randint(1, len(full) - 1)]  # truncated sequence
    if r < 0.45:
        return rng.choice([b"\xc0\xaf", b"\xc1\xbf", b"\xe0\x80\xaf", b"\xf0\x80\x80\xaf"])  # overlong
    if r < 0.55:
        return rng.choice([b"\xed\xa0\x80", b"\xed\xbf\xbf", b"\xed\xa0\xbd\xed\xb8\x80"])  # surrogates
    if r < 0.62:
        return rng.choice([b"\xf4\x90\x80\x80", b"\xf7\xbf\xbf\xbf", b"\xf8\x88\x80\x80\x80"])  # > U+10FFFF
    if r < 0.75:
        return bytes([rng.randint(0xF5, 0xFF)])
    if r < 0.85:
        return bytes(rng.randint(0x80, 0xFF) for _ in range(rng.randint(2, 12)))  # garbage run
    return bytes([rng.choice([0xC2, 0xE0, 0xE1, 0xED, 0xF0, 0xF4])]) + rng.choice([b"a", b" ", b"\n", b"\xc3\xa9"])


def gen_invalid(rng, target):
    """Returns bytes: valid text of every kind with ill-formed bytes spliced in."""
    out = []
    size = 0
    while size < target:
        r = rng.random()
        if r < 0.4:
            text = en_sentence(rng) + " "
        elif r < 0.55:
            text = gen_cjk(rng, rng.randint(10, 100))
        elif r < 0.65:
            text = gen_emoji(rng, rng.randint(10, 80))
        elif r < 0.75:
            text = gen_arabic(rng, rng.randint(10, 80))
        elif r < 0.85:
            text = gen_special(rng, rng.randint(10, 80))
        else:
            text = gen_combining(rng, rng.randint(10, 80))
        b = text.encode("utf-8")
        # splice at a byte position: sometimes inside a multi-byte character
        for _ in range(rng.randint(1, 3)):
            i = rng.randint(0, len(b))
            b = b[:i] + bad_bytes(rng) + b[i:]
        b = b.replace(b"\0", b"")
        out.append(b)
        size += len(b)
    return b"".join(out)


# --------------------------------------------------------------------------

CATEGORIES = {
    "english": gen_english,
    "cjk": gen_cjk,
    "arabic": gen_arabic,
    "emoji": gen_emoji,
    "code": gen_code,
    "runs": gen_runs,
    "special": gen_special,
    "combining": gen_combining,
    "rare": gen_rare,
    "invalid": gen_invalid,
    "unicode_new": gen_unicode_new,
}


def record_length(rng):
    r = rng.random()
    if r < 0.65:
        return rng.randint(1, 200)
    if r < 0.9:
        return rng.randint(200, 2000)
    if r < 0.98:
        return rng.randint(3000, 8000)
    return rng.randint(8000, MAX_RECORD)


def clip(b):
    """Caps a record at MAX_RECORD bytes without splitting a character (the
    invalid category may split one: it is ill-formed anyway)."""
    if len(b) <= MAX_RECORD:
        return b
    cut = MAX_RECORD
    while cut > 0 and (b[cut] & 0xC0) == 0x80:
        cut -= 1
    return b[:cut]


def build(name, gen, seed, target):
    rng = random.Random("%s:%d" % (name, seed))
    records = []
    size = 0
    while size < target:
        t = gen(rng, record_length(rng))
        b = t if isinstance(t, bytes) else t.encode("utf-8")
        b = clip(b.replace(b"\0", b""))
        if not b:
            continue
        records.append(b)
        size += len(b) + 1
    return records


# Tiny records at the start of every category: single characters, lone spaces.
EDGE_RECORDS = [b" ", b"\n", b"a", b"  a", b"\t\n", b"\xe2\x96\x81", b"\xef\xbb\xbfBOM", b"0", b"'s", b"\xc3\xa9"]


def write_atomic(path, records):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(b"\0".join(records))
    os.replace(tmp, path)


def main(argv):
    bench = "--bench" in argv
    force = "--force" in argv
    args = [a for a in argv if not a.startswith("--")]
    if len(args) != 1:
        sys.stderr.write(__doc__)
        return 2
    outdir = args[0]
    os.makedirs(outdir, exist_ok=True)
    with open(os.path.abspath(__file__), "rb") as f:
        stamp = hashlib.sha256(f.read()).hexdigest()
    names = ["bench"] if bench else list(CATEGORIES)
    for name in names:
        path = os.path.join(outdir, name + ".txt")
        stamp_path = path + ".stamp"
        try:
            with open(stamp_path) as f:
                fresh = f.read().strip() == stamp and os.path.exists(path)
        except OSError:
            fresh = False
        if fresh and not force:
            continue
        if name == "bench":
            # Round-robin over the categories of ordinary text, each with its
            # own seed. Not "invalid" (the references would see other bytes)
            # nor "runs", "rare", "unicode_new" (worst cases, not a workload).
            cats = [c for c in CATEGORIES if c not in ("invalid", "runs", "rare", "unicode_new")]
            parts = [build(c, CATEGORIES[c], 2, BENCH_BYTES // len(cats) + 1) for c in cats]
            records = []
            for i in range(max(len(p) for p in parts)):
                records.extend(p[i] for p in parts if i < len(p))
        else:
            records = EDGE_RECORDS + build(name, CATEGORIES[name], 1, MIN_BYTES)
        write_atomic(path, records)
        with open(stamp_path, "w") as f:
            f.write(stamp + "\n")
        total = sum(len(r) + 1 for r in records)
        sys.stderr.write("make_corpus: %s: %d records, %d bytes\n" % (path, len(records), total))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
