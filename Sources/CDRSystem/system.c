#include "CDRSystem.h"
#include <sys/prctl.h>

int CDRSystem_set_dumpable(int value) { return prctl(PR_SET_DUMPABLE, value, 0, 0, 0); }
int CDRSystem_get_dumpable(void) { return prctl(PR_GET_DUMPABLE, 0, 0, 0, 0); }
