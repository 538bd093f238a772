"""How long this process has run, for the desktop's start-up milestones in the log.

``aegis_app.launch.desktop`` imports this module as its first line, so ``STARTED`` is
read on the monotonic clock before anything heavy is imported. What ran before that
line (the interpreter's own start, the ``aegis_app`` package, the command line) is
added on Linux from the kernel's record of when the process began: the start time in
``/proc/self/stat``, in clock ticks (10 ms) since boot, against ``CLOCK_BOOTTIME`` now.
Both readings are on one clock, so nothing but the tick is lost. (psutil's
``create_time()`` adds that start time to a boot time rounded to whole seconds, which
put anything from 0 to 1 s of error into every "after process start" figure.)
Elsewhere the figures count from that first line. Each milestone also gives the CPU
time the process has used since it began (every thread), which a busy machine bends
much less than the wall clock.
"""

from __future__ import annotations

import os
import sys
import time

STARTED = time.monotonic()


def ran_before_first_line() -> float:
    """Seconds the process ran before ``STARTED`` was read; 0.0 where unknown."""
    if not sys.platform.startswith("linux"):
        return 0.0
    try:
        now = time.clock_gettime(time.CLOCK_BOOTTIME)
        with open("/proc/self/stat", encoding="ascii") as stat:
            # The command name (field 2) may hold spaces and parentheses: split after it.
            fields = stat.read().rsplit(")", 1)[1].split()
        start_ticks = int(fields[19])  # field 22, "starttime"
        return max(0.0, now - start_ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return 0.0


BEFORE_FIRST_LINE = ran_before_first_line() - (time.monotonic() - STARTED)


def seconds_since_process_start() -> float:
    return time.monotonic() - STARTED + max(0.0, BEFORE_FIRST_LINE)


def since_start() -> str:
    """For a milestone in the log: "1.234 s after process start, 0.987 s CPU"."""
    seconds, cpu = seconds_since_process_start(), time.process_time()
    return f"{seconds:.3f} s after process start, {cpu:.3f} s CPU"
