/*
 * Reading migrations: bytes → UTF-8 and NUL checks and checksums, then templates, sections
 * and directives (sections.c), statements and their notes (attach.c).  Problems are
 * collected (problems.c), never stopping at the first; only a file that cannot be read at
 * all is an error.  The directory listing and file names are names.c's.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "pgphase/log.h"
#include "pgphase/migration.h"
#include "load/sections.h"
#include "base/util.h"

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

/* UTF-8 validity and NUL bytes, reported at the first offending byte. */
static int check_bytes(const char *file, const char *buf, size_t len,
		       struct pgphase_problems *problems)
{
	size_t i = 0;
	int line, col;

	while (i < len) {
		unsigned char c = (unsigned char)buf[i];
		size_t need = 0;

		if (c == 0) {
			text_position(buf, i, &line, &col);
			problem_add(problems, PGPHASE_PROBLEM_BAD_ENCODING, file, line, col,
				    "save the file as UTF-8 text", "file contains a NUL byte");
			return -1;
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
		problem_add(problems, PGPHASE_PROBLEM_BAD_ENCODING, file, line, col,
			    "save the file as UTF-8 text", "file is not valid UTF-8 (byte 0x%02x)", c);
		return -1;
	}
	return 0;
}

static int read_whole(const char *path, char **out, size_t *len, struct pgphase_error *err)
{
	if (read_file(path, out, len) < 0)
		return pgphase_error_set(err, PGPHASE_EXIT_USAGE, "cannot read \"%s\": %s", path,
					 strerror(errno));
	return 0;
}

void pgphase_migration_unload(struct pgphase_migration *m)
{
	if (m->plan_index_free)
		m->plan_index_free(m->plan_index);
	m->plan_index = NULL;
	m->plan_index_free = NULL;
	free(m->ignore_file_rules);
	free(m->ignore_file_reason);
	m->ignore_file_rules = m->ignore_file_reason = NULL;
	sections_release(&m->up);
	sections_release(&m->down);
	m->no_transaction = false;
	m->loaded = false;
}

void pgphase_migration_release(struct pgphase_migration *m)
{
	pgphase_migration_unload(m);
	free(m->version_text);
	free(m->name);
	free(m->file);
	free(m->down_file);
	memset(m, 0, sizeof(*m));
}

static void checksum(struct pgphase_migration *m, const char *up, size_t up_len,
		     const char *down, size_t down_len)
{
	char *both = xmalloc(up_len + down_len + 1);

	if (up_len)
		memcpy(both, up, up_len);
	if (down_len)
		memcpy(both + up_len, down, down_len);
	pgphase_sha256_hex(both, up_len + down_len, m->checksum);
	free(both);
}

/* Check, checksum, split and parse the bytes of m's file(s); either may be NULL. */
static void read_bytes(struct pgphase_migration *m, const char *up, size_t up_len,
		       const char *down, size_t down_len, const struct pgphase_template_vars *vars,
		       struct pgphase_problems *problems)
{
	size_t before = problems->n;
	bool up_ok = up && check_bytes(m->file, up, up_len, problems) == 0;
	bool down_ok = down && check_bytes(m->down_file, down, down_len, problems) == 0;

	if (vars && vars->no_checksum)
		m->checksum[0] = '\0';
	else
		checksum(m, up, up ? up_len : 0, down, down ? down_len : 0);
	sections_split(m, up_ok ? up : NULL, down_ok ? down : NULL, vars, problems);
	sections_parse(m, problems);
	m->loaded = true;
	m->broken = problems->n > before;
}

int pgphase_migration_read(struct pgphase_migration *m, const struct pgphase_template_vars *vars,
			   struct pgphase_problems *problems, struct pgphase_error *err)
{
	char *up = NULL, *down = NULL;
	size_t up_len = 0, down_len = 0;
	int rc = -1;

	if (m->loaded)
		return 0;
	if (m->file && read_whole(m->file, &up, &up_len, err) < 0)
		goto cleanup;
	if (m->down_file && read_whole(m->down_file, &down, &down_len, err) < 0)
		goto cleanup;
	read_bytes(m, up, up_len, down, down_len, vars, problems);
	rc = 0;
cleanup:
	free(up);
	free(down);
	return rc;
}

/* Name a file given by path: a migration name gives its version, any other is loose
 * (version 0); a near-miss is a problem (-1). */
static int name_loose(struct pgphase_migration *m, const char *path,
		      struct pgphase_problems *problems)
{
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	const char *why = NULL;
	int part = 0, r;

	memset(m, 0, sizeof(*m));
	r = pgphase_parse_file_name(base, &m->version, &m->version_text, &m->name, &m->style,
				    &part, &why);
	m->file = xstrdup(path);
	if (r < 0) {
		problem_add(problems, PGPHASE_PROBLEM_BAD_FILE_NAME, path, 1, 0,
			    "name it NNN_description.sql, VNNN__description.sql or "
			    "YYYYMMDDHHMMSS_description.sql",
			    "malformed migration file name: %s", why);
		m->broken = true;
		return -1;
	}
	if (r == 0) {
		m->version_text = xstrdup("0");
		m->name = xstrdup(base);
		m->loose = true;
	}
	return 0;
}

int pgphase_migration_load_file(struct pgphase_migration *m, const char *path,
				const struct pgphase_template_vars *vars,
				struct pgphase_problems *problems, struct pgphase_error *err)
{
	if (name_loose(m, path, problems) < 0)
		return 0; /* not read: m->loaded stays false */
	if (pgphase_migration_read(m, vars, problems, err) < 0) {
		pgphase_migration_release(m);
		return -1;
	}
	return 0;
}

int pgphase_migration_load_text(struct pgphase_migration *m, const char *path, const char *text,
				size_t len, const struct pgphase_template_vars *vars,
				struct pgphase_error *err)
{
	struct pgphase_problems problems = { 0 };
	char *copy = xstrndup(text, len);
	int rc = 0;

	if (name_loose(m, path, &problems) == 0)
		read_bytes(m, copy, len, NULL, 0, vars, &problems);
	if (problems.n) {
		rc = pgphase_problems_error(&problems, err);
		pgphase_migration_release(m);
	}
	pgphase_problems_release(&problems);
	free(copy);
	return rc;
}

int pgphase_migration_set_read(struct pgphase_migration_set *set, const char *dir,
			       const struct pgphase_template_vars *vars,
			       struct pgphase_error *err)
{
	if (pgphase_migration_set_list(set, dir, err) < 0)
		return -1;
	for (size_t i = 0; i < set->n_ignored; i++)
		pgphase_warn("ignoring \"%s\": not a migration file name", set->ignored[i]);
	for (size_t i = 0; i < set->n; i++)
		if (pgphase_migration_read(&set->items[i], vars, &set->problems, err) < 0) {
			pgphase_migration_set_release(set);
			return -1;
		}
	return 0;
}

int pgphase_migration_set_load(struct pgphase_migration_set *set, const char *dir,
			       const struct pgphase_template_vars *vars,
			       struct pgphase_error *err)
{
	if (pgphase_migration_set_read(set, dir, vars, err) < 0)
		return -1;
	if (set->problems.n) {
		pgphase_problems_error(&set->problems, err);
		pgphase_migration_set_release(set);
		return -1;
	}
	return 0;
}

void pgphase_migration_set_release(struct pgphase_migration_set *set)
{
	for (size_t i = 0; i < set->n; i++)
		pgphase_migration_release(&set->items[i]);
	free(set->items);
	free(set->dir);
	pgphase_problems_release(&set->problems);
	for (size_t i = 0; i < set->n_ignored; i++)
		free(set->ignored[i]);
	free(set->ignored);
	memset(set, 0, sizeof(*set));
}

int pgphase_migration_parse(struct pgphase_migration *m, struct pgphase_error *err)
{
	if (!m->broken && m->loaded)
		return 0;
	return pgphase_error_set(err, PGPHASE_EXIT_USAGE, "%s: %s", m->file ? m->file : m->down_file,
				 m->loaded ? "migration has problems" : "migration was not read");
}

int pgphase_migration_set_parse(struct pgphase_migration_set *set, struct pgphase_error *err)
{
	for (size_t i = 0; i < set->n; i++)
		if (pgphase_migration_parse(&set->items[i], err) < 0)
			return -1;
	return 0;
}
