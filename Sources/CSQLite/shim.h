#ifndef DRCTL_CSQLITE_SHIM_H
#define DRCTL_CSQLITE_SHIM_H
#include <sqlite3.h>

/* SQLITE_TRANSIENT is a cast macro ((sqlite3_destructor_type)-1) that Swift cannot import. */
static inline sqlite3_destructor_type CSQLite_TRANSIENT(void) {
    return (sqlite3_destructor_type)-1;
}

/* sqlite3_config is variadic: one typed wrapper per use. */
static inline int CSQLite_config_single_thread_off(void) {
    return sqlite3_config(SQLITE_CONFIG_MULTITHREAD);
}
#endif
