/*
 * config.c - the command line and reload: getopt_long options generated
 * from the key table (config_key.h), and the live apply of a reloaded
 * configuration.
 *
 * The job file is read by config_file.c, values are parsed and checked by
 * config_value.c; both go through the same table rows, so a key means the
 * same on the command line, in a job file and on reload.
 */
#include "config_key.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* getopt_long values of the table's options: OPT_BASE + row. */
#define OPT_BASE 256

/* Length of an argv element's option part: "--name=value" -> "--name". */
static int option_len(const char *arg)
{
	size_t n = strcspn(arg, "=");

	return n > 256 ? 256 : (int)n;
}

/* What took the place of the removed key option arg names, or NULL. */
static const char *removed_hint(const char *arg)
{
	int n = option_len(arg);

	return n > 2 && strncmp(arg, "--", 2) == 0 ? config_removed_key(arg + 2, (size_t)(n - 2)) :
	       NULL;
}

/* Whether the argv element arg is exactly --name or --name=...: getopt_long
 * takes any unambiguous prefix ("--batch"); we do not, so adding a key
 * never breaks a command line. */
static bool exact_option(const char *arg, const char *name)
{
	size_t n = strlen(name);

	return strncmp(arg, "--", 2) == 0 && strncmp(arg + 2, name, n) == 0 &&
	       (arg[2 + n] == '\0' || arg[2 + n] == '=');
}

enum config_result config_parse_args(struct config *c, int argc,
				     char *const argv[], char *err,
				     size_t errlen)
{
	return config_parse_args_flags(c, argc, argv, NULL, 0, err, errlen);
}

enum config_result config_parse_args_flags(struct config *c, int argc,
					   char *const argv[],
					   const struct config_flag *flags,
					   size_t nflags, char *err,
					   size_t errlen)
{
	struct option *longopts;
	struct { const struct key_def *k; const char *value; } *pending;
	size_t npending = 0, i;
	const char *config_path = NULL;
	const char *arg;
	char why[CONFIG_ERR_LEN];
	enum config_result res = CONFIG_OK;
	int opt, before;

	config_init(c);
	config_seterr(err, errlen, "%s", "");

	longopts = calloc(config_nkeys + nflags + 3, sizeof(*longopts));
	pending = calloc(argc > 0 ? (size_t)argc : 1, sizeof(*pending));
	if (longopts == NULL || pending == NULL) {
		free(longopts);
		free(pending);
		config_seterr(err, errlen, "out of memory");
		return CONFIG_INVALID;
	}
	for (i = 0; i < config_nkeys; i++) {
		longopts[i].name = config_keys[i].name;
		longopts[i].has_arg = config_keys[i].type == KEY_BOOL &&
				      !(config_keys[i].flags & KEY_BOOL_ARG) ?
				      no_argument : required_argument;
		longopts[i].flag = NULL;
		longopts[i].val = OPT_BASE + (int)i;
	}
	for (i = 0; i < nflags; i++) {
		longopts[config_nkeys + i] = (struct option){
			flags[i].name, no_argument, NULL,
			OPT_BASE + (int)(config_nkeys + i) };
		*flags[i].value = false;
	}
	i = config_nkeys + nflags;
	longopts[i] = (struct option){ "help", no_argument, NULL, 'h' };
	longopts[i + 1] = (struct option){ "version", no_argument, NULL, 'V' };
	longopts[i + 2] = (struct option){ NULL, 0, NULL, 0 };

	/*
	 * "-" returns positional arguments in order (as option 1) instead of
	 * permuting argv; ":" makes a missing value return ':'. optind = 0
	 * makes glibc reinitialise, so this can run more than once per
	 * process; opterr = 0 because we print our own one-line error.
	 */
	optind = 0;
	opterr = 0;
	for (;;) {
		/* The element getopt is about to read (glibc turns 0 into 1).
		 * Short options come in clusters only for -h/-V, which end
		 * the parse, so argv[before] is the option just returned. */
		before = optind == 0 ? 1 : optind;
		opt = getopt_long(argc, argv, "-:hV", longopts, NULL);
		if (opt == -1)
			break;
		arg = before < argc ? argv[before] : "";

		if (opt == 1) {
			config_seterr(err, errlen, "unexpected argument '%s'", optarg);
			res = CONFIG_USAGE_ERROR;
			goto out;
		}
		if (opt == 'h') {
			res = CONFIG_HELP;
			goto out;
		}
		if (opt == 'V') {
			res = CONFIG_VERSION;
			goto out;
		}
		if (opt == ':') {
			if (optopt >= OPT_BASE && optopt < OPT_BASE + (int)config_nkeys)
				config_seterr(err, errlen, "option '--%s' needs a value",
					      config_keys[optopt - OPT_BASE].name);
			else
				config_seterr(err, errlen, "option '%.*s' needs a value",
					      option_len(arg), arg);
			res = CONFIG_USAGE_ERROR;
			goto out;
		}
		if (opt == '?') {
			if (optopt != 0 && strncmp(arg, "--", 2) == 0)
				config_seterr(err, errlen, "option '%.*s' takes no value",
					      option_len(arg), arg);
			else if (optopt != 0)
				config_seterr(err, errlen, "unknown option '-%c'", optopt);
			else
				config_seterr(err, errlen, "unknown option '%.*s'%s%s",
					      option_len(arg), arg,
					      removed_hint(arg) ? ": " : "",
					      removed_hint(arg) ? removed_hint(arg) : "");
			res = CONFIG_USAGE_ERROR;
			goto out;
		}

		if (opt >= OPT_BASE + (int)config_nkeys &&
		    opt < OPT_BASE + (int)(config_nkeys + nflags)) {
			const struct config_flag *f =
				&flags[opt - OPT_BASE - (int)config_nkeys];

			if (!exact_option(arg, f->name)) {
				config_seterr(err, errlen, "unknown option '%.*s'",
					      option_len(arg), arg);
				res = CONFIG_USAGE_ERROR;
				goto out;
			}
			*f->value = true;
			continue;
		}
		{
			const struct key_def *k;

			if (opt < OPT_BASE || opt >= OPT_BASE + (int)config_nkeys) {
				config_seterr(err, errlen, "unknown option '%.*s'",
					      option_len(arg), arg);
				res = CONFIG_USAGE_ERROR;
				goto out;
			}
			k = &config_keys[opt - OPT_BASE];
			if (!exact_option(arg, k->name)) {
				config_seterr(err, errlen, "unknown option '%.*s'",
					      option_len(arg), arg);
				res = CONFIG_USAGE_ERROR;
				goto out;
			}
			if (k->offset == CONFIG_FIELD(config_file))
				config_path = optarg;   /* the last one wins */
			else {
				pending[npending].k = k;
				pending[npending].value =
					k->type == KEY_BOOL &&
					!(k->flags & KEY_BOOL_ARG) ?
					"true" : optarg;
				npending++;
			}
		}
	}

	/* "--" ends the options; anything after it is still positional. */
	if (optind < argc) {
		config_seterr(err, errlen, "unexpected argument '%s'", argv[optind]);
		res = CONFIG_USAGE_ERROR;
		goto out;
	}

	/* Defaults (set above), then the job file, then the command line. */
	if (config_path != NULL) {
		if (config_set_value(c, config_find_key("config"), config_path, why,
				     sizeof(why)) < 0) {
			config_seterr(err, errlen, "--config: %s", why);
			res = CONFIG_INVALID;
			goto out;
		}
		res = config_load_file(c, config_path, err, errlen);
		if (res != CONFIG_OK)
			goto out;
	}
	for (i = 0; i < npending; i++) {
		if (config_set_value(c, pending[i].k, pending[i].value, why,
				     sizeof(why)) < 0) {
			config_seterr(err, errlen, "--%s: %s", pending[i].k->name, why);
			res = CONFIG_INVALID;
			goto out;
		}
	}
out:
	free(pending);
	free(longopts);
	return res;
}

/* ---- reload ------------------------------------------------------------ */

static bool value_equal(const struct config *a, const struct config *b,
			const struct key_def *k)
{
	const char *sa, *sb;

	switch (k->type) {
	case KEY_STRING:
	case KEY_LOGLEVEL:
		sa = *(char *const *)config_cfield(a, k);
		sb = *(char *const *)config_cfield(b, k);
		if (sa == NULL || sb == NULL)
			return sa == sb;
		return strcmp(sa, sb) == 0;
	case KEY_LONG:
		return *(const long *)config_cfield(a, k) == *(const long *)config_cfield(b, k);
	case KEY_DOUBLE:
	case KEY_BYTES:
	case KEY_DURATION:
		return !(*(const double *)config_cfield(a, k) <
			 *(const double *)config_cfield(b, k)) &&
		       !(*(const double *)config_cfield(a, k) >
			 *(const double *)config_cfield(b, k));
	case KEY_BOOL:
		return *(const bool *)config_cfield(a, k) == *(const bool *)config_cfield(b, k);
	}
	return true;
}

int config_apply_reload(struct config *cur, const struct config *next)
{
	char old[CONFIG_ERR_LEN / 2], new[CONFIG_ERR_LEN / 2];
	const struct key_def *k;
	char *copy;
	const char *s;
	size_t i;
	int applied = 0;

	for (i = 0; i < config_nkeys; i++) {
		k = &config_keys[i];
		if ((k->flags & KEY_CLI_ONLY) || value_equal(cur, next, k))
			continue;
		config_format_value(cur, k, old, sizeof(old));
		config_format_value(next, k, new, sizeof(new));
		if (!(k->flags & KEY_RELOAD)) {
			if (k->flags & KEY_SECRET)
				log_warn("reload: %s changed; it takes effect "
					 "only after a restart", k->name);
			else
				log_warn("reload: %s changed from %s to %s; it "
					 "takes effect only after a restart, "
					 "keeping %s", k->name, old, new, old);
			continue;
		}
		if (config_key_is_string(k)) {
			s = *(char *const *)config_cfield(next, k);
			copy = NULL;
			if (s != NULL && (copy = strdup(s)) == NULL) {
				log_warn("reload: %s: out of memory, keeping %s",
					 k->name, old);
				continue;
			}
			free(*(char **)config_field(cur, k));
			*(char **)config_field(cur, k) = copy;
		} else {
			/* Scalars: copy the field's bytes, whatever its type. */
			size_t size = k->type == KEY_LONG ? sizeof(long) :
				      k->type == KEY_BOOL ? sizeof(bool) :
				      sizeof(double);
			memcpy(config_field(cur, k), config_cfield(next, k), size);
		}
		log_info("reload: %s %s -> %s", k->name, old, new);
		applied++;
	}
	return applied;
}
