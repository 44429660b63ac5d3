/*
 * main.c - command line, then the job.
 */
#include <locale.h>
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
 * Subcommands: `nanoid-backfill NAME [OPTIONS]`. Their options go through
 * the same key table (config_parse_args), so --table, --dsn, --size, ...
 * mean the same everywhere and one job file serves every command; keys a
 * command does not use are ignored.
 */
struct subcommand {
	const char *name;
	const char *usage;      /* after "Usage: nanoid-backfill " */
	int (*run)(const struct config *cfg);
};

static const struct subcommand subcommands[] = {
	{ "plan", "plan --table T --column C [--schema S] --out DIR\n"
	  "         [--no-unique] [--no-not-null] [--size N] [--alphabet A] "
	  "[--prefix P]\n"
	  "Write the rollout (add the column, backfill, NOT NULL, unique index) "
	  "as sqlx\nmigration files in DIR. Needs no database.\n"
	  "Exit status: 0 written, 64 usage error, 78 bad directory, 1 write "
	  "failure.\n", plan_run },
	{ "finalize", "finalize --table T --column C [--schema S] [--dsn DSN]\n"
	  "         [--no-unique] [--no-not-null] [--ddl-lock-timeout MS] "
	  "[--ddl-retries N]\n"
	  "Make the filled column NOT NULL and UNIQUE online, skipping what is "
	  "done.\n"
	  "Exit status: 0 done, 1 failure (NULL or duplicate values, locks, "
	  "signal),\n64 usage error, 78 no such table or column, name "
	  "taken.\n", finalize_run },
	{ "verify", "verify --table T --column C [--schema S] [--dsn DSN]\n"
	  "         [--size N] [--alphabet A] [--prefix P]\n"
	  "Count NULL, duplicate and malformed values; print a summary.\n"
	  "Exit status: 0 clean, 65 not clean, 1 failure, 64 usage error, "
	  "78 no such\ntable or column, or row-level security hides rows from the role.\n",
	  verify_run },
};

#define NSUBCOMMANDS (sizeof subcommands / sizeof subcommands[0])

static void usage_commands(FILE *out)
{
	fputs("\nCommands (nanoid-backfill COMMAND --help for more):\n", out);
	for (size_t i = 0; i < NSUBCOMMANDS; i++)
		fprintf(out, "  nanoid-backfill %.*s\n",
			(int)strcspn(subcommands[i].usage, "\n"),
			subcommands[i].usage);
	fputs("  nanoid-backfill status [--dsn DSN] [--job NAME] [--json]\n", out);
	fputs("Run mode: --add-column creates the column first; --finalize "
	      "(with --until-done)\nruns finalize after the backfill.\n", out);
}

int main(int argc, char **argv)
{
	const struct subcommand *sub = NULL;
	struct config cfg;
	char err[CONFIG_ERR_LEN] = "";
	enum config_result r;
	enum log_level level;
	int code;

	/* libpq's messages in the user's language. Only messages: numbers are
	 * printed into SQL parameters, so LC_NUMERIC stays "C". */
	setlocale(LC_MESSAGES, "");

	/* status needs no target and has --json: it parses its own options. */
	if (argc > 1 && strcmp(argv[1], "status") == 0)
		return status_main(argc - 1, argv + 1);

	for (size_t i = 0; argc > 1 && i < NSUBCOMMANDS; i++) {
		if (strcmp(argv[1], subcommands[i].name) == 0) {
			sub = &subcommands[i];
			argc--;
			argv++;         /* argv[0] is now the command's name */
			break;
		}
	}

	/* config_parse_args initialises cfg itself; free it on every path. */
	r = config_parse_args(&cfg, argc, argv, err, sizeof err);
	if (r == CONFIG_OK)
		r = config_validate(&cfg, err, sizeof err);
	switch (r) {
	case CONFIG_OK:
		break;
	case CONFIG_HELP:
		if (sub != NULL) {
			printf("Usage: nanoid-backfill %s", sub->usage);
			printf("Options are those of the run mode: see "
			       "nanoid-backfill --help.\n");
		} else {
			config_usage(stdout);
			usage_commands(stdout);
		}
		config_free(&cfg);
		return NB_EXIT_OK;
	case CONFIG_VERSION:
		printf("nanoid-backfill %s\n", NB_VERSION);
		config_free(&cfg);
		return NB_EXIT_OK;
	case CONFIG_USAGE_ERROR:
		log_error("%s (see --help)", err);
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
	if (sub != NULL) {
		code = sub->run(&cfg);
		config_free(&cfg);
		return code;
	}
	if (cfg.finalize && !cfg.until_done) {
		log_error("--finalize needs --until-done: a service never "
			  "finishes (see --help)");
		config_free(&cfg);
		return NB_EXIT_USAGE;
	}
	if (cfg.check_config) {
		/* Checks what the steps below would check; writes nothing. */
		code = check_config_run(&cfg);
		config_free(&cfg);
		return code;
	}
	code = cfg.add_column ? finalize_add_column(&cfg) : NB_EXIT_OK;
	if (code == NB_EXIT_OK)
		code = backfill_run(&cfg, argc, argv);
	if (code == NB_EXIT_OK && cfg.finalize)
		code = finalize_after_backfill(&cfg);
	config_free(&cfg);
	return code;
}
