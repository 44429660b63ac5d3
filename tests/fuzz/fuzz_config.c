/*
 * fuzz_config.c - libFuzzer target for the configuration parsers.
 *
 * Input starting with a NUL byte: "name=value" after it, split at the first
 * '=', goes through config_set() (the path every command-line option
 * takes); anything else is a whole job file, read by config_load_file(). Whatever was accepted is then validated,
 * printed key by key and applied as a reload onto a default config, which
 * walks every key's parser, checker, formatter and comparison. The harness
 * asserts nothing beyond "no crash, no leak, no undefined behaviour" and
 * that an error always comes with a message. The job file lives in a memfd,
 * so the fuzzer does no disk I/O.
 *
 * Built and run by scripts/fuzz.sh; seeds in tests/fuzz/corpus/config.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "log.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char path[64];
static int fd = -1;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_set_level(LOG_ERROR);       /* reload chatter is not a finding */
	/* A file in memory, opened again by name through /proc; its mode
	 * (0600 once fchmod'ed) keeps the password warning quiet. */
	fd = memfd_create("nb-fuzz-config", 0);
	if (fd < 0 || fchmod(fd, 0600) != 0) {
		perror("memfd_create");
		abort();
	}
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	return 0;
}

static void exercise(struct config *c)
{
	char err[CONFIG_ERR_LEN];
	char buf[1024];
	struct config def;

	err[0] = '\0';
	if (config_validate(c, err, sizeof err) != CONFIG_OK && err[0] == '\0')
		abort();                /* every refusal says why */
	for (size_t i = 0; i < config_key_count(); i++) {
		config_key_value(c, i, buf, sizeof buf);
		if (memchr(buf, '\0', sizeof buf) == NULL)
			abort();
	}
	config_init(&def);
	(void)config_apply_reload(&def, c);
	config_free(&def);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config c;
	char err[CONFIG_ERR_LEN];
	enum config_result r;

	config_init(&c);
	err[0] = '\0';
	if (size > 0 && data[0] == '\0') {
		char *s = malloc(size);
		char *eq;

		if (!s)
			return 0;
		memcpy(s, data + 1, size - 1);
		s[size - 1] = '\0';
		eq = strchr(s, '=');
		if (eq)
			*eq = '\0';
		r = config_set(&c, s, eq ? eq + 1 : "", err, sizeof err);
		free(s);
	} else {
		if (ftruncate(fd, 0) != 0 ||
		    pwrite(fd, data, size, 0) != (ssize_t)size)
			abort();
		r = config_load_file(&c, path, err, sizeof err);
	}
	if (r != CONFIG_OK && err[0] == '\0')
		abort();
	if (r == CONFIG_OK)
		exercise(&c);
	config_free(&c);
	return 0;
}
