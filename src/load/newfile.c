/*
 * `pgphase new`: the next migration file in the directory's own naming style.  The newest
 * existing file decides the style (Flyway prefix, timestamp form, number padding, .up/.down
 * pairs); an empty directory gets 001_name.sql.  Existing files are never overwritten.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pgphase/migration.h"
#include "base/util.h"

static const char TEMPLATE_UP[] =
	"-- Migration: %s\n"
	"-- Created: %s\n"
	"\n"
	"-- UP\n"
	"\n"
	"\n"
	"-- DOWN\n"
	"\n";

static const char TEMPLATE_PAIR_UP[] = "-- Migration: %s (up)\n-- Created: %s\n\n";
static const char TEMPLATE_PAIR_DOWN[] = "-- Migration: %s (down)\n-- Created: %s\n\n";

/* lower-case, spaces and dashes to '_', nothing else but [a-z0-9_] */
static int clean_name(const char *name, char **out, struct pgphase_error *err)
{
	struct sbuf sb = SBUF_INIT;

	for (const char *p = name; *p; p++) {
		char c = (char)tolower((unsigned char)*p);

		if (c == ' ' || c == '-')
			c = '_';
		if (!isalnum((unsigned char)c) && c != '_') {
			sbuf_release(&sb);
			return pgphase_error_set(err, PGPHASE_EXIT_USAGE,
						 "migration name \"%s\" may hold only letters, digits, "
						 "spaces, '-' and '_'", name);
		}
		sbuf_add(&sb, &c, 1);
	}
	if (sb.len == 0)
		return pgphase_error_set(err, PGPHASE_EXIT_USAGE, "migration name must not be empty");
	*out = sbuf_detach(&sb);
	return 0;
}

static int write_new(const char *path, const char *fmt, const char *name, const char *when,
		     struct pgphase_error *err)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
	FILE *f;

	if (fd < 0)
		return pgphase_error_set(err, PGPHASE_EXIT_USAGE, "cannot create \"%s\": %s", path,
					 strerror(errno));
	f = fdopen(fd, "w");
	fprintf(f, fmt, name, when);
	fclose(f);
	return 0;
}

int pgphase_migration_new(const char *dir, const char *name, char **path_out,
			  struct pgphase_error *err)
{
	struct pgphase_migration_set set;
	const struct pgphase_migration *last;
	char *clean = NULL, *version = NULL, *path = NULL, stamp[32], when[32];
	time_t now = time(NULL);
	struct tm tm;
	bool pair = false;
	int rc = -1;

	if (clean_name(name, &clean, err) < 0)
		return -1;
	/* the names decide the next one; the files' contents do not matter here */
	if (pgphase_migration_set_list(&set, dir, err) < 0)
		goto cleanup_name;
	if (set.problems.n) {
		pgphase_problems_error(&set.problems, err);
		goto cleanup;
	}
	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	last = set.n ? &set.items[set.n - 1] : NULL;
	pair = last && last->down_file;
	if (!last) {
		version = xstrdup("001_");
	} else if (last->style == PGPHASE_STYLE_TIMESTAMP || last->style == PGPHASE_STYLE_TIMESTAMP_US) {
		strftime(stamp, sizeof(stamp),
			 last->style == PGPHASE_STYLE_TIMESTAMP ? "%Y%m%d%H%M%S" : "%Y%m%d_%H%M%S", &tm);
		if (strcmp(stamp, last->version_text) <= 0) {
			pgphase_error_set(err, PGPHASE_EXIT_USAGE,
					  "the newest migration (%s) is not older than now (%s)",
					  last->version_text, stamp);
			goto cleanup;
		}
		version = xasprintf("%s_", stamp);
	} else {
		int width = (int)strlen(last->version_text);

		version = xasprintf("%s%0*lld%s", last->style == PGPHASE_STYLE_FLYWAY ? "V" : "", width,
				    (long long)last->version + 1,
				    last->style == PGPHASE_STYLE_FLYWAY ? "__" : "_");
	}
	if (pair) {
		char *down = xasprintf("%s/%s%s.down.sql", dir, version, clean);

		path = xasprintf("%s/%s%s.up.sql", dir, version, clean);
		if (access(down, F_OK) == 0 || access(path, F_OK) == 0) {
			pgphase_error_set(err, PGPHASE_EXIT_USAGE, "\"%s\" already exists", path);
			free(down);
			goto cleanup;
		}
		rc = write_new(path, TEMPLATE_PAIR_UP, clean, when, err);
		if (rc == 0)
			rc = write_new(down, TEMPLATE_PAIR_DOWN, clean, when, err);
		free(down);
	} else {
		path = xasprintf("%s/%s%s.sql", dir, version, clean);
		rc = write_new(path, TEMPLATE_UP, clean, when, err);
	}
	if (rc == 0) {
		*path_out = path;
		path = NULL;
	}
cleanup:
	pgphase_migration_set_release(&set);
cleanup_name:
	free(clean);
	free(version);
	free(path);
	return rc;
}
