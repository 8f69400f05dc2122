#ifndef DRCTL_CZSTD_SHIM_H
#define DRCTL_CZSTD_SHIM_H
#include <zstd.h>
/* ZSTD_getErrorCode and the ZSTD_ErrorCode enum (to tell "output buffer too small" apart). */
#include <zstd_errors.h>
#endif
