/* A UART transmitter (8N1) on a gpio-sim input line, standing in for a GPS: it
 * drives the line's sysfs `pull` so that the kernel stamps the line's edges at the
 * times its bits begin. Built and run by tests/uart_source.py.
 *
 *     uart_source PULL_PATH BAUD DATA_FILE SPIN_US PRIORITY LEAD_US [invert]
 *
 * It pulls the line up (the idle level), prints "idle", waits for a line on stdin,
 * then sends DATA_FILE's bytes back to back from LEAD_US on: start bit, 8 data bits
 * LSB first, stop bit (with `invert`, every level the other way round: idle low,
 * as a UART behind an inverter, for bb_serial_invert). Bit k is due at t0 + k * 1e9 / BAUD ns on CLOCK_MONOTONIC (an
 * absolute deadline: a late edge never delays the next); for each level change it
 * sleeps until SPIN_US before the deadline, then busy-waits to it and writes. It
 * runs under SCHED_FIFO at PRIORITY (when permitted): keep it below the kernel's
 * irq threads (50), whose threaded handler makes the edge event after each write.
 * At the end it prints one line of key=value figures: edges written, how late
 * (ns from the deadline to just before the write: p50, p99, max, and how many
 * more than 1/8 and 1/4 of a bit), the longest write, when the last write ended
 * (CLOCK_MONOTONIC ns) and the scheduling used.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void sleep_until(int64_t t)
{
    struct timespec ts = {t / 1000000000, t % 1000000000};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int inverted;

static void pull(int fd, int level)
{
    level ^= inverted;
    const char *text = level ? "pull-up" : "pull-down";
    if (pwrite(fd, text, strlen(text), 0) < 0) {
        perror("uart_source: write pull");
        exit(1);
    }
}

int main(int argc, char **argv)
{
    if (argc != 7 && !(argc == 8 && strcmp(argv[7], "invert") == 0)) {
        fprintf(stderr, "usage: %s PULL_PATH BAUD DATA_FILE SPIN_US PRIORITY LEAD_US "
                "[invert]\n", argv[0]);
        return 2;
    }
    inverted = argc == 8;
    int64_t baud = atoll(argv[2]), spin = atoll(argv[4]) * 1000;
    int priority = atoi(argv[5]);
    int64_t lead = atoll(argv[6]) * 1000;
    int fd = open(argv[1], O_WRONLY);
    if (fd < 0) {
        perror(argv[1]);
        return 1;
    }
    FILE *f = fopen(argv[3], "rb");
    if (!f) {
        perror(argv[3]);
        return 1;
    }
    static unsigned char data[1 << 20];
    size_t n = fread(data, 1, sizeof data, f);
    fclose(f);

    const char *how = "normal";
    struct sched_param sp = {.sched_priority = priority};
    if (priority > 0 && sched_setscheduler(0, SCHED_FIFO, &sp) == 0)
        how = "SCHED_FIFO";
    prctl(PR_SET_TIMERSLACK, 1, 0, 0, 0);
    mlockall(MCL_CURRENT | MCL_FUTURE);

    /* the level changes: at most 10 per byte */
    int64_t *late = calloc(10 * n + 1, sizeof *late);
    int64_t *due_bit = calloc(10 * n + 1, sizeof *due_bit);
    unsigned char *levels = calloc(10 * n + 1, 1);
    size_t edges = 0;
    int level = 1;
    for (size_t i = 0; i < n; i++) {
        int frame = (data[i] << 1) | (1 << 9); /* start 0, data LSB first, stop 1 */
        for (int b = 0; b < 10; b++) {
            int bit = frame >> b & 1;
            if (bit != level) {
                due_bit[edges] = (int64_t)i * 10 + b;
                levels[edges++] = bit;
                level = bit;
            }
        }
    }

    pull(fd, 1);
    printf("idle %s\n", how);
    fflush(stdout);
    char go[16];
    if (!fgets(go, sizeof go, stdin))
        return 1;

    int64_t t0 = now_ns() + lead, write_max = 0, done = t0;
    for (size_t e = 0; e < edges; e++) {
        int64_t due = t0 + due_bit[e] * 1000000000 / baud;
        if (due - spin > now_ns())
            sleep_until(due - spin);
        int64_t t;
        while ((t = now_ns()) < due)
            ;
        pull(fd, levels[e]);
        done = now_ns();
        late[e] = t - due;
        if (done - t > write_max)
            write_max = done - t;
    }
    int64_t bit = 1000000000 / baud;
    size_t over8 = 0, over4 = 0;
    for (size_t e = 0; e < edges; e++) {
        over8 += late[e] > bit / 8;
        over4 += late[e] > bit / 4;
    }
    qsort(late, edges, sizeof *late, cmp64);
    printf("edges=%zu bytes=%zu late_p50_ns=%lld late_p99_ns=%lld late_max_ns=%lld "
           "over_eighth_bit=%zu over_quarter_bit=%zu write_max_ns=%lld end_ns=%lld "
           "sched=%s\n",
           edges, n, (long long)(edges ? late[edges / 2] : 0),
           (long long)(edges ? late[edges * 99 / 100] : 0),
           (long long)(edges ? late[edges - 1] : 0), over8, over4, (long long)write_max,
           (long long)done, how);
    return 0;
}
