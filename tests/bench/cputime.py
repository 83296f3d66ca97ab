#!/usr/bin/env python3
"""cputime.py RUNS COMMAND [:: COMMAND ...]: the best CPU time (user + system, in ms with
microsecond resolution from wait4's rusage) of RUNS runs of each COMMAND, output discarded,
one figure per command on one line.  The commands take turns, so a burst of load on the
machine hits all of them alike.  (GNU time reports only hundredths of a second, too coarse
for runs of 100-300 ms.)"""
import os
import subprocess
import sys

runs = int(sys.argv[1])
cmds, cur = [], []
for arg in sys.argv[2:]:
    if arg == "::":
        cmds.append(cur)
        cur = []
    else:
        cur.append(arg)
cmds.append(cur)
best = [None] * len(cmds)
for _ in range(runs):
    for i, cmd in enumerate(cmds):
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, _, ru = os.wait4(p.pid, 0)
        ms = (ru.ru_utime + ru.ru_stime) * 1000
        best[i] = ms if best[i] is None else min(best[i], ms)
print(" ".join("%.1f" % b for b in best))
