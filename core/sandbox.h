/* What other C areas use of the sandbox (core/sandbox.c). */
#ifndef LACUNA_SANDBOX_H
#define LACUNA_SANDBOX_H

#include <lua.h>

/* Pushes the value at idx as a message and returns it: strings and numbers as
 * text, anything else as "(error object is a T value)". Never calls a
 * metamethod, so a recipe's error object cannot run code outside the
 * instruction budget (a looping __tostring). */
const char *lacuna_error_text(lua_State *L, int idx);

#endif
