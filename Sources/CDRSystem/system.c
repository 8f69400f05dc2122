#define _GNU_SOURCE /* sync_file_range */
#include "CDRSystem.h"
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <string.h>
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
