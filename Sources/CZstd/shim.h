#ifndef DRCTL_CZSTD_SHIM_H
#define DRCTL_CZSTD_SHIM_H
#include <zstd.h>
#endif
