/*
 * Findings out: text (compiler style, ANSI colour on request), GitHub Actions workflow
 * annotations, JSON and SARIF 2.1.0 (code scanning), and the rule catalogue as text or JSON.
 * JSON strings are always encoded by jansson, never escaped by hand.  The JSON object is
 *   {"findings": [{"file", "line", "column", "end_line", "end_column", "rule", "severity",
 *                  "category", "message", "help", "phase", "strategy"}...],
 *    "summary": {"files", "statements", "findings", "errors", "warnings", "infos"}}
 * with 1-based positions; end_* point just past the statement's last character.  Every
 * writer stops at the first failed write and reports it, so a closed pipe ends the output
 * quietly instead of writing into the void.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "lint.h"
#include "base/util.h"

#ifndef PGPHASE_VERSION
#define PGPHASE_VERSION "0"
#endif

#define RESET "\033[0m"
#define BOLD "\033[1m"
#define DIM "\033[2m"

static const char *severity_color(enum pgphase_lint_severity s)
{
	return s == PGPHASE_LINT_ERROR ? "\033[1;31m" : s == PGPHASE_LINT_WARNING ? "\033[1;33m"
										 : "\033[1;36m";
}

static int write_text(FILE *out, const struct pgphase_lint_result *res, bool color)
{
	for (size_t i = 0; i < res->n; i++) {
		const struct pgphase_lint_finding *f = &res->findings[i];
		const char *sev = pgphase_lint_severity_name(f->severity);

		if (color)
			fprintf(out, BOLD "%s:%d:%d:" RESET " %s%s:" RESET " %s " DIM "[%s]" RESET "\n"
				"  " BOLD "hint:" RESET " %s\n",
				f->file, f->line, f->column, severity_color(f->severity), sev, f->message,
				f->rule->id, f->help);
		else
			fprintf(out, "%s:%d:%d: %s: %s [%s]\n  hint: %s\n", f->file, f->line, f->column,
				sev, f->message, f->rule->id, f->help);
		if (ferror(out))
			return -1;
	}
	return 0;
}

/* Workflow command escaping: data escapes % CR LF; properties also : and , */
static void put_escaped(FILE *out, const char *s, bool property)
{
	for (; *s; s++) {
		if (*s == '%')
			fputs("%25", out);
		else if (*s == '\r')
			fputs("%0D", out);
		else if (*s == '\n')
			fputs("%0A", out);
		else if (property && *s == ':')
			fputs("%3A", out);
		else if (property && *s == ',')
			fputs("%2C", out);
		else
			fputc(*s, out);
	}
}

static int write_github(FILE *out, const struct pgphase_lint_result *res)
{
	for (size_t i = 0; i < res->n; i++) {
		const struct pgphase_lint_finding *f = &res->findings[i];
		const char *level = f->severity == PGPHASE_LINT_ERROR	  ? "error"
				    : f->severity == PGPHASE_LINT_WARNING ? "warning"
									  : "notice";

		fprintf(out, "::%s file=", level);
		put_escaped(out, f->file, true);
		fprintf(out, ",line=%d,col=%d,endLine=%d,endColumn=%d,title=", f->line, f->column,
			f->end_line, f->end_column);
		put_escaped(out, f->rule->id, true);
		fputs("::", out);
		put_escaped(out, f->message, false);
		put_escaped(out, "\nhint: ", false);
		put_escaped(out, f->help, false);
		fputc('\n', out);
		if (ferror(out))
			return -1;
	}
	return 0;
}

static const char *finding_phase(const struct pgphase_lint_finding *f)
{
	if (f->file_level)
		return NULL;
	if (f->down)
		return "down";
	return pgphase_phase_name(f->phase);
}

/*
 * A JSON string for any C string: text that is not valid UTF-8 (a file name, say) has the
 * offending bytes replaced by U+FFFD so the document stays valid.
 */
static json_t *json_text(const char *s)
{
	json_t *j = json_string(s);
	struct sbuf sb = SBUF_INIT;

	if (j)
		return j;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p < 0x80)
			sbuf_add(&sb, (const char *)p, 1);
		else
			sbuf_adds(&sb, "\xEF\xBF\xBD");
	}
	j = json_string(sb.buf ? sb.buf : "");
	sbuf_release(&sb);
	return j;
}

static json_t *str_or_null(const char *s)
{
	return s ? json_text(s) : json_null();
}

/* Append s as a JSON string literal (jansson does the escaping). */
static void add_string(struct sbuf *sb, const char *s)
{
	json_t *j = s ? json_text(s) : json_null();
	char small[512];
	size_t n = json_dumpb(j, small, sizeof(small), JSON_ENCODE_ANY);

	if (n <= sizeof(small)) {
		sbuf_add(sb, small, n);
	} else {
		char *big = xmalloc(n);

		json_dumpb(j, big, n, JSON_ENCODE_ANY);
		sbuf_add(sb, big, n);
		free(big);
	}
	json_decref(j);
}

/*
 * File names, rule ids, help texts, phases and strategies repeat from finding to finding:
 * their encoded forms are kept in a small direct-mapped cache keyed by content.
 */
#define ENC_SLOTS 256

struct enc_cache {
	char *key[ENC_SLOTS];
	struct sbuf val[ENC_SLOTS];
};

static void add_string_cached(struct sbuf *sb, struct enc_cache *c, const char *s)
{
	size_t k;

	if (!s) {
		add_string(sb, NULL);
		return;
	}
	k = str_hash(s) % ENC_SLOTS;
	if (!c->key[k] || strcmp(c->key[k], s) != 0) {
		free(c->key[k]);
		c->key[k] = xstrdup(s);
		c->val[k].len = 0;
		add_string(&c->val[k], s);
	}
	sbuf_add(sb, c->val[k].buf, c->val[k].len);
}

static void enc_cache_release(struct enc_cache *c)
{
	for (size_t i = 0; i < ENC_SLOTS; i++) {
		free(c->key[i]);
		sbuf_release(&c->val[i]);
	}
	free(c);
}

static int flush(FILE *out, struct sbuf *sb)
{
	int rc = sb->len && fwrite(sb->buf, 1, sb->len, out) != sb->len ? -1 : 0;

	sb->len = 0;
	return rc;
}

/*
 * Streamed, one finding per line: building one jansson object per finding costs more than
 * linting.  Every string still goes through jansson's encoder.
 */
static int write_json(FILE *out, const struct pgphase_lint_result *res)
{
	struct sbuf sb = SBUF_INIT;
	struct enc_cache *cache = xcalloc(1, sizeof(*cache));
	int rc = 0;

	sbuf_adds(&sb, "{\n  \"findings\": [");
	for (size_t i = 0; i < res->n && rc == 0; i++) {
		const struct pgphase_lint_finding *f = &res->findings[i];

		sbuf_adds(&sb, i ? ",\n    {\"file\": " : "\n    {\"file\": ");
		add_string_cached(&sb, cache, f->file);
		sbuf_addf(&sb, ", \"line\": %d, \"column\": %d, \"end_line\": %d, \"end_column\": %d, "
			       "\"rule\": ", f->line, f->column, f->end_line, f->end_column);
		add_string_cached(&sb, cache, f->rule->id);
		sbuf_addf(&sb, ", \"severity\": \"%s\", \"category\": \"%s\", \"message\": ",
			  pgphase_lint_severity_name(f->severity),
			  pgphase_lint_category_name(f->rule->category));
		add_string(&sb, f->message);
		sbuf_adds(&sb, ", \"help\": ");
		add_string_cached(&sb, cache, f->help);
		sbuf_adds(&sb, ", \"phase\": ");
		add_string_cached(&sb, cache, finding_phase(f));
		sbuf_adds(&sb, ", \"strategy\": ");
		add_string_cached(&sb, cache, f->strategy);
		sbuf_adds(&sb, "}");
		if (sb.len > 65536)
			rc = flush(out, &sb);
	}
	sbuf_addf(&sb, "%s],\n  \"summary\": {\"files\": %zu, \"statements\": %zu, \"findings\": %zu, "
		       "\"errors\": %zu, \"warnings\": %zu, \"infos\": %zu}\n}\n",
		  res->n ? "\n  " : "", res->n_files, res->statements, res->n,
		  res->counts[PGPHASE_LINT_ERROR], res->counts[PGPHASE_LINT_WARNING],
		  res->counts[PGPHASE_LINT_INFO]);
	if (rc == 0)
		rc = flush(out, &sb);
	sbuf_release(&sb);
	enc_cache_release(cache);
	return rc;
}

/* A whole jansson tree: one buffer, one write (much faster than writes per token). */
static int dump(FILE *out, json_t *root)
{
	char *text = json_dumps(root, JSON_INDENT(2));
	size_t len = text ? strlen(text) : 0;
	int rc = text && fwrite(text, 1, len, out) == len && fputc('\n', out) != EOF ? 0 : -1;

	free(text);
	json_decref(root);
	return rc;
}

static const char *sarif_level(enum pgphase_lint_severity s)
{
	return s == PGPHASE_LINT_ERROR ? "error" : s == PGPHASE_LINT_WARNING ? "warning" : "note";
}

/* A relative URI reference for a path: unreserved characters and '/' kept, rest %XX. */
static json_t *uri_for(const char *path)
{
	static const char hex[] = "0123456789ABCDEF";
	struct sbuf sb = SBUF_INIT;
	json_t *j;

	for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		    strchr("-._~/", *p)) {
			sbuf_add(&sb, (const char *)p, 1);
		} else {
			char esc[3] = { '%', hex[*p >> 4], hex[*p & 15] };

			sbuf_add(&sb, esc, 3);
		}
	}
	j = json_string(sb.buf ? sb.buf : "");
	sbuf_release(&sb);
	return j;
}

static json_t *sarif_rules(void)
{
	json_t *rules = json_array();

	for (size_t i = 0; pgphase_lint_rules[i]; i++) {
		const struct pgphase_lint_rule *r = pgphase_lint_rules[i];

		json_array_append_new(
			rules, json_pack("{s:s, s:s, s:{s:s}, s:{s:s}, s:{s:s}}", "id", r->id, "name", r->id,
					 "shortDescription", "text", r->summary, "defaultConfiguration",
					 "level", sarif_level(r->severity), "properties", "category",
					 pgphase_lint_category_name(r->category)));
	}
	return rules;
}

static size_t rule_index(const struct pgphase_lint_rule *rule)
{
	for (size_t i = 0; pgphase_lint_rules[i]; i++)
		if (pgphase_lint_rules[i] == rule)
			return i;
	return 0;
}

static json_t *sarif_result(const struct pgphase_lint_finding *f)
{
	json_t *region = json_pack("{s:i, s:i, s:i, s:i}", "startLine", f->line, "startColumn",
				   f->column, "endLine", f->end_line, "endColumn", f->end_column);
	json_t *loc = json_pack("{s:{s:{s:o}, s:o}}", "physicalLocation", "artifactLocation", "uri",
				uri_for(f->file), "region", region);
	json_t *props = json_pack("{s:o, s:o, s:o}", "help", json_text(f->help), "phase",
				  str_or_null(finding_phase(f)), "strategy", str_or_null(f->strategy));

	return json_pack("{s:s, s:I, s:s, s:{s:o}, s:[o], s:o}", "ruleId", f->rule->id, "ruleIndex",
			 (json_int_t)rule_index(f->rule), "level", sarif_level(f->severity),
			 "message", "text", json_text(f->message), "locations", loc, "properties", props);
}

static int write_sarif(FILE *out, const struct pgphase_lint_result *res)
{
	json_t *results = json_array(), *run, *root;

	for (size_t i = 0; i < res->n; i++)
		json_array_append_new(results, sarif_result(&res->findings[i]));
	run = json_pack("{s:{s:{s:s, s:s, s:s, s:o}}, s:o, s:s}", "tool", "driver", "name", "pgphase",
			"version", PGPHASE_VERSION, "informationUri",
			"https://github.com/pgphase/pgphase", "rules", sarif_rules(), "results", results,
			"columnKind", "unicodeCodePoints");
	root = json_pack("{s:s, s:s, s:[o]}", "$schema",
			 "https://json.schemastore.org/sarif-2.1.0.json", "version", "2.1.0", "runs",
			 run);
	return dump(out, root);
}

static int write_rules_json(FILE *out)
{
	json_t *list = json_array();

	for (size_t i = 0; pgphase_lint_rules[i]; i++) {
		const struct pgphase_lint_rule *r = pgphase_lint_rules[i];

		json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:s}", "id", r->id, "severity",
						      pgphase_lint_severity_name(r->severity),
						      "category",
						      pgphase_lint_category_name(r->category),
						      "summary", r->summary));
	}
	return dump(out, list);
}

int pgphase_lint_write(FILE *out, const struct pgphase_lint_result *res,
		       enum pgphase_lint_format format, bool color)
{
	int rc;

	switch (format) {
	case PGPHASE_LINT_JSON:
		rc = write_json(out, res);
		break;
	case PGPHASE_LINT_GITHUB:
		rc = write_github(out, res);
		break;
	case PGPHASE_LINT_SARIF:
		rc = write_sarif(out, res);
		break;
	default:
		rc = write_text(out, res, color);
		break;
	}
	if (rc == 0 && fflush(out) != 0)
		rc = -1;
	if (rc < 0 && !errno)
		errno = EIO;
	return rc;
}

int pgphase_lint_write_rules(FILE *out, enum pgphase_lint_format format)
{
	if (format == PGPHASE_LINT_JSON || format == PGPHASE_LINT_SARIF) {
		if (write_rules_json(out) < 0)
			return -1;
	} else {
		for (size_t i = 0; pgphase_lint_rules[i]; i++) {
			const struct pgphase_lint_rule *r = pgphase_lint_rules[i];

			fprintf(out, "%-29s %-8s %-12s %s\n", r->id,
				pgphase_lint_severity_name(r->severity),
				pgphase_lint_category_name(r->category), r->summary);
		}
	}
	return fflush(out) == 0 && !ferror(out) ? 0 : -1;
}
