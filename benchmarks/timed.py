"""Run one command and print its wall time, peak memory and exit code as JSON.

The benchmark scripts run every measured command through this small process, not straight from
themselves: on Linux a child's peak resident memory (``ru_maxrss``) starts at its parent's
resident memory when it was started, so a command started by a benchmark that holds a large
frame would be reported at least that large. Standard library only, to stay small.

    python benchmarks/timed.py COMMAND [ARG...]
"""

import json
import os
import subprocess
import sys
import time

start = time.perf_counter()
proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
# wait4 gives this child's own peak memory (ru_maxrss, in KiB on Linux).
_, status, usage = os.wait4(proc.pid, 0)
wall = time.perf_counter() - start
print(json.dumps([wall, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)]))
