/*
 * Migration directory loader: file names → versions, bytes → checks and checksums, templates
 * expanded, sections split (src/load/sections.c).  Naming problems are collected over the whole
 * directory so one run lists every offending file.  Statement parsing is deferred to
 * pgphase_migration_parse() so `status` works on a directory whose SQL does not parse.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "pgphase/log.h"
#include "pgphase/migration.h"
#include "load/sections.h"
#include "base/util.h"

const char *pgphase_phase_name(enum pgphase_phase p)
{
	switch (p) {
	case PGPHASE_PHASE_EXPAND:
		return "expand";
	case PGPHASE_PHASE_BACKFILL:
		return "backfill";
	case PGPHASE_PHASE_CONTRACT:
		return "contract";
	default:
		return "unplaced";
	}
}

void pgphase_sha256_hex(const void *data, size_t len, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	static const char hex[] = "0123456789abcdef";

	EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
	for (unsigned int i = 0; i < mdlen && i < 32; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[64] = '\0';
}

static bool ends_with(const char *s, size_t len, const char *suffix, bool nocase)
{
	size_t n = strlen(suffix);

	if (len < n)
		return false;
	return nocase ? strncasecmp(s + len - n, suffix, n) == 0 : memcmp(s + len - n, suffix, n) == 0;
}

static size_t count_digits(const char *s)
{
	size_t n = 0;

	while (isdigit((unsigned char)s[n]))
		n++;
	return n;
}

static bool valid_description(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-')
			return false;
	return true;
}

int pgphase_parse_file_name(const char *base, int64_t *version, char **version_text,
			    char **name, enum pgphase_name_style *style, int *part,
			    const char **why)
{
	size_t len = strlen(base), d1, d2, vstart = 0;
	const char *desc;
	char digits[32];
	size_t nd = 0;

	if (base[0] == '.')
		return 0;
	if (!ends_with(base, len, ".sql", true))
		return 0;
	if (!ends_with(base, len, ".sql", false)) {
		*why = "extension must be lower-case \".sql\"";
		return -1;
	}
	len -= 4;
	*part = 0;
	if (ends_with(base, len, ".up", false)) {
		*part = 1;
		len -= 3;
	} else if (ends_with(base, len, ".down", false)) {
		*part = 2;
		len -= 5;
	}
	if ((base[0] == 'V' || base[0] == 'v') && isdigit((unsigned char)base[1])) {
		vstart = 1;
		d1 = count_digits(base + 1);
		if (base[1 + d1] == '.') {
			*why = "dotted versions (V1.1__) are not supported; use whole numbers";
			return -1;
		}
		if (strncmp(base + 1 + d1, "__", 2) != 0) {
			*why = "Flyway-style names need two underscores: V<version>__<description>.sql";
			return -1;
		}
		desc = base + 1 + d1 + 2;
		*style = PGPHASE_STYLE_FLYWAY;
		memcpy(digits, base + 1, d1 < 20 ? d1 : 0);
		nd = d1;
	} else if (isdigit((unsigned char)base[0])) {
		d1 = count_digits(base);
		d2 = base[d1] == '_' ? count_digits(base + d1 + 1) : 0;
		if (d1 == 8 && d2 == 6 && base[d1 + 1 + d2] == '_') {
			*style = PGPHASE_STYLE_TIMESTAMP_US;
			desc = base + d1 + 1 + d2 + 1;
			if (d1 + d2 < sizeof(digits)) {
				memcpy(digits, base, d1);
				memcpy(digits + d1, base + d1 + 1, d2);
			}
			nd = d1 + d2;
		} else if (base[d1] == '_') {
			*style = d1 == 14 ? PGPHASE_STYLE_TIMESTAMP : PGPHASE_STYLE_NUMBER;
			desc = base + d1 + 1;
			memcpy(digits, base, d1 < 20 ? d1 : 0);
			nd = d1;
		} else {
			*why = "missing '_' between the version and the description";
			return -1;
		}
	} else {
		return 0; /* not a migration name: ignored with a warning by the caller */
	}
	if (nd > 18) {
		*why = "version has more than 18 digits";
		return -1;
	}
	if (!valid_description(desc, (size_t)(base + len - desc))) {
		*why = desc == base + len ? "missing description after the version"
					  : "description may hold only letters, digits, '_' and '-'";
		return -1;
	}
	digits[nd] = '\0';
	*version = strtoll(digits, NULL, 10);
	if (*style == PGPHASE_STYLE_TIMESTAMP_US)
		*version_text = xstrndup(base, 15);
	else
		*version_text = xstrndup(base + vstart, nd);
	*name = xstrndup(desc, (size_t)(base + len - desc));
	return 1;
}

/* UTF-8 validity and NUL bytes, reported at the first offending byte. */
static int check_bytes(const char *file, const char *buf, size_t len, struct pgphase_error *err)
{
	size_t i = 0;
	int line, col;

	while (i < len) {
		unsigned char c = (unsigned char)buf[i];
		size_t need = 0;

		if (c == 0) {
			text_position(buf, i, &line, &col);
			return pgphase_error_at(err, PGPHASE_EXIT_USAGE, "bad-encoding", file, line, col,
						"file contains a NUL byte");
		}
		if (c < 0x80)
			need = 0;
		else if (c >= 0xC2 && c <= 0xDF)
			need = 1;
		else if (c >= 0xE0 && c <= 0xEF)
			need = 2;
		else if (c >= 0xF0 && c <= 0xF4)
			need = 3;
		else
			goto bad;
		if (need && i + need >= len)
			goto bad;
		for (size_t k = 1; k <= need; k++)
			if (((unsigned char)buf[i + k] & 0xC0) != 0x80)
				goto bad;
		i += need + 1;
		continue;
bad:
		text_position(buf, i, &line, &col);
		return pgphase_error_at(err, PGPHASE_EXIT_USAGE, "bad-encoding", file, line, col,
					"file is not valid UTF-8 (byte 0x%02x)", c);
	}
	return 0;
}

static int read_checked(const char *path, char **out, size_t *len, struct pgphase_error *err)
{
	if (read_file(path, out, len) < 0)
		return pgphase_error_set(err, PGPHASE_EXIT_USAGE, "cannot read \"%s\": %s", path,
					 strerror(errno));
	if (check_bytes(path, *out, *len, err) < 0) {
		free(*out);
		*out = NULL;
		return -1;
	}
	return 0;
}

void pgphase_migration_release(struct pgphase_migration *m)
{
	if (m->plan_index_free)
		m->plan_index_free(m->plan_index);
	free(m->version_text);
	free(m->name);
	free(m->file);
	free(m->down_file);
	free(m->ignore_file_rules);
	free(m->ignore_file_reason);
	sections_release(&m->up);
	sections_release(&m->down);
	memset(m, 0, sizeof(*m));
}

/* Read the file(s), checksum, expand templates, split sections. */
static int load_migration(struct pgphase_migration *m, const struct pgphase_template_vars *vars,
			  struct pgphase_error *err)
{
	char *up = NULL, *down = NULL;
	size_t up_len = 0, down_len = 0;
	int rc = -1;

	if (read_checked(m->file, &up, &up_len, err) < 0)
		goto cleanup;
	if (m->down_file && read_checked(m->down_file, &down, &down_len, err) < 0)
		goto cleanup;
	if (vars && vars->no_checksum) {
		m->checksum[0] = '\0';
	} else if (down) {
		char *both = xmalloc(up_len + down_len + 1);

		memcpy(both, up, up_len);
		memcpy(both + up_len, down, down_len);
		pgphase_sha256_hex(both, up_len + down_len, m->checksum);
		free(both);
	} else {
		pgphase_sha256_hex(up, up_len, m->checksum);
	}
	rc = sections_split(m, up, down, vars, err);
cleanup:
	free(up);
	free(down);
	return rc;
}

/* Name a loose file: a migration name gives its version; anything else is version 0. */
static int name_loose(struct pgphase_migration *m, const char *path, struct pgphase_error *err)
{
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	const char *why = NULL;
	int part = 0, r;

	memset(m, 0, sizeof(*m));
	r = pgphase_parse_file_name(base, &m->version, &m->version_text, &m->name, &m->style,
				    &part, &why);
	if (r < 0)
		return pgphase_error_at(err, PGPHASE_EXIT_USAGE, "bad-file-name", path, 1, 0,
					"malformed migration file name: %s", why);
	if (r == 0) {
		m->version_text = xstrdup("0");
		m->name = xstrdup(base);
	}
	m->file = xstrdup(path);
	return 0;
}

int pgphase_migration_load_text(struct pgphase_migration *m, const char *path, const char *text,
				size_t len, const struct pgphase_template_vars *vars,
				struct pgphase_error *err)
{
	char *copy;
	int rc;

	if (name_loose(m, path, err) < 0) {
		pgphase_migration_release(m);
		return -1;
	}
	if (check_bytes(path, text, len, err) < 0) {
		pgphase_migration_release(m);
		return -1;
	}
	pgphase_sha256_hex(text, len, m->checksum);
	copy = xstrndup(text, len);
	rc = sections_split(m, copy, NULL, vars, err);
	free(copy);
	if (rc < 0)
		pgphase_migration_release(m);
	return rc;
}

int pgphase_migration_load_file(struct pgphase_migration *m, const char *path,
				const struct pgphase_template_vars *vars,
				struct pgphase_error *err)
{
	if (name_loose(m, path, err) < 0) {
		pgphase_migration_release(m);
		return -1;
	}
	if (load_migration(m, vars, err) < 0) {
		pgphase_migration_release(m);
		return -1;
	}
	return 0;
}

static int cmp_version(const void *a, const void *b)
{
	const struct pgphase_migration *x = a, *y = b;

	return x->version < y->version ? -1 : x->version > y->version;
}

static char **list_dir(const char *dir, size_t *n, struct pgphase_error *err)
{
	char **names = list_dir_sorted(dir, n);

	if (!names) {
		pgphase_error_set(err, PGPHASE_EXIT_USAGE, "cannot open migrations directory \"%s\": %s",
				  dir, strerror(errno));
		if (errno == ENOENT)
			pgphase_error_hint(err, "create it, run \"pgphase init\", or pass --migrations DIR");
	}
	return names;
}

static char *join_path(const char *dir, const char *base)
{
	size_t dl = strlen(dir);

	return dl && dir[dl - 1] == '/' ? xasprintf("%s%s", dir, base) : xasprintf("%s/%s", dir, base);
}

/* Attach a .up.sql/.down.sql part or a single file to the set; duplicates go to problems. */
static void add_named(struct pgphase_migration_set *set, const char *path, int64_t version,
		      char *vtext, char *name, enum pgphase_name_style style, int part,
		      struct sbuf *problems, size_t *nproblems)
{
	struct pgphase_migration *m = NULL;

	for (size_t i = 0; i < set->n; i++)
		if (set->items[i].version == version)
			m = &set->items[i];
	if (m) {
		bool pairs = (part == 2 && !m->down_file && m->file && ends_with(m->file, strlen(m->file), ".up.sql", false) &&
			      strcmp(m->name, name) == 0) ||
			     (part == 1 && !m->file && strcmp(m->name, name) == 0);

		if (pairs) {
			if (part == 2)
				m->down_file = xstrdup(path);
			else
				m->file = xstrdup(path);
		} else {
			sbuf_addf(problems, "\n  %s: duplicate version %s (also %s)", path, vtext,
				    m->file ? m->file : m->down_file);
			(*nproblems)++;
		}
		free(vtext);
		free(name);
		return;
	}
	GROW(set->items, set->cap, set->n + 1);
	m = &set->items[set->n++];
	memset(m, 0, sizeof(*m));
	m->version = version;
	m->version_text = vtext;
	m->name = name;
	m->style = style;
	if (part == 2)
		m->down_file = xstrdup(path);
	else
		m->file = xstrdup(path);
}

int pgphase_migration_set_load(struct pgphase_migration_set *set, const char *dir,
			       const struct pgphase_template_vars *vars,
			       struct pgphase_error *err)
{
	struct sbuf problems = SBUF_INIT;
	size_t n = 0, nproblems = 0;
	char **names;
	char *first = NULL;
	int rc = -1;

	memset(set, 0, sizeof(*set));
	set->dir = xstrdup(dir);
	names = list_dir(dir, &n, err);
	if (!names && err && err->code) {
		pgphase_migration_set_release(set);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		char *path = join_path(dir, names[i]), *vtext = NULL, *name = NULL;
		const char *why = NULL;
		enum pgphase_name_style style = PGPHASE_STYLE_NUMBER;
		int64_t version = 0;
		int part = 0;
		int r = pgphase_parse_file_name(names[i], &version, &vtext, &name, &style, &part, &why);

		if (r < 0) {
			sbuf_addf(&problems, "\n  %s: %s", path, why);
			if (!first)
				first = xasprintf("%s:1: malformed migration file name: %s", path, why);
			nproblems++;
		} else if (r == 0) {
			pgphase_warn("ignoring \"%s\": not a migration file name", path);
		} else {
			size_t before = nproblems;

			add_named(set, path, version, vtext, name, style, part, &problems, &nproblems);
			if (nproblems > before && !first)
				first = xasprintf("%s:1: duplicate migration version", path);
		}
		free(path);
	}
	for (size_t i = 0; i < set->n; i++)
		if (!set->items[i].file) {
			sbuf_addf(&problems, "\n  %s: down file without a matching .up.sql",
				    set->items[i].down_file);
			if (!first)
				first = xasprintf("%s:1: down file without a matching .up.sql",
						  set->items[i].down_file);
			nproblems++;
		}
	if (nproblems) {
		pgphase_error_set(err, PGPHASE_EXIT_USAGE, "%s", first);
		if (err) {
			err->kind = strstr(first, "duplicate") ? "duplicate-version" : "bad-file-name";
			pgphase_error_detail(err, "%zu problem%s with migration file names:%s", nproblems,
					     nproblems == 1 ? "" : "s", problems.buf);
		}
		goto cleanup;
	}
	if (set->n)
		qsort(set->items, set->n, sizeof(*set->items), cmp_version);
	for (size_t i = 0; i < set->n; i++)
		if (load_migration(&set->items[i], vars, err) < 0)
			goto cleanup;
	rc = 0;
cleanup:
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	free(first);
	sbuf_release(&problems);
	if (rc < 0)
		pgphase_migration_set_release(set);
	return rc;
}

void pgphase_migration_set_release(struct pgphase_migration_set *set)
{
	for (size_t i = 0; i < set->n; i++)
		pgphase_migration_release(&set->items[i]);
	free(set->items);
	free(set->dir);
	memset(set, 0, sizeof(*set));
}

struct pgphase_migration *pgphase_migration_find(const struct pgphase_migration_set *set,
						 int64_t version)
{
	for (size_t i = 0; i < set->n; i++)
		if (set->items[i].version == version)
			return &set->items[i];
	return NULL;
}

int pgphase_migration_parse(struct pgphase_migration *m, struct pgphase_error *err)
{
	if (m->parsed)
		return 0;
	if (sections_parse(m, err) < 0)
		return -1;
	m->parsed = true;
	return 0;
}

int pgphase_migration_set_parse(struct pgphase_migration_set *set, struct pgphase_error *err)
{
	for (size_t i = 0; i < set->n; i++)
		if (pgphase_migration_parse(&set->items[i], err) < 0)
			return -1;
	return 0;
}
