#ifndef LACUNA_SYS_H
#define LACUNA_SYS_H

/* Nonzero once SIGINT/SIGTERM arrived after sys.catch_signals(). Only a flag is
 * set in the handler; the scheduler's hook turns it into a Lua error. */
int lacuna_sys_interrupted(void);
/* Nonzero when sys.catch_signals() is active. */
int lacuna_sys_interrupt_armed(void);

#endif
