/*
 * main.c - the command line: which subcommand, its options, then its run.
 */
#include <locale.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "backfill.h"
#include "check_config.h"
#include "config.h"
#include "exit_codes.h"
#include "finalize.h"
#include "log.h"
#include "plan.h"
#include "status.h"
#include "verify.h"

/*
 * Subcommands: `nanoid-backfill [NAME] [OPTIONS]`, `run` when no name is
 * given. Every one parses its options with the same key table
 * (config_parse_args), so --table, --dsn, --size, ... mean the same
 * everywhere and one job file serves every command; keys a command does
 * not use are ignored.
 */
struct subcommand {
	const char *name;
	const char *usage;      /* after "Usage: nanoid-backfill "; NULL: the
	                         * run mode's, generated from the key table */
	bool needs_target;      /* config_validate: --table and --column */
	int (*run)(struct config *cfg, int argc, char **argv);
	const struct config_flag *flags;  /* its own flags, not keys */
	size_t nflags;
};

/* status --json: a flag of status alone, so not a key of the job file. */
static bool status_json;
static const struct config_flag status_flags[] = {
	{ "json", &status_json },
};

/* Run mode: --add-column first, the backfill, then --finalize. argv is
 * kept for the backfill, which parses it again on reload. */
static int run_main(struct config *cfg, int argc, char **argv)
{
	int code;

	if (cfg->finalize && !cfg->until_done) {
		log_error("--finalize needs --until-done: a service never "
			  "finishes (see --help)");
		return NB_EXIT_USAGE;
	}
	code = cfg->add_column ? finalize_add_column(cfg) : NB_EXIT_OK;
	if (code == NB_EXIT_OK)
		code = backfill_run(cfg, argc, argv);
	if (code == NB_EXIT_OK && cfg->finalize)
		code = finalize_after_backfill(cfg);
	return code;
}

/* Checks what run_main would check; writes nothing. */
static int check_config_main(struct config *cfg, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	if (cfg->finalize && !cfg->until_done) {
		log_error("--finalize needs --until-done: a service never "
			  "finishes (see --help)");
		return NB_EXIT_USAGE;
	}
	return check_config_run(cfg);
}

static int plan_main(struct config *cfg, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return plan_run(cfg);
}

static int finalize_main(struct config *cfg, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return finalize_run(cfg);
}

static int verify_main(struct config *cfg, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return verify_run(cfg);
}

static int status_main(struct config *cfg, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return status_run(cfg, status_json);
}

static const struct subcommand subcommands[] = {
	{ "run", NULL, true, run_main, NULL, 0 },
	{ "check-config", "check-config [--config FILE] [OPTIONS]\n"
	  "Check the options, the job file and the target as a run would "
	  "(connected,\nread-only), write nothing, and exit. `--check-config` "
	  "is the same.\n"
	  "Exit status: 0 OK, 1 server unreachable or failing, 64 usage error, "
	  "78 a bad\nvalue, target, privilege or id format.\n",
	  true, check_config_main, NULL, 0 },
	{ "plan", "plan --table T --column C --out DIR [--schema S] [--dsn DSN]\n"
	  "         [--format FORMAT] [--no-unique] [--no-not-null] [--no-default]\n"
	  "         [--null-index] [--size N] [--alphabet A] [--prefix P]\n"
	  "Write the rollout (add the column, a nanoid default for inserts, "
	  "backfill,\nNOT NULL, unique index) as migration files in DIR "
	  "(--no-default: no\ndefault). Needs no database; with --dsn it reads "
	  "the table's partitions and\nindexes from the catalog.\n"
	  "--format: sqlx (default), golang-migrate, goose, dbmate, "
	  "sql-migrate, knex,\nflyway or psql (numbered scripts for psql -f), "
	  "each in the tool's own layout.\n"
	  "Exit status: 0 written, 64 usage error, 78 bad directory or value, "
	  "1 write\nfailure.\n", true, plan_main, NULL, 0 },
	{ "finalize", "finalize --table T --column C [--schema S] [--dsn DSN]\n"
	  "         [--no-unique] [--no-not-null] [--ddl-lock-timeout MS] "
	  "[--ddl-retries N]\n"
	  "Make the filled column NOT NULL and UNIQUE online, skipping what is "
	  "done.\n"
	  "Exit status: 0 done, 1 failure (NULL or duplicate values, locks, "
	  "signal),\n64 usage error, 78 no such table or column, name "
	  "taken.\n", true, finalize_main, NULL, 0 },
	{ "verify", "verify --table T --column C [--schema S] [--dsn DSN]\n"
	  "         [--size N] [--alphabet A] [--prefix P]\n"
	  "Count NULL, duplicate and malformed values; print a summary.\n"
	  "Exit status: 0 clean, 65 not clean, 1 failure, 64 usage error, "
	  "78 no such\ntable or column, or row-level security hides rows from the role.\n",
	  true, verify_main, NULL, 0 },
	{ "status", "status [--dsn DSN] [--progress-schema NAME]\n"
	  "                              [--job NAME] [--config FILE] [--json]\n"
	  "List the backfill jobs recorded in a database: job, target, state, "
	  "rows done,\nestimated rows left, rate, ETA and the age of the last "
	  "update.\n\n"
	  "  --dsn CONNINFO           libpq conninfo or URI (unset: PG* "
	  "environment)\n"
	  "  --progress-schema NAME   schema of the progress tables (default "
	  "nanoid_backfill)\n"
	  "  --job NAME               only this job\n"
	  "  --config FILE            take dsn, progress-schema and the job from "
	  "a job file\n"
	  "  --json                   a JSON array instead of the table\n"
	  "  -h, --help               show this help and exit\n\n"
	  "Exit status: 0 listed (also when no job was ever recorded), 1 cannot "
	  "connect,\nquery failed or no such --job, 64 usage error, 78 bad job "
	  "file.\n", false, status_main, status_flags,
	  sizeof status_flags / sizeof status_flags[0] },
};

#define NSUBCOMMANDS (sizeof subcommands / sizeof subcommands[0])

static const struct subcommand *find_subcommand(const char *name)
{
	for (size_t i = 0; i < NSUBCOMMANDS; i++) {
		if (strcmp(name, subcommands[i].name) == 0)
			return &subcommands[i];
	}
	return NULL;
}

static void usage_commands(FILE *out)
{
	fputs("\nCommands (nanoid-backfill COMMAND --help for more):\n", out);
	for (size_t i = 0; i < NSUBCOMMANDS; i++) {
		if (subcommands[i].usage == NULL)
			continue;
		fprintf(out, "  nanoid-backfill %.*s\n",
			(int)strcspn(subcommands[i].usage, "\n"),
			subcommands[i].usage);
	}
	fputs("Run mode (the default, or `run`): --add-column creates the column "
	      "first;\n--finalize (with --until-done) runs finalize after the "
	      "backfill.\n", out);
}

static void usage(const struct subcommand *sub)
{
	if (sub->usage == NULL) {
		config_usage(stdout);
		usage_commands(stdout);
		return;
	}
	printf("Usage: nanoid-backfill %s", sub->usage);
	printf("Other options are those of the run mode (see nanoid-backfill "
	       "--help);\nthose this command does not use are ignored.\n");
}

int main(int argc, char **argv)
{
	const struct subcommand *run = find_subcommand("run");
	const struct subcommand *sub = run;
	struct config cfg;
	char err[CONFIG_ERR_LEN] = "";
	enum config_result r;
	enum log_level level;
	int code;

	/* libpq's messages in the user's language. Only messages: numbers are
	 * printed into SQL parameters, so LC_NUMERIC stays "C". */
	setlocale(LC_MESSAGES, "");

	if (argc > 1 && find_subcommand(argv[1]) != NULL) {
		sub = find_subcommand(argv[1]);
		argc--;
		argv++;                 /* argv[0] is now the command's name */
	}

	/* config_parse_args initialises cfg itself; free it on every path. */
	r = config_parse_args_flags(&cfg, argc, argv, sub->flags, sub->nflags,
				    err, sizeof err);
	/* --check-config is the run mode's alias of check-config. */
	if (r == CONFIG_OK && cfg.check_config && sub == run)
		sub = find_subcommand("check-config");
	if (r == CONFIG_OK && sub->needs_target)
		r = config_validate(&cfg, err, sizeof err);
	switch (r) {
	case CONFIG_OK:
		break;
	case CONFIG_HELP:
		usage(sub);
		config_free(&cfg);
		return NB_EXIT_OK;
	case CONFIG_VERSION:
		printf("nanoid-backfill %s\n", NB_VERSION);
		config_free(&cfg);
		return NB_EXIT_OK;
	case CONFIG_USAGE_ERROR:
		log_error("%s (see %s%s--help)", err,
			  sub == run ? "" : sub->name, sub == run ? "" : " ");
		config_free(&cfg);
		return NB_EXIT_USAGE;
	case CONFIG_INVALID:
		log_error("%s", err);
		config_free(&cfg);
		return NB_EXIT_CONFIG;
	}
	if (log_level_parse(cfg.log_level, &level) == 0)
		log_set_level(level);
	if (sodium_init() < 0) {
		log_error("cannot initialise libsodium");
		config_free(&cfg);
		return NB_EXIT_FAILURE;
	}
	code = sub->run(&cfg, argc, argv);
	config_free(&cfg);
	return code;
}
