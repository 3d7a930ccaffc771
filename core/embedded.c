/* Lookup in the tables generated from lua/ and recipes/ (core/tools/embed.cmake). */
#include <string.h>

#include "embedded.h"

const lacuna_blob *lacuna_find_blob(const lacuna_blob *list, const char *name) {
  for (; list->name; list++)
    if (strcmp(list->name, name) == 0) return list;
  return NULL;
}
