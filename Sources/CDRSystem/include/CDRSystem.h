#ifndef DRCTL_CDRSYSTEM_H
#define DRCTL_CDRSYSTEM_H
/* Typed wrappers for Linux calls that Swift cannot make directly: variadic system calls, and
   signal handlers, which must be async-signal-safe C. */
int CDRSystem_set_dumpable(int value);
int CDRSystem_get_dumpable(void);

/* While a passphrase is typed with echo off, a signal that ends the process (Ctrl-C, a
   terminal hang-up, kill) must not leave the terminal silent: begin saves the terminal's
   settings of `fd` as they are now and installs handlers for SIGINT, SIGTERM, SIGHUP and
   SIGQUIT that restore them, then let the signal do what it would have done. end puts the
   previous handlers back. Returns 0, or -1 with errno set. */
int CDRSystem_tty_guard_begin(int fd);
void CDRSystem_tty_guard_end(void);

/* mallopt(M_MMAP_THRESHOLD, bytes): malloc.h is not part of Swift's Glibc module. Returns 1
   on success, 0 on failure (as mallopt does). */
int CDRSystem_set_mmap_threshold(int bytes);

/* sync_file_range(fd, offset, length, SYNC_FILE_RANGE_WRITE): asks the kernel to start
   writing those dirty pages to the disk now and returns without waiting (Swift's Glibc module
   does not export it). A hint only: durability still needs fsync. Returns 0, or -1 with
   errno set. */
int CDRSystem_start_writeback(int fd, long long offset, long long length);
#endif
