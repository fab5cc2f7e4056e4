"""A jumper wire between two gpio-sim lines, as a process of its own: it mirrors the
level of one line (its sysfs ``value``) onto the other's ``pull``, so that what a
server drives on the first line reaches the second as kernel-stamped edges.

    python3 tests/gpio_sim_wire.py SYSFS_DIR SOURCE_LINE TARGET_LINE [POLL_US]

gpio-sim lines are not connected and their ``value`` attribute cannot be waited on
(no ``sysfs_notify``), so the wire polls. Under QEMU's emulation a polling process
on the one CPU is not scheduled in time when the server is busy (the wave benchmark's
busy-polling wire missed most edges 3-7 ms apart), so this one asks for
``SCHED_FIFO`` below the wave thread (priority 10) and sleeps ``POLL_US`` between
polls: it runs whenever it wakes, and leaves the CPU to everyone else between polls.
It prints ``wired`` once the target follows the source; on SIGTERM it prints what it
did (changes carried, the longest gap between two polls) and stops, as it does
when its parent is gone.
"""

from __future__ import annotations

import os
import signal
import sys
import time

#: Below the wave thread's SCHED_FIFO priority, so it never delays a pulse.
PRIORITY = 5


def main() -> None:
    sysfs, source, target = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    poll = (int(sys.argv[4]) if len(sys.argv) > 4 else 100) / 1e6
    src = os.open(f"{sysfs}/sim_gpio{source}/value", os.O_RDONLY)
    dst = os.open(f"{sysfs}/sim_gpio{target}/pull", os.O_WRONLY)
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(PRIORITY))
        how = "SCHED_FIFO"
    except (OSError, AttributeError):
        how = "normal"
    level = os.pread(src, 1, 0)
    os.pwrite(dst, b"pull-up" if level == b"1" else b"pull-down", 0)
    print(f"wired ({how})", flush=True)
    parent = os.getppid()
    polls = changes = longest = slow = 0
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    last = time.monotonic_ns()
    while not stopping:
        now = os.pread(src, 1, 0)
        if now != level:
            level = now
            os.pwrite(dst, b"pull-up" if now == b"1" else b"pull-down", 0)
            changes += 1
        else:
            time.sleep(poll)
        polls += 1
        t = time.monotonic_ns()
        longest = max(longest, t - last)
        slow += t - last > 1_000_000
        last = t
        if polls % 10000 == 0 and os.getppid() != parent:
            return  # the test that started it is gone
    print(f"{changes} changes carried, {polls} polls, longest gap between polls "
          f"{longest // 1000} us, {slow} gaps over 1 ms", flush=True)

if __name__ == "__main__":
    main()
