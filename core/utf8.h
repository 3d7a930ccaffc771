#ifndef LACUNA_UTF8_H
#define LACUNA_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* 1 if s[0..n) is well-formed UTF-8 (no overlongs, surrogates or code points
 * past U+10FFFF); else 0 and the 0-based position of the first bad byte. */
int lacuna_utf8_check(const char *s, size_t n, size_t *bad_pos);

/* Writes the UTF-8 form of code point cp (<= U+10FFFF) to out; returns 1..4. */
int lacuna_utf8_encode(uint32_t cp, char *out);

/* Code points in well-formed UTF-8 s[0..n): Python's str length, which
 * axolotl's character offsets count in. */
size_t lacuna_utf8_count(const char *s, size_t n);

/* The value of hex digit c (0-9, a-f, A-F), or -1: for JSON's \u escapes (four hex digits)
 * and tokenizers' <0xNN> byte tokens. */
int lacuna_hex_digit(int c);

#endif
