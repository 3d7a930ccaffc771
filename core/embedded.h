#ifndef LACUNA_EMBEDDED_H
#define LACUNA_EMBEDDED_H

#include <stddef.h>

typedef struct lacuna_blob {
  const char *name;  /* module name (lacuna.jinja.eval) or recipe name */
  const char *chunk; /* chunk name: @lua/lacuna/jinja/eval.lua */
  const char *data;
  size_t size;
} lacuna_blob;

/* Generated at build time from the .lua files in lua/lacuna and recipes. */
extern const lacuna_blob lacuna_embedded_modules[];
extern const lacuna_blob lacuna_embedded_recipes[];

#endif
