/*
 * main.c - command line, then the job.
 */
#include <stdio.h>
#include <stdlib.h>

#include <sodium.h>

#include "backfill.h"
#include "config.h"
#include "exit_codes.h"
#include "log.h"

int main(int argc, char **argv)
{
	struct config cfg;
	char err[CONFIG_ERR_LEN] = "";
	enum config_result r;
	enum log_level level;
	int code;

	/* config_parse_args initialises cfg itself; free it on every path. */
	r = config_parse_args(&cfg, argc, argv, err, sizeof err);
	if (r == CONFIG_OK)
		r = config_validate(&cfg, err, sizeof err);
	switch (r) {
	case CONFIG_OK:
		break;
	case CONFIG_HELP:
		config_usage(stdout);
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
	code = backfill_run(&cfg);
	config_free(&cfg);
	return code;
}
