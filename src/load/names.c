/*
 * Migration file names and the directory listing: which entries are migrations, their
 * versions, .up.sql/.down.sql pairs, version order.  Near-miss names, duplicate versions and
 * orphan .down.sql files are problems, all collected, so one run names every offending file.
 * Reading the files is loader.c's job.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "load/sections.h"
#include "base/util.h"

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

/* Order by version, then path: a duplicate version sorts after the first file listed. */
static int cmp_version(const void *a, const void *b)
{
	const struct pgphase_migration *x = a, *y = b;
	const char *px = x->file ? x->file : x->down_file, *py = y->file ? y->file : y->down_file;

	if (x->version != y->version)
		return x->version < y->version ? -1 : 1;
	return strcmp(px, py);
}

static char *join_path(const char *dir, const char *base)
{
	size_t dl = strlen(dir);

	if (dl == 0) /* "" is the current directory, its paths shown bare */
		return xstrdup(base);
	return dir[dl - 1] == '/' ? xasprintf("%s%s", dir, base) : xasprintf("%s/%s", dir, base);
}

/*
 * Attach a .up.sql/.down.sql part or a single file to the set.  Only the first migration of
 * a version pairs with a part or clashes with it: a clash is a problem, and the file becomes
 * a migration of its own (so lint still reads it).
 */
static void add_named(struct pgphase_migration_set *set, const char *path, int64_t version,
		      char *vtext, char *name, enum pgphase_name_style style, int part)
{
	struct pgphase_migration *m = NULL;

	for (size_t i = 0; i < set->n && !m; i++)
		if (set->items[i].version == version)
			m = &set->items[i];
	if (m) {
		bool pairs = (part == 2 && !m->down_file && m->file &&
			      ends_with(m->file, strlen(m->file), ".up.sql", false) &&
			      strcmp(m->name, name) == 0) ||
			     (part == 1 && !m->file && strcmp(m->name, name) == 0);

		if (pairs) {
			if (part == 2)
				m->down_file = xstrdup(path);
			else
				m->file = xstrdup(path);
			free(vtext);
			free(name);
			return;
		}
		problem_add(&set->problems, PGPHASE_PROBLEM_DUPLICATE_VERSION, path, 1, 0,
			    "give each migration its own version; renumber this one after the newest",
			    "duplicate migration version %s (also %s)", vtext,
			    m->file ? m->file : m->down_file);
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

int pgphase_migration_set_list(struct pgphase_migration_set *set, const char *dir,
			       struct pgphase_error *err)
{
	size_t n = 0;
	char **names;

	memset(set, 0, sizeof(*set));
	set->dir = xstrdup(dir);
	names = list_dir_sorted(dir[0] ? dir : ".", &n);
	if (!names) {
		pgphase_error_set(err, PGPHASE_EXIT_USAGE, "cannot open migrations directory \"%s\": %s",
				  dir, strerror(errno));
		if (errno == ENOENT)
			pgphase_error_hint(err, "create it, run \"pgphase init\", or pass --migrations DIR");
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
			problem_add(&set->problems, PGPHASE_PROBLEM_BAD_FILE_NAME, path, 1, 0,
				    "name it NNN_description.sql, VNNN__description.sql or "
				    "YYYYMMDDHHMMSS_description.sql",
				    "malformed migration file name: %s", why);
		} else if (r == 0) {
			set->ignored = xrealloc(set->ignored, (set->n_ignored + 1) * sizeof(char *));
			set->ignored[set->n_ignored++] = path;
			path = NULL;
		} else {
			add_named(set, path, version, vtext, name, style, part);
		}
		free(path);
		free(names[i]);
	}
	free(names);
	for (size_t i = 0; i < set->n; i++)
		if (!set->items[i].file)
			problem_add(&set->problems, PGPHASE_PROBLEM_BAD_FILE_NAME,
				    set->items[i].down_file, 1, 0,
				    "add the matching .up.sql file or rename this one",
				    "down file without a matching .up.sql");
	if (set->n)
		qsort(set->items, set->n, sizeof(*set->items), cmp_version);
	return 0;
}

struct pgphase_migration *pgphase_migration_find(const struct pgphase_migration_set *set,
						 int64_t version)
{
	for (size_t i = 0; i < set->n; i++)
		if (set->items[i].version == version)
			return &set->items[i];
	return NULL;
}
