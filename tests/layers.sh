#!/bin/sh
# The layers of the library, highest first: a file may include headers of its own layer and
# of layers below it, never above (README "Architecture").  Public headers in
# include/pgphase/ belong to the layer that implements them; strategies/ plug into plan/ and
# lint/ sits between the commands and the planner.  Prints every upward include and exits 1
# when there is one.
set -eu
cd "$(dirname "$0")/.."
python3 - <<'PY'
import glob, os, re, sys
order = ["cli", "run", "lint", "exec", "plan", "backfill", "notify", "state", "load", "sql",
         "base"]
rank = {name: i for i, name in enumerate(order)}
public = {"error.h": "base", "log.h": "base", "config.h": "base", "session.h": "base", "phase.h": "base", "arena.h": "base",
          "sql.h": "sql", "snapshot.h": "sql", "migration.h": "load", "state.h": "state", "notify.h": "notify",
          "backfill.h": "backfill", "plan.h": "plan", "lint.h": "lint", "run.h": "run"}

def layer_of(path):
    parts = path.split("/")
    if parts[0] == "src":
        return parts[1]
    if parts[0] == "strategies":
        return "plan"
    if parts[0] == "lint":
        return "lint"
    if parts[0] == "include":
        return public.get(parts[-1])
    return None

def resolve(inc):
    if inc.startswith("pgphase/"):
        return "include/" + inc
    if inc.startswith(("strategies/", "lint/")):
        return inc
    return "src/" + inc

bad = []
files = sorted(glob.glob("src/*/*.[ch]") + glob.glob("strategies/*.[ch]") +
               glob.glob("lint/*.[ch]") + glob.glob("include/pgphase/*.h"))
for f in files:
    own = layer_of(f)
    if own is None or own not in rank:
        bad.append(f"{f}: file outside the known layers")
        continue
    for n, line in enumerate(open(f, encoding="utf-8"), 1):
        m = re.match(r'\s*#\s*include\s+"([^"]+)"', line)
        if not m:
            continue
        target = resolve(m.group(1))
        if not os.path.exists(target) and not target.startswith("include/"):
            target = os.path.join(os.path.dirname(f), m.group(1))
        other = layer_of(target)
        if other is None:
            bad.append(f"{f}:{n}: include \"{m.group(1)}\" of no known layer")
        elif rank[other] < rank[own]:
            bad.append(f"{f}:{n}: {own} includes \"{m.group(1)}\" of the higher layer {other}")
for b in bad:
    print(b)
print(f"layers: {len(files)} files, {len(bad)} upward includes", file=sys.stderr)
sys.exit(1 if bad else 0)
PY
