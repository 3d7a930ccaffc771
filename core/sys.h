#ifndef LACUNA_SYS_H
#define LACUNA_SYS_H

/* Nonzero once SIGINT/SIGTERM arrived after sys.catch_signals(). Only a flag is
 * set in the handler; the scheduler's hook turns it into a Lua error. */
int lacuna_sys_interrupted(void);
/* Nonzero when sys.catch_signals() is active. */
int lacuna_sys_interrupt_armed(void);
/* Forgets a caught signal, for a caller that handled it and goes on (the REPL
 * after Ctrl-C): the next one again only sets the flag. */
void lacuna_sys_clear_interrupt(void);

/* fsync of the directory holding path, so that a rename or unlink in it is
 * durable. Returns 1, or 0 with errno set. */
int lacuna_sync_parent_dir(const char *path);

#endif
