/*
 * test_docs.c - every key of the key table is documented: an entry in
 * man/nanoid-backfill.conf.5, a line in config/example.conf (keys a job
 * file may hold), and an option entry in man/nanoid-backfill.8 for the
 * keys that exist only on the command line. Adding a key without its docs
 * fails here (PgBouncer's optscan.sh, in C). Files are read under
 * $SOURCE_ROOT.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LINES 4096

struct text {
	char *lines[MAX_LINES];
	int n;
};

/* Reads SOURCE_ROOT/rel into lines, roff's "\-" turned into "-". */
static void load(struct text *t, const char *rel)
{
	const char *root = getenv("SOURCE_ROOT");
	char *path, *line = NULL;
	size_t cap = 0;
	ssize_t len;
	FILE *f;

	if (root == NULL || *root == '\0')
		root = ".";
	ck_assert_int_ge(asprintf(&path, "%s/%s", root, rel), 0);
	f = fopen(path, "r");
	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	t->n = 0;
	while ((len = getline(&line, &cap, f)) >= 0) {
		char *out, *o;

		ck_assert_int_lt(t->n, MAX_LINES);
		if (len > 0 && line[len - 1] == '\n')
			line[len - 1] = '\0';
		out = strdup(line);
		ck_assert_ptr_nonnull(out);
		o = out;
		for (const char *p = line; *p; p++) {
			if (p[0] == '\\' && p[1] == '-')
				p++;
			*o++ = *p;
		}
		*o = '\0';
		t->lines[t->n++] = out;
	}
	free(line);
	fclose(f);
	free(path);
}

static void unload(struct text *t)
{
	for (int i = 0; i < t->n; i++)
		free(t->lines[i]);
	t->n = 0;
}

/* The first argument of a font macro line (.B, .BI, .BR, .I, ...), with a
 * leading double quote dropped; NULL if the line is not one. */
static const char *macro_arg(const char *line)
{
	if (line[0] != '.' || (line[1] != 'B' && line[1] != 'I'))
		return NULL;
	line += 2;
	while (*line == 'B' || *line == 'I' || *line == 'R')
		line++;
	if (*line != ' ')
		return NULL;
	while (*line == ' ')
		line++;
	if (*line == '"')
		line++;
	return line;
}

/* Whether s starts with word, followed by the end, a blank, '=' or '"'. */
static bool starts_with_word(const char *s, const char *word)
{
	size_t n = strlen(word);

	return strncmp(s, word, n) == 0 &&
	       (s[n] == '\0' || s[n] == ' ' || s[n] == '=' || s[n] == '"');
}

/*
 * Whether the page has an entry for word: a ".TP" line followed by a font
 * macro line whose first argument is word (".BI "batch-size = " n" or
 * ".BI --config " file"). A mention in running text does not count.
 */
static bool has_entry(const struct text *t, const char *word)
{
	for (int i = 1; i < t->n; i++) {
		const char *arg = macro_arg(t->lines[i]);

		if (arg != NULL && strcmp(t->lines[i - 1], ".TP") == 0 &&
		    starts_with_word(arg, word))
			return true;
	}
	return false;
}

/* "name =" or "# name =" at the start of a line (the example's layout). */
static bool documents_key(const char *line, const char *name)
{
	size_t n = strlen(name);

	if (*line == '#') {
		line++;
		while (*line == ' ')
			line++;
	}
	if (strncmp(line, name, n) != 0)
		return false;
	line += n;
	while (*line == ' ' || *line == '\t')
		line++;
	return *line == '=';
}

START_TEST(test_conf5_lists_every_key)
{
	struct text t;

	load(&t, "man/nanoid-backfill.conf.5");
	for (size_t i = 0; i < config_key_count(); i++)
		ck_assert_msg(has_entry(&t, config_key_name(i)),
			      "key '%s' has no entry (.TP, then .BI \"%s = \" ...) "
			      "in man/nanoid-backfill.conf.5",
			      config_key_name(i), config_key_name(i));
	unload(&t);
}
END_TEST

START_TEST(test_example_lists_every_key)
{
	struct text t;

	load(&t, "config/example.conf");
	for (size_t i = 0; i < config_key_count(); i++) {
		bool found = false;

		for (int j = 0; j < t.n && !found; j++)
			found = documents_key(t.lines[j], config_key_name(i));
		if (config_key_in_file(i))
			ck_assert_msg(found, "key '%s' is missing from "
				      "config/example.conf", config_key_name(i));
		else
			ck_assert_msg(!found, "'%s' cannot be in a job file but "
				      "config/example.conf sets it",
				      config_key_name(i));
	}
	unload(&t);
}
END_TEST

START_TEST(test_man8_lists_command_line_options)
{
	struct text t;
	char opt[128];

	load(&t, "man/nanoid-backfill.8");
	for (size_t i = 0; i < config_key_count(); i++) {
		if (config_key_in_file(i))
			continue;       /* in nanoid-backfill.conf(5) */
		snprintf(opt, sizeof opt, "--%s", config_key_name(i));
		ck_assert_msg(has_entry(&t, opt), "option %s has no entry "
			      "in man/nanoid-backfill.8", opt);
	}
	/* The page points at the other for the rest. */
	{
		bool see = false;

		for (int j = 0; j < t.n && !see; j++)
			see = strstr(t.lines[j], "nanoid-backfill.conf (5)") != NULL;
		ck_assert_msg(see, "nanoid-backfill.8 does not refer to "
			      "nanoid-backfill.conf(5)");
	}
	unload(&t);
}
END_TEST

/* The checker itself: a mention is not an entry, a prefix is not a key. */
START_TEST(test_entry_rules)
{
	struct text t = { { NULL }, 0 };
	static const char *const lines[] = {
		".TP", ".BI \"batch-size = \" n", "batch-size in text",
		".TP", ".BI --config \" file\"", "max-rate is mentioned here",
		".TP", ".B lock-timeout-extra",
	};

	for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
		ck_assert_ptr_nonnull(t.lines[t.n++] = strdup(lines[i]));
	ck_assert(has_entry(&t, "batch-size"));
	ck_assert(has_entry(&t, "--config"));
	ck_assert(!has_entry(&t, "max-rate"));
	ck_assert(!has_entry(&t, "batch"));
	ck_assert(!has_entry(&t, "lock-timeout"));
	ck_assert(documents_key("# metrics-file = /x", "metrics-file"));
	ck_assert(!documents_key("# metrics-file-x = /x", "metrics-file"));
	unload(&t);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("docs");
	TCase *tc = tcase_create("docs");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_entry_rules);
	tcase_add_test(tc, test_conf5_lists_every_key);
	tcase_add_test(tc, test_example_lists_every_key);
	tcase_add_test(tc, test_man8_lists_command_line_options);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
