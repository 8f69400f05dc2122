#ifndef DRCTL_CDRSYSTEM_H
#define DRCTL_CDRSYSTEM_H
/* Typed wrappers for variadic Linux system calls that Swift cannot call directly. */
int CDRSystem_set_dumpable(int value);
int CDRSystem_get_dumpable(void);
#endif
