/*
 * `pgphase --help`, `pgphase COMMAND --help` and the README's option lists
 * (`pgphase --help=options-md`, `--help=config-md`), all printed from the option table
 * (src/base/options.c), so help, README and behaviour cannot drift apart.  Parsing and
 * precedence are main.c's.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "base/options.h"

/* "-d, --database URL" or "    --module NAME" */
static void flag_words(const struct pgphase_option *o, char *buf, size_t size)
{
	char s[8] = "    ";

	if (o->short_flag)
		snprintf(s, sizeof(s), "-%c, ", o->short_flag);
	snprintf(buf, size, "%s--%s%s%s", s, o->flag, o->metavar ? " " : "",
		 o->metavar ? o->metavar : "");
}

static void option_line(const struct pgphase_option *o, FILE *out)
{
	char words[64];

	flag_words(o, words, sizeof(words));
	if (strlen(words) > 30)
		fprintf(out, "  %s\n  %-30s %s", words, "", o->help);
	else
		fprintf(out, "  %-30s %s", words, o->help);
	if (o->def && o->type == PGOPT_T_STRING)
		fprintf(out, " (default \"%s\")", o->def);
	else if (o->def)
		fprintf(out, " (default %s)", o->def);
	fputc('\n', out);
	if (o->key || o->env) {
		fprintf(out, "  %-30s", "");
		if (o->key)
			fprintf(out, " config: %s", o->key);
		if (o->env)
			fprintf(out, "%s env: $%s", o->key ? ";" : "", o->env);
		fputc('\n', out);
	}
}

/* The flags accepted by command `cmd` (global ones when global is true, else its own). */
static void option_lines(int cmd, bool global, FILE *out)
{
	for (int i = 0; i < PGOPT_COUNT; i++) {
		const struct pgphase_option *o = &pgphase_options[i];

		if (!o->flag || (o->commands == PGPHASE_CMD_ALL) != global)
			continue;
		if (global || (o->commands & PGPHASE_CMD_BIT(cmd)))
			option_line(o, out);
	}
}

static const char EXIT_CODES[] =
	"\nexit codes: 0 ok, 1 work failed, 2 usage/config/input error, 3 cannot connect,\n"
	"            4 another run holds the lock\n";

void cli_usage_all(FILE *out)
{
	fputs("usage: pgphase [global options] COMMAND [options] [args]\n\ncommands:\n", out);
	for (int c = 0; c < PGPHASE_CMD_COUNT; c++)
		fprintf(out, "  %-10s %s\n", pgphase_commands[c].name, pgphase_commands[c].summary);
	fputs("\nglobal options (before or after COMMAND):\n", out);
	option_lines(-1, true, out);
	fputs("\nprecedence: flag > environment > config file > default, for every setting\n", out);
	fputs(EXIT_CODES, out);
	fputs("\nrun \"pgphase COMMAND --help\" for a command's options\n", out);
}

void cli_usage_command(int cmd, FILE *out)
{
	const struct pgphase_command_info *c = &pgphase_commands[cmd];
	bool any = false;

	for (int i = 0; i < PGOPT_COUNT; i++)
		if (pgphase_options[i].flag && pgphase_options[i].commands != PGPHASE_CMD_ALL &&
		    (pgphase_options[i].commands & PGPHASE_CMD_BIT(cmd)))
			any = true;
	fprintf(out, "usage: pgphase [global options] %s%s%s%s\n\n%s\n", c->name,
		any ? " [options]" : "", c->args[0] ? " " : "", c->args, c->summary);
	if (any) {
		fprintf(out, "\n%s options:\n", c->name);
		option_lines(cmd, false, out);
	}
	fputs("\nglobal options:\n", out);
	option_lines(cmd, true, out);
	fputs(EXIT_CODES, out);
}

/* Markdown table cell text: "|" escaped. */
static void md_cell(const char *text, FILE *out)
{
	for (const char *p = text; *p; p++) {
		if (*p == '|')
			fputc('\\', out);
		fputc(*p, out);
	}
}

static void md_commands(unsigned mask, FILE *out)
{
	const char *sep = "";

	if (mask == PGPHASE_CMD_ALL) {
		fputs("all", out);
		return;
	}
	for (int c = 0; c < PGPHASE_CMD_COUNT; c++)
		if (mask & PGPHASE_CMD_BIT(c)) {
			fprintf(out, "%s%s", sep, pgphase_commands[c].name);
			sep = ", ";
		}
}

static void md_options(FILE *out)
{
	fputs("| option | commands | default | description |\n|---|---|---|---|\n", out);
	for (int i = 0; i < PGOPT_COUNT; i++) {
		const struct pgphase_option *o = &pgphase_options[i];

		if (!o->flag)
			continue;
		fputs("| ", out);
		if (o->short_flag)
			fprintf(out, "`-%c`, ", o->short_flag);
		fprintf(out, "`--%s%s%s` | ", o->flag, o->metavar ? " " : "",
			o->metavar ? o->metavar : "");
		md_commands(o->commands, out);
		fputs(" | ", out);
		if (o->def)
			fprintf(out, "`%s`", o->def);
		fputs(" | ", out);
		md_cell(o->help, out);
		if (o->key)
			fprintf(out, "; config `%s`", o->key);
		if (o->env)
			fprintf(out, "; env `$%s`", o->env);
		fputs(" |\n", out);
	}
}

static void md_type(const struct pgphase_option *o, FILE *out)
{
	switch (o->type) {
	case PGOPT_T_STRING:
		fputs("string", out);
		break;
	case PGOPT_T_INT:
		if (o->range)
			md_cell(o->range, out);
		else if (o->max == LONG_MAX)
			fprintf(out, "integer >= %ld", o->min);
		else
			fprintf(out, "integer %ld..%ld", o->min, o->max);
		break;
	case PGOPT_T_DURATION:
		fputs("duration", out);
		break;
	case PGOPT_T_BOOL:
		fputs("boolean", out);
		break;
	case PGOPT_T_LIST:
		fputs("list of strings", out);
		break;
	default:
		fputs("list of groups", out);
		break;
	}
}

static void md_config(FILE *out)
{
	fputs("| key | type | default | flag | description |\n|---|---|---|---|---|\n", out);
	for (int i = 0; i < PGOPT_COUNT; i++) {
		const struct pgphase_option *o = &pgphase_options[i];

		if (!o->key)
			continue;
		fprintf(out, "| `%s` | ", o->key);
		md_type(o, out);
		fputs(" | ", out);
		if (o->def)
			fprintf(out, "`%s`", o->def);
		fputs(" | ", out);
		if (o->flag)
			fprintf(out, "`--%s`", o->flag);
		if (o->env)
			fprintf(out, "%s`$%s`", o->flag ? ", " : "", o->env);
		fputs(" | ", out);
		md_cell(o->help, out);
		fputs(" |\n", out);
	}
}

/*
 * "key = value;  # help", commented out unless value is the user's own (not NULL).  Values in
 * libconfig syntax: integers bare, lists bracketed, durations and strings quoted.
 */
static void config_line(const struct pgphase_option *o, const char *name, const char *indent,
			const char *value, FILE *out)
{
	const char *v = value ? value : o->def;
	char line[160];

	if (o->type == PGOPT_T_INT || o->type == PGOPT_T_BOOL)
		snprintf(line, sizeof(line), "%s%s%s = %s;", value ? "" : "# ", indent, name,
			 v ? v : "0");
	else if (o->type == PGOPT_T_LIST)
		snprintf(line, sizeof(line), "# %s%s = [ ];", indent, name);
	else
		snprintf(line, sizeof(line), "%s%s%s = \"%s\";", value ? "" : "# ", indent, name,
			 v ? v : "");
	fprintf(out, "%-40s # %s\n", line, o->help);
}

void cli_starter_config(const struct pgphase_config *cfg, FILE *out)
{
	const char *group = NULL;
	size_t glen = 0;

	fputs("# pgphase configuration (libconfig syntax).  Flags, then $DATABASE_URL, override it;\n"
	      "# the commented lines show each key's default (pgphase COMMAND --help lists them).\n",
	      out);
	for (int i = 0; i < PGOPT_COUNT; i++) {
		const struct pgphase_option *o = &pgphase_options[i];
		const char *dot = o->key ? strchr(o->key, '.') : NULL;
		const char *value = NULL;

		if (!o->key || o->type == PGOPT_T_WEBHOOKS)
			continue;
		if (group && (!dot || (size_t)(dot - o->key) != glen || strncmp(o->key, group, glen)))
			fputs("# };\n", out), group = NULL;
		if (dot && !group) {
			group = o->key;
			glen = (size_t)(dot - o->key);
			fprintf(out, "# %.*s = {\n", (int)glen, group);
		}
		/* the three keys a project always sets: written with this run's values */
		if (i == PGOPT_MIGRATIONS)
			value = cfg->migrations;
		else if (i == PGOPT_MODULE)
			value = cfg->module;
		else if (i == PGOPT_STATE_SCHEMA)
			value = cfg->state_schema;
		if (i == PGOPT_DATABASE && !o->def)
			fprintf(out, "%-40s # %s\n", "# database = \"postgresql://app@localhost/app\";",
				o->help);
		else
			config_line(o, dot ? dot + 1 : o->key, dot ? "  " : "", value, out);
	}
	if (group)
		fputs("# };\n", out);
	fputs("# webhooks = ( { url = \"https://hooks.example.com/pgphase\";\n"
	      "#                secret_env = \"PGPHASE_WEBHOOK_SECRET\"; } );\n", out);
}

int cli_help_format(const char *format, FILE *out, struct pgphase_error *err)
{
	if (strcmp(format, "options-md") == 0)
		md_options(out);
	else if (strcmp(format, "config-md") == 0)
		md_config(out);
	else
		return pgphase_error_set(err, PGPHASE_EXIT_USAGE,
					 "--help: unknown format \"%s\" (options-md, config-md)",
					 format);
	return 0;
}
