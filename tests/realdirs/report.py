#!/usr/bin/env python3
"""Markdown report from tests/realdirs/run.sh results.

    report.py PROJECTDIR... > REPORT.md

Per directory: migrations, how many psql and pgphase applied, the first failure of the full
run and its schema diff; from the isolated runs (each migration alone on psql's state before
it): failures, exit 0 with a different schema, hangs, and the plan's strategies (statements
made safer) and steps run as written. Then every failing statement grouped by cause.
Test tooling, not pgphase.
"""
import collections
import json
import os
import re
import sys

HANG = ("124", "137")


def rd(path, default=""):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return default


def source(proj):
    d = {}
    for line in rd(os.path.join(proj, "SOURCE")).splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            d[k] = v
    return d


def first_error(log):
    lines = log.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("error:"):
            msg = line[len("error:"):].strip()
            return msg
    for line in lines:
        if "ERROR" in line or "FATAL" in line:
            return line.strip()
    return lines[-1].strip() if lines else ""


def norm(msg):
    """Group key of an error: file position, names and numbers taken out."""
    m = re.sub(r"^\S+?\.sql:\d+(:\d+)?:\s*", "", msg)
    m = re.sub(r'"[^"]*"', '"…"', m)
    m = re.sub(r"'[^']*'", "'…'", m)
    m = re.sub(r"\b\d+\b", "N", m)
    m = re.sub(r"\b(relation|constraint|index|trigger|column|table|function|type) \S+",
               r"\1 …", m)
    return m[:200]


def where(msg):
    m = re.match(r"^(\S+?\.sql):(\d+)", msg)
    return (os.path.basename(m.group(1)), int(m.group(2))) if m else (None, None)


def line_of(path, n, width=110):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for i, line in enumerate(f, 1):
                if i == n:
                    s = line.strip()
                    return s if len(s) <= width else s[:width] + "…"
    except OSError:
        pass
    return ""


DIFF_KINDS = [
    ("NOT VALID constraint", r"\[NOT VALID\]"),
    ("foreign key", r"^constraint .*: FOREIGN KEY"),
    ("primary key", r"^constraint .*: PRIMARY KEY"),
    ("unique constraint", r"^constraint .*: UNIQUE"),
    ("check constraint", r"^constraint .*: CHECK"),
    ("other constraint", r"^constraint "),
    ("INVALID index", r"^index .*\[INVALID\]"),
    ("unique index", r"^index CREATE UNIQUE INDEX"),
    ("index", r"^index "),
    ("column order", r"^column order "),
    ("column (type, default, NOT NULL, ...)", r"^column "),
    ("trigger", r"^trigger "),
    ("function", r"^function "),
    ("sequence", r"^sequence "),
    ("view", r"^view "),
    ("comment", r"^comment "),
    ("table", r"^relation "),
    ("type", r"^type "),
    ("policy", r"^policy "),
]


def diff_kinds(diff):
    """{(side, kind): [lines]} from a `diff` of sorted dumps; side '-' psql only, '+' pgphase."""
    out = collections.OrderedDict()
    for line in diff.splitlines():
        if not line or line[0] not in "<>":
            continue
        side = "-" if line[0] == "<" else "+"
        text = line[2:].strip()
        kind = "other"
        for k, pat in DIFF_KINDS:
            if re.search(pat, text):
                kind = k
                break
        if kind == "column order":
            side = "±"
        out.setdefault((side, kind), []).append(text)
    return out


def summary_of_kinds(kinds):
    parts = []
    for (side, kind), lines in kinds.items():
        parts.append("%s%d %s" % ({"-": "missing ", "+": "extra "}.get(side, "changed "),
                                   len(lines), kind))
    return "; ".join(parts)


def plan_steps(text):
    try:
        data = json.loads(text)
    except ValueError:
        return None
    steps = []
    for m in data.get("migrations", []):
        steps.extend(m.get("steps", []))
    return steps


def stmt_kind(sql):
    words = re.findall(r"[A-Za-z]+", sql or "")[:6]
    w = [x.upper() for x in words]
    if not w:
        return "?"
    if w[0] in ("CREATE", "DROP") and len(w) > 1:
        obj = w[1]
        if obj in ("OR", "UNIQUE") and len(w) > 3:
            obj = " ".join(w[1:4]) if obj == "OR" else "UNIQUE INDEX"
        return w[0] + " " + obj
    if w[0] == "ALTER" and len(w) > 1:
        return "ALTER " + w[1]
    return w[0]


CAUSES = [
    ("refused data change (UPDATE/DELETE/INSERT...SELECT not provably exactly-once, or no key)"
     " — principle: run it as written instead", r"in batches|find the table's key"),
    ("phase ordering (item 4): a statement moved to a later phase collides with a later one",
     r"already exists"),
    ("type change / rename with dependent objects (item 2)",
     r"depend on it|used in a trigger|used by a view|used by a|cannot alter type"),
    ("planner does not model earlier statements (item 3)",
     r"creates only later|does not exist|cannot find the type|was dropped while"),
    ("quoting (item 1)", r"syntax error|invalid name|quot"),
    ("BEGIN/COMMIT in a migration refused (psql -1 runs the file, warning only)",
     r"transaction control statement"),
]


def cause_of(key, stmt="", msg=""):
    m = re.search(r'(?:constraint|index|relation|trigger) "([^"]*)"', msg)
    if m and m.group(1) != m.group(1).lower() and "does not exist" in msg:
        return "quoting (item 1): a mixed-case name was created lower-cased, then not found"
    if re.search(r"in batches|find the table's key", key) and \
            re.match(r"(?i)alter\s+table", stmt or ""):
        return ("ALTER COLUMN TYPE rewritten through a shadow column and batches, which need a "
                "key (item 3: rewrite-free type changes should run as written)")
    for name, pat in CAUSES:
        if re.search(pat, key):
            return name
    return "other: " + key[:120]


def main():
    projs = sys.argv[1:]
    rows = []
    groups = collections.OrderedDict()
    diffs = collections.OrderedDict()
    hangs = []
    details = []
    for proj in projs:
        src = source(proj)
        name = src.get("project", os.path.basename(proj))
        res = os.path.join(proj, "result")
        files = [l.split("\t") for l in rd(os.path.join(proj, "pgphase", "files.tsv")).splitlines()]
        orig = {f[0]: f[1] for f in files}
        n = len(files)
        psql_ok = rd(os.path.join(res, "psql_applied"), "0").strip()
        pg_ok = rd(os.path.join(res, "pgphase_applied"), "0").strip() or "0"
        rc = rd(os.path.join(res, "migrate.rc"), "?").strip()
        full_err = first_error(rd(os.path.join(res, "migrate.log"))) if rc != "0" else ""
        if rc in HANG:
            full_err = "killed by the watchdog (hang): " + full_err
        full_kinds = diff_kinds(rd(os.path.join(res, "full.diff")))
        psql_failed = rd(os.path.join(res, "psql_failed")).strip()
        empty = [l for l in rd(os.path.join(proj, "pgphase", "empty.txt")).splitlines() if l]

        iso = os.path.join(res, "iso")
        ks = sorted(int(k) for k in os.listdir(iso)) if os.path.isdir(iso) else []
        ok = bad = differ = hung = 0
        safer = collections.Counter()
        safer_stmts = collections.Counter()
        aswritten = collections.Counter()
        for k in ks:
            d = os.path.join(iso, str(k))
            if not os.path.exists(os.path.join(d, "file")):
                continue  # still running
            fl = rd(os.path.join(d, "file")).strip().split("\t")
            fname = fl[0]
            mrc = rd(os.path.join(d, "migrate.rc"), "?").strip()
            log = rd(os.path.join(d, "migrate.log"))
            kinds = diff_kinds(rd(os.path.join(d, "diff")))
            steps = plan_steps(rd(os.path.join(d, "plan.json")))
            seen = set()
            for s in steps or []:
                st = s.get("strategy")
                key = (s.get("file"), s.get("line"), s.get("column"))
                if st and st != "as-written":
                    safer[st] += 1 if (key, st) not in seen else 0
                    if key not in seen:
                        safer_stmts[st] += 1
                    seen.add((key, st))
                    seen.add(key)
                elif key not in seen:
                    aswritten[stmt_kind(s.get("sql"))] += 1
                    seen.add(key)
            ref = "%s (%s)" % (fname, orig.get(fname, "?"))
            if mrc in HANG:
                hung += 1
                hangs.append((name, ref, first_error(log)))
            elif mrc != "0":
                bad += 1
                msg = first_error(log)
                f, ln = where(msg)
                stmt = line_of(os.path.join(proj, "pgphase", f), ln) if f else ""
                groups.setdefault(norm(msg), []).append((name, ref, msg, stmt, k))
            elif kinds:
                differ += 1
                for key, lines in kinds.items():
                    diffs.setdefault(key, []).append((name, ref, lines))
            else:
                ok += 1
        rows.append((name, src, n, psql_ok, pg_ok, rc, full_err, full_kinds, ok, bad, differ,
                     hung, safer_stmts, aswritten, psql_failed, empty, len(ks)))

    p = print
    p("# Real migration directories: `pgphase migrate` against `psql -1`\n")
    p("Made by tests/realdirs/run.sh and report.py. Each directory is renamed into pgphase's "
      "layout (contents unmodified; goose files keep their Up section; migrations the tool "
      "runs outside a transaction go to psql without `-1`). **Full run**: `pgphase migrate` "
      "on the whole directory vs psql applying every file. **Isolated**: each migration alone "
      "on psql's schema before it (so every failing migration shows, not only the first).\n")
    p("| directory (tool, license) | migrations | psql applied | pgphase applied (full run) "
      "| full run | isolated: same schema / fail / exit 0 but differs / hang "
      "| statements made safer | steps run as written |")
    p("|---|---|---|---|---|---|---|---|")
    for (name, src, n, psql_ok, pg_ok, rc, full_err, fk, ok, bad, differ, hung, safer,
         asw, psql_failed, empty, niso) in rows:
        if rc == "0":
            full = "exit 0, " + ("**schema differs**: " + summary_of_kinds(fk) if fk
                                 else "same schema")
        else:
            full = "exit %s" % rc
        sf = ", ".join("%s %d" % (k, v) for k, v in safer.most_common()) or "—"
        aw = sum(asw.values())
        p("| %s (%s, %s) | %d | %s | %s | %s | %d / %d / %d / %d | %s | %d |" % (
            name, src.get("kind"), src.get("license"), n, psql_ok, pg_ok, full, ok, bad, differ,
            hung, sf, aw))
    p("\nSources (commit, path):\n")
    for r in rows:
        src = r[1]
        extra = ""
        if r[15]:
            extra = "; %d migrations with no SQL for PostgreSQL skipped" % len(r[15])
        if r[14]:
            extra += "; psql itself stops at %s" % r[14].replace("\t", " ")
        p("- %s: %s @ %s, `%s`%s" % (r[0], src.get("url"), src.get("commit", "")[:12],
                                      src.get("path"), extra))

    p("\n## Causes (isolated runs, one count per failing migration)\n")
    p("| cause | migrations | directories |")
    p("|---|---|---|")
    causes = collections.OrderedDict()
    for key, items in groups.items():
        for i in items:
            c = causes.setdefault(cause_of(key, i[3], i[2]), [0, set()])
            c[0] += 1
            c[1].add(i[0])
    if hangs:
        causes["hang: killed by the watchdog (item 1)"] = [len(hangs), set(h[0] for h in hangs)]
    dk = collections.OrderedDict()
    for (side, kind), items in diffs.items():
        if kind == "column order":
            label = "exit 0, column order differs (new column appended; documented difference?)"
        elif side == "-":
            label = "exit 0, schema differs: %s lost (item 2 carry-over, or item 4)" % kind
        else:
            label = "exit 0, schema differs: %s left behind or changed" % kind
        c = dk.setdefault(label, [0, set()])
        c[0] += len(items)
        c[1].update(i[0] for i in items)
    for label, (cnt, ps) in sorted(list(causes.items()) + list(dk.items()),
                                   key=lambda kv: -kv[1][0]):
        p("| %s | %d | %s |" % (label, cnt, ", ".join(sorted(ps))))

    p("\n## Full runs: first failure and schema diff\n")
    for r in rows:
        name, rc, full_err, fk = r[0], r[5], r[6], r[7]
        p("### %s\n" % name)
        p("- pgphase applied %s of %s (exit %s)%s" % (
            r[4], r[3], rc, (": `%s`" % re.sub(r"^\S*/", "", full_err)) if full_err else ""))
        if fk and rc == "0":
            p("- schema diff (psql vs pgphase): %s" % summary_of_kinds(fk))
            for (side, kind), lines in fk.items():
                for line in lines[:3]:
                    p("  - `%s %s`" % (side, line[:160]))
                if len(lines) > 3:
                    p("  - … %d more %s lines" % (len(lines) - 3, kind))
        aw = r[13]
        if aw:
            p("- steps run as written (isolated plans, by statement): " +
              ", ".join("%s %d" % (k, v) for k, v in aw.most_common(12)) +
              ". pgphase gives no reason yet; these are statements no strategy applies to "
              "(new objects, tables created in the same migration, statements with no hazard)")
        p("")

    p("## Failing statements grouped by cause (isolated runs)\n")
    for key, items in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        projs_in = sorted(set(i[0] for i in items))
        p("### %d× `%s`\n" % (len(items), key))
        p("Directories: %s\n" % ", ".join(projs_in))
        for name, ref, msg, stmt, k in items[:8]:
            p("- %s %s: `%s`" % (name, ref, re.sub(r"^\S*/", "", msg)[:300]))
            if stmt:
                p("  - statement starts: `%s`" % stmt)
        if len(items) > 8:
            p("- … %d more" % (len(items) - 8))
        p("")
    if hangs:
        p("## Hangs (killed by the watchdog)\n")
        for name, ref, msg in hangs:
            p("- %s %s: last output `%s`" % (name, ref, msg[:200]))
        p("")
    p("## Exit 0 but the schema differs from psql (isolated runs)\n")
    p("`-` = in psql's schema only (lost by pgphase), `+` = in pgphase's only.\n")
    for (side, kind), items in sorted(diffs.items(), key=lambda kv: -len(kv[1])):
        p("### %s %s: %d migrations\n" % (side, kind, len(items)))
        for name, ref, lines in items[:6]:
            p("- %s %s:" % (name, ref))
            for line in lines[:4]:
                p("  - `%s %s`" % (side, line[:160]))
            if len(lines) > 4:
                p("  - … %d more lines" % (len(lines) - 4))
        if len(items) > 6:
            p("- … %d more migrations" % (len(items) - 6))
        p("")


if __name__ == "__main__":
    main()
