#!/usr/bin/env python3
"""Rename one project's migration directory into pgphase's file layout.

    layout.py [--down] KIND SRC OUT

KIND is the tool that wrote SRC: prisma, diesel, golang-migrate, goose, dbmate, sql-migrate,
popx (ory), temporal, plain (NNN_name.sql applied in name order). OUT receives
NNNN_<name>.sql files (or NNNN_<name>.up.sql/.down.sql pairs) numbered in the tool's own
order, and OUT/files.tsv: new name, original path, transaction mode (txn: psql -1; autocommit:
the tool runs that file outside a transaction, so psql runs it without -1).

File contents are copied unmodified, except that a goose, dbmate or sql-migrate file keeps
only its Up section (the tool runs nothing else); with --down (tests/realdirs/rollback.sh) its
Down section becomes the pair's .down.sql instead of being left out (a Down marker with
nothing under it makes an empty one), and popx's dialect-less down file serves a postgres up
file without its own. Migrations whose Up part holds no SQL at all (only comments or blanks:
popx writes one per dialect) are skipped and listed as "empty".
This is test tooling for tests/realdirs/run.sh, not part of pgphase.
"""
import json
import os
import re
import sys


def clean(name):
    name = re.sub(r"[^A-Za-z0-9_-]+", "_", name).strip("_")
    return name or "migration"


def read(path):
    with open(path, "rb") as f:
        return f.read()


def has_sql(data):
    text = data.decode("utf-8", "replace")
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    for line in text.splitlines():
        s = line.strip()
        if s and not s.startswith("--"):
            return True
    return False


def section(data, up_marker, down_marker):
    """Bytes between the Up marker line and the Down marker line (markers excluded)."""
    out, on = [], None
    for line in data.splitlines(keepends=True):
        s = line.strip().lower()
        if re.match(up_marker.encode(), s):
            on = True
            continue
        if re.match(down_marker.encode(), s):
            on = False
            continue
        if on:
            out.append(line)
    return b"".join(out)


def collect(kind, src, with_down=False):
    """[(sort key, name, up bytes, down bytes or None, original path, mode)]"""
    items = []
    if kind == "prisma":
        for d in sorted(os.listdir(src)):
            p = os.path.join(src, d, "migration.sql")
            if os.path.isfile(p):
                items.append((d, d, read(p), None, p, "txn"))
    elif kind == "diesel":
        for d in sorted(os.listdir(src)):
            p = os.path.join(src, d, "up.sql")
            if not os.path.isfile(p):
                continue
            mode = "txn"
            meta = os.path.join(src, d, "metadata.toml")
            if os.path.isfile(meta) and re.search(rb"run_in_transaction\s*=\s*false", read(meta)):
                mode = "autocommit"
            dn = os.path.join(src, d, "down.sql")
            # diesel's version is the part before the first '_' with the dashes removed
            ver = d.split("_", 1)[0].replace("-", "")
            items.append((ver, d.split("_", 1)[-1], read(p),
                          read(dn) if os.path.isfile(dn) else None, p, mode))
    elif kind in ("golang-migrate", "temporal-pairs"):
        for f in os.listdir(src):
            m = re.match(r"^(\d+)_(.*)\.up\.sql$", f)
            if not m:
                continue
            dn = os.path.join(src, f[: -len(".up.sql")] + ".down.sql")
            items.append((int(m.group(1)), m.group(2), read(os.path.join(src, f)),
                          read(dn) if os.path.isfile(dn) else None, os.path.join(src, f), "txn"))
    elif kind in ("goose", "dbmate", "sql-migrate"):
        up, down = {
            "goose": (r"^--\s*\+goose\s+up\b", r"^--\s*\+goose\s+down\b"),
            "dbmate": (r"^--\s*migrate:up\b", r"^--\s*migrate:down\b"),
            "sql-migrate": (r"^--\s*\+migrate\s+up\b", r"^--\s*\+migrate\s+down\b"),
        }[kind]
        for f in os.listdir(src):
            m = re.match(r"^(\d+)_(.*)\.sql$", f)
            if not m:
                continue
            data = read(os.path.join(src, f))
            mode = "txn"
            low = data.lower()
            if (kind == "goose" and re.search(rb"--\s*\+goose\s+no\s+transaction", low)) or \
               (kind == "dbmate" and re.search(rb"--\s*migrate:up\s+transaction:false", low)) or \
               (kind == "sql-migrate" and re.search(rb"--\s*\+migrate\s+up\s+notransaction", low)):
                mode = "autocommit"
            dn = None
            if with_down and any(re.match(down.encode(), ln.strip().lower())
                                 for ln in data.splitlines()):
                dn = section(data, down, up)  # a marker with nothing under it: an empty DOWN
            items.append((int(m.group(1)), m.group(2), section(data, up, down), dn,
                          os.path.join(src, f), mode))
    elif kind == "popx":
        byver = {}
        for f in os.listdir(src):
            m = re.match(r"^(\d+)_([^.]*)((?:\.[a-z0-9]+)*)\.up\.sql$", f)
            if not m:
                continue
            parts = [p for p in m.group(3).split(".") if p]
            dialect = "all"
            auto = "autocommit" in parts
            for p in parts:
                if p in ("postgres", "mysql", "sqlite", "sqlite3", "cockroach"):
                    dialect = p
            if dialect not in ("postgres", "all"):
                continue
            key = (m.group(1), m.group(2))
            prev = byver.get(key)
            if prev is not None and prev[0] == "postgres":
                continue
            byver[key] = (dialect, f, auto)
        for (ver, name), (dialect, f, auto) in byver.items():
            dn = os.path.join(src, f[: -len(".up.sql")] + ".down.sql")
            if not os.path.isfile(dn):
                # a down file without the dialect serves every dialect
                dn = os.path.join(src, "%s_%s%s.down.sql" % (
                    ver, name, ".autocommit" if auto else ""))
            items.append(((int(ver), name), name, read(os.path.join(src, f)),
                          read(dn) if os.path.isfile(dn) else None, os.path.join(src, f),
                          "autocommit" if auto else "txn"))
    elif kind == "temporal":
        vers = []
        for d in os.listdir(src):
            m = re.match(r"^v(\d+)\.(\d+)$", d)
            if m:
                vers.append(((int(m.group(1)), int(m.group(2))), d))
        for v, d in sorted(vers):
            man = json.loads(read(os.path.join(src, d, "manifest.json")))
            for i, f in enumerate(man["SchemaUpdateCqlFiles"]):
                p = os.path.join(src, d, f)
                items.append(((v, i), d + "_" + f[:-4], read(p), None, p, "txn"))
    elif kind == "plain":
        for f in os.listdir(src):
            m = re.match(r"^(\d+)_(.*)\.sql$", f)
            if m:
                items.append((int(m.group(1)), m.group(2), read(os.path.join(src, f)), None,
                              os.path.join(src, f), "txn"))
    else:
        sys.exit("layout.py: unknown kind " + kind)
    items.sort(key=lambda x: x[0])
    return items


def main():
    args = sys.argv[1:]
    with_down = bool(args) and args[0] == "--down"
    if with_down:
        args = args[1:]
    kind, src, out = args[:3]
    os.makedirs(out, exist_ok=True)
    rows, empty, n = [], [], 0
    for _, name, up, down, orig, mode in collect(kind, src, with_down):
        rel = os.path.relpath(orig, src)
        if not has_sql(up):
            empty.append(rel)
            continue
        n += 1
        base = "%04d_%s" % (n, clean(name))
        if down is not None:
            files = [(base + ".up.sql", up), (base + ".down.sql", down)]
        else:
            files = [(base + ".sql", up)]
        for fn, data in files:
            with open(os.path.join(out, fn), "wb") as f:
                f.write(data)
        rows.append("%s\t%s\t%s" % (files[0][0], rel, mode))
    with open(os.path.join(out, "files.tsv"), "w") as f:
        f.write("\n".join(rows) + ("\n" if rows else ""))
    with open(os.path.join(out, "empty.txt"), "w") as f:
        f.write("\n".join(empty) + ("\n" if empty else ""))
    print("%d migrations, %d empty skipped" % (n, len(empty)))


if __name__ == "__main__":
    main()
