#ifndef DRCTL_CSODIUM_SHIM_H
#define DRCTL_CSODIUM_SHIM_H
#include <sodium.h>
#endif
