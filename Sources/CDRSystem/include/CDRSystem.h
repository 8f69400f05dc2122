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

/* O_DIRECT on (1) or off (0) for an open descriptor, by fcntl(F_SETFL): writes then go from
   the caller's buffer to the device without a copy into the page cache. Returns 0, or -1 with
   errno set (EINVAL: the file system does not support it). Swift's Glibc module does not
   export O_DIRECT, which needs _GNU_SOURCE. */
int CDRSystem_set_direct_io(int fd, int on);

/* The file offset alignment that direct I/O needs on fd's file system, from statx
   (STATX_DIOALIGN), or 0 when the file system does not support direct I/O or does not say so
   (tmpfs, NFS, FUSE, kernels before 6.1), or needs a memory alignment above 4096 bytes. */
int CDRSystem_direct_io_alignment(int fd);

/* An anonymous, private, read-write mapping of `length` bytes whose start is aligned to 2 MiB
   and which is advised for transparent huge pages (MADV_HUGEPAGE): one fault per 2 MiB instead
   of one per 4 KiB when it is first filled. NULL on failure. Free with CDRSystem_unmap. */
void *CDRSystem_map_aligned(unsigned long length);
void CDRSystem_unmap(void *address, unsigned long length);

/* madvise(MADV_HUGEPAGE) on the whole pages inside [address, address + length) (the range is
   narrowed to page boundaries; a range without a whole page is left alone). A hint: returns 0,
   or -1 with errno set. */
int CDRSystem_advise_huge_pages(void *address, unsigned long length);
#endif
