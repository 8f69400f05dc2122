#define _GNU_SOURCE /* sync_file_range, O_DIRECT, MADV_HUGEPAGE */
#include "CDRSystem.h"
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/prctl.h>
#include <termios.h>
#include <unistd.h>

int CDRSystem_set_dumpable(int value) { return prctl(PR_SET_DUMPABLE, value, 0, 0, 0); }
int CDRSystem_get_dumpable(void) { return prctl(PR_GET_DUMPABLE, 0, 0, 0, 0); }

/* One prompt at a time (drctl asks sequentially), so one saved state suffices. */
static const int guarded_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
#define GUARDED_COUNT (sizeof guarded_signals / sizeof guarded_signals[0])
static struct termios guard_saved;
static volatile sig_atomic_t guard_fd = -1;
static struct sigaction guard_previous[GUARDED_COUNT];

static void tty_guard_handler(int number) {
    /* tcsetattr, sigaction and raise are async-signal-safe (signal-safety(7)). */
    if (guard_fd >= 0) tcsetattr(guard_fd, TCSANOW, &guard_saved);
    for (unsigned i = 0; i < GUARDED_COUNT; i++) {
        if (guarded_signals[i] == number) sigaction(number, &guard_previous[i], NULL);
    }
    raise(number);
}

int CDRSystem_tty_guard_begin(int fd) {
    if (tcgetattr(fd, &guard_saved) != 0) return -1;
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = tty_guard_handler;
    sigemptyset(&action.sa_mask);
    guard_fd = fd;
    for (unsigned i = 0; i < GUARDED_COUNT; i++) {
        if (sigaction(guarded_signals[i], NULL, &guard_previous[i]) != 0) return -1;
        /* A signal the process ignores does not end it: leave it ignored, or the prompt would
           get its echo back while the passphrase is still being typed. */
        if (guard_previous[i].sa_handler == SIG_IGN) continue;
        if (sigaction(guarded_signals[i], &action, NULL) != 0) return -1;
    }
    return 0;
}

void CDRSystem_tty_guard_end(void) {
    for (unsigned i = 0; i < GUARDED_COUNT; i++) sigaction(guarded_signals[i], &guard_previous[i], NULL);
    guard_fd = -1;
}

int CDRSystem_set_mmap_threshold(int bytes) {
    return mallopt(M_MMAP_THRESHOLD, bytes);
}

int CDRSystem_start_writeback(int fd, long long offset, long long length) {
    return sync_file_range(fd, offset, length, SYNC_FILE_RANGE_WRITE);
}

int CDRSystem_set_direct_io(int fd, int on) {
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0) return -1;
    flags = on ? (flags | O_DIRECT) : (flags & ~O_DIRECT);
    return fcntl(fd, F_SETFL, flags);
}

#define HUGE_PAGE (2UL << 20)

void *CDRSystem_map_aligned(unsigned long length) {
    if (length == 0) return NULL;
    /* Over-map by one huge page and give back the unaligned head and the tail. */
    unsigned long span = length + HUGE_PAGE;
    unsigned char *raw = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) return NULL;
    unsigned char *aligned = (unsigned char *)(((unsigned long)raw + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1));
    unsigned long page = (unsigned long)sysconf(_SC_PAGESIZE);
    unsigned long kept = (length + page - 1) & ~(page - 1);
    if (aligned > raw) munmap(raw, (unsigned long)(aligned - raw));
    unsigned char *end = aligned + kept;
    if (end < raw + span) munmap(end, (unsigned long)(raw + span - end));
    (void)madvise(aligned, kept, MADV_HUGEPAGE);
    return aligned;
}

void CDRSystem_unmap(void *address, unsigned long length) {
    if (address == NULL || length == 0) return;
    unsigned long page = (unsigned long)sysconf(_SC_PAGESIZE);
    munmap(address, (length + page - 1) & ~(page - 1));
}

int CDRSystem_advise_huge_pages(void *address, unsigned long length) {
    unsigned long page = (unsigned long)sysconf(_SC_PAGESIZE);
    unsigned long start = ((unsigned long)address + page - 1) & ~(page - 1);
    unsigned long end = ((unsigned long)address + length) & ~(page - 1);
    if (end <= start) return 0;
    return madvise((void *)start, end - start, MADV_HUGEPAGE);
}

int CDRSystem_direct_io_alignment(int fd) {
    struct statx info;
    if (statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &info) != 0) return 0;
    if (!(info.stx_mask & STATX_DIOALIGN) || info.stx_dio_offset_align == 0) return 0;
    if (info.stx_dio_mem_align > 4096) return 0;
    return (int)info.stx_dio_offset_align;
}
