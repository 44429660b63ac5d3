/*
 * test_metrics.c - the Prometheus text file: parsed back line by line
 * against the exposition format's grammar, label escaping round-trips, and
 * the file is replaced by rename, never rewritten in place.
 */
#include "metrics.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_LABELS 4
#define MAX_FAMILIES 32

struct sample {
	char name[128];
	int nlabels;
	char label[MAX_LABELS][64];
	char value[MAX_LABELS][256];    /* unescaped */
	double v;
};

static bool name_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
	       c == ':';
}

static bool name_char(char c)
{
	return name_start(c) || (c >= '0' && c <= '9');
}

/* Copies a metric or label name at *p into out; false if there is none. */
static bool parse_name(const char **p, char *out, size_t len, bool colon)
{
	size_t n = 0;

	if (!name_start(**p) || (!colon && **p == ':'))
		return false;
	while (name_char(**p) && (colon || **p != ':')) {
		if (n + 1 >= len)
			return false;
		out[n++] = *(*p)++;
	}
	out[n] = '\0';
	return true;
}

/* A quoted label value; only \\, \" and \n are escapes. */
static bool parse_label_value(const char **p, char *out, size_t len)
{
	size_t n = 0;

	if (*(*p)++ != '"')
		return false;
	while (**p != '"') {
		char c = *(*p)++;

		if (c == '\0' || c == '\n')
			return false;
		if (c == '\\') {
			c = *(*p)++;
			if (c == 'n')
				c = '\n';
			else if (c != '\\' && c != '"')
				return false;
		}
		if (n + 1 >= len)
			return false;
		out[n++] = c;
	}
	(*p)++;
	out[n] = '\0';
	return true;
}

/* The float syntax Prometheus accepts; strict: the whole rest of the line. */
static bool parse_float(const char *p, double *v)
{
	char *end;

	if (strcmp(p, "NaN") == 0 || strcmp(p, "+Inf") == 0 ||
	    strcmp(p, "-Inf") == 0) {
		*v = strtod(p, NULL);
		return true;
	}
	if (*p == '\0' || strchr("+-0123456789.", *p) == NULL)
		return false;
	*v = strtod(p, &end);
	return *end == '\0';
}

/*
 * metric_name [ "{" label_name "=" `"` value `"` { "," ... } [","] "}" ]
 * " " value   (no timestamp: the textfile collector refuses them)
 */
static bool parse_sample(const char *line, struct sample *s)
{
	const char *p = line;

	memset(s, 0, sizeof *s);
	if (!parse_name(&p, s->name, sizeof s->name, true))
		return false;
	if (*p == '{') {
		p++;
		while (*p != '}') {
			if (s->nlabels == MAX_LABELS)
				return false;
			if (!parse_name(&p, s->label[s->nlabels],
					sizeof s->label[0], false))
				return false;
			if (*p++ != '=')
				return false;
			if (!parse_label_value(&p, s->value[s->nlabels],
					       sizeof s->value[0]))
				return false;
			s->nlabels++;
			if (*p == ',')
				p++;
			else if (*p != '}')
				return false;
		}
		p++;
	}
	if (*p++ != ' ')
		return false;
	return parse_float(p, &s->v);
}

static const char *label(const struct sample *s, const char *name)
{
	for (int i = 0; i < s->nlabels; i++) {
		if (strcmp(s->label[i], name) == 0)
			return s->value[i];
	}
	return NULL;
}

/* The exposition, checked line by line; the samples are returned. */
struct parsed {
	struct sample samples[64];
	int nsamples;
};

static void parse_exposition(const char *text, struct parsed *out)
{
	char families[MAX_FAMILIES][128], types[MAX_FAMILIES][16];
	bool helped[MAX_FAMILIES];
	int nfam = 0, cur = -1, i;
	const char *p = text, *nl;
	char line[1024], name[128], type[16];

	memset(out, 0, sizeof *out);
	memset(helped, 0, sizeof helped);
	ck_assert_msg(*text != '\0' && text[strlen(text) - 1] == '\n',
		      "the text must end with a newline");
	while (*p != '\0') {
		nl = strchr(p, '\n');
		ck_assert_ptr_nonnull(nl);
		ck_assert_uint_lt((size_t)(nl - p), sizeof line);
		memcpy(line, p, (size_t)(nl - p));
		line[nl - p] = '\0';
		p = nl + 1;
		ck_assert_msg(line[0] != '\0', "empty line");

		if (strncmp(line, "# HELP ", 7) == 0 ||
		    strncmp(line, "# TYPE ", 7) == 0) {
			const char *q = line + 7;
			bool is_type = line[2] == 'T';

			ck_assert_msg(parse_name(&q, name, sizeof name, true),
				      "bad name in '%s'", line);
			ck_assert_msg(*q == ' ' && q[1] != '\0',
				      "no text in '%s'", line);
			ck_assert_msg(strncmp(name, "nanoid_backfill_", 16) == 0,
				      "unprefixed %s", name);
			for (i = 0; i < nfam; i++) {
				if (strcmp(families[i], name) == 0)
					break;
			}
			if (i == nfam) {
				ck_assert_int_lt(nfam, MAX_FAMILIES);
				snprintf(families[nfam], sizeof families[0],
					 "%s", name);
				types[nfam][0] = '\0';
				nfam++;
			}
			/* HELP and TYPE come before the family's samples,
			 * once each. */
			ck_assert_msg(cur != i || out->nsamples == 0 ||
				      strcmp(out->samples[out->nsamples - 1].name,
					     name) != 0,
				      "'%s' after samples of %s", line, name);
			if (is_type) {
				ck_assert_msg(types[i][0] == '\0',
					      "second TYPE for %s", name);
				snprintf(type, sizeof type, "%s", q + 1);
				ck_assert_msg(strcmp(type, "counter") == 0 ||
					      strcmp(type, "gauge") == 0,
					      "type '%s'", type);
				snprintf(types[i], sizeof types[0], "%s", type);
			} else {
				ck_assert_msg(!helped[i], "second HELP for %s",
					      name);
				helped[i] = true;
			}
			cur = i;
			continue;
		}
		ck_assert_msg(line[0] != '#', "stray comment '%s'", line);

		ck_assert_int_lt(out->nsamples, 64);
		ck_assert_msg(parse_sample(line, &out->samples[out->nsamples]),
			      "not a sample line: '%s'", line);
		/* A sample belongs to the family whose TYPE came last. */
		ck_assert_msg(cur >= 0 && strcmp(families[cur],
			      out->samples[out->nsamples].name) == 0,
			      "'%s' without its HELP/TYPE", line);
		ck_assert_msg(helped[cur] && types[cur][0] != '\0',
			      "'%s' without HELP or TYPE", line);
		if (strcmp(types[cur], "counter") == 0) {
			size_t n = strlen(families[cur]);

			ck_assert_msg(n > 6 && strcmp(families[cur] + n - 6,
						      "_total") == 0,
				      "counter %s lacks _total", families[cur]);
		}
		out->nsamples++;
	}
}

/* The one sample of name whose label lname is lvalue (NULL: any). */
static const struct sample *find(const struct parsed *p, const char *name,
				 const char *lname, const char *lvalue)
{
	for (int i = 0; i < p->nsamples; i++) {
		const struct sample *s = &p->samples[i];
		const char *v;

		if (strcmp(s->name, name) != 0)
			continue;
		if (lname == NULL)
			return s;
		v = label(s, lname);
		if (v != NULL && strcmp(v, lvalue) == 0)
			return s;
	}
	return NULL;
}

/* Like find(), but the sample must be there. */
static const struct sample *get(const struct parsed *p, const char *name,
				const char *lname, const char *lvalue)
{
	const struct sample *s = find(p, name, lname, lvalue);

	ck_assert_msg(s != NULL, "no sample %s{%s=\"%s\"}", name,
		      lname ? lname : "", lvalue ? lvalue : "");
	return s;
}

static void sample_metrics(struct metrics *m)
{
	metrics_init(m);
	m->state = "running";
	m->rows_filled = 1234567;
	m->batches = 1235;
	m->retries = 2;
	m->rows_per_second = 10250.5;
	m->rows_left = 98765;
	m->replica_lag_bytes = 4096;
	m->pace_rows_per_second = 3200;
	ck_assert_int_eq(metrics_add_throttled(m, "lag", 1.5), 0);
	ck_assert_int_eq(metrics_add_throttled(m, "max-rate", 0.25), 0);
	ck_assert_int_eq(metrics_add_throttled(m, "lag", 2.0), 0);
}

START_TEST(test_format)
{
	struct metrics m;
	struct parsed p;
	const struct sample *s;
	const char *job = "shop.orders.public_id";
	char *text;
	size_t len;

	sample_metrics(&m);
	text = metrics_format(&m, job, &len);
	ck_assert_ptr_nonnull(text);
	ck_assert_uint_eq(len, strlen(text));
	parse_exposition(text, &p);

	for (int i = 0; i < p.nsamples; i++)
		ck_assert_str_eq(label(&p.samples[i], "backfill_job"), job);

	s = find(&p, "nanoid_backfill_up", NULL, NULL);
	ck_assert_ptr_nonnull(s);
	ck_assert_double_eq(s->v, 1);
	s = find(&p, "nanoid_backfill_rows_filled_total", NULL, NULL);
	ck_assert_ptr_nonnull(s);
	ck_assert_double_eq(s->v, 1234567);
	ck_assert_double_eq(get(&p, "nanoid_backfill_batches_total", NULL,
				 NULL)->v, 1235);
	ck_assert_double_eq(get(&p, "nanoid_backfill_retries_total", NULL,
				 NULL)->v, 2);
	ck_assert_double_eq(get(&p, "nanoid_backfill_rows_per_second", NULL,
				 NULL)->v, 10250.5);
	ck_assert_double_eq(get(&p, "nanoid_backfill_rows_left", NULL,
				 NULL)->v, 98765);
	ck_assert_double_eq(get(&p, "nanoid_backfill_replica_lag_bytes", NULL,
				 NULL)->v, 4096);
	ck_assert_double_eq(get(&p, "nanoid_backfill_pace_rows_per_second", NULL,
				 NULL)->v, 3200);
	s = find(&p, "nanoid_backfill_throttled_seconds_total", "reason", "lag");
	ck_assert_ptr_nonnull(s);
	ck_assert_double_eq(s->v, 3.5);
	s = find(&p, "nanoid_backfill_throttled_seconds_total", "reason",
		 "max-rate");
	ck_assert_ptr_nonnull(s);
	ck_assert_double_eq(s->v, 0.25);

	/* One state is 1, every other 0. */
	ck_assert_double_eq(get(&p, "nanoid_backfill_state", "state",
				 "running")->v, 1);
	ck_assert_double_eq(get(&p, "nanoid_backfill_state", "state",
				 "idle")->v, 0);
	ck_assert_double_eq(get(&p, "nanoid_backfill_state", "state",
				 "done")->v, 0);
	free(text);
}
END_TEST

START_TEST(test_unknown_gauges_absent)
{
	struct metrics m;
	struct parsed p;
	char *text;

	metrics_init(&m);
	m.up = false;
	m.state = "draining";           /* not a known state: still shown */
	text = metrics_format(&m, NULL, NULL);
	ck_assert_ptr_nonnull(text);
	parse_exposition(text, &p);
	ck_assert_double_eq(get(&p, "nanoid_backfill_up", NULL, NULL)->v, 0);
	ck_assert_ptr_null(find(&p, "nanoid_backfill_rows_per_second", NULL, NULL));
	ck_assert_ptr_null(find(&p, "nanoid_backfill_rows_left", NULL, NULL));
	ck_assert_ptr_null(find(&p, "nanoid_backfill_replica_lag_bytes", NULL,
				NULL));
	ck_assert_ptr_null(find(&p, "nanoid_backfill_pace_rows_per_second", NULL,
				NULL));
	ck_assert_ptr_null(find(&p, "nanoid_backfill_throttled_seconds_total",
				NULL, NULL));
	ck_assert_double_eq(get(&p, "nanoid_backfill_state", "state",
				 "draining")->v, 1);
	ck_assert_double_eq(get(&p, "nanoid_backfill_state", "state",
				 "starting")->v, 0);
	/* No job: no label at all. */
	ck_assert_int_eq(get(&p, "nanoid_backfill_up", NULL, NULL)->nlabels, 0);
	ck_assert_ptr_nonnull(strstr(text, "\nnanoid_backfill_up 0\n"));
	free(text);
}
END_TEST

START_TEST(test_label_escaping)
{
	struct metrics m;
	struct parsed p;
	const char *job = "we\"ird\\job\nname \xc3\xa9 {x=\"1\"},";
	char *text;

	metrics_init(&m);
	ck_assert_int_eq(metrics_add_throttled(&m, "quote\"back\\slash\nnl",
					       1), 0);
	text = metrics_format(&m, job, NULL);
	ck_assert_ptr_nonnull(text);
	/* The escaped forms are in the text, the raw newline is not. */
	ck_assert_ptr_nonnull(strstr(text,
		"backfill_job=\"we\\\"ird\\\\job\\nname \xc3\xa9 {x=\\\"1\\\"},\""));
	ck_assert_ptr_nonnull(strstr(text,
		"reason=\"quote\\\"back\\\\slash\\nnl\""));
	parse_exposition(text, &p);
	for (int i = 0; i < p.nsamples; i++)
		ck_assert_str_eq(label(&p.samples[i], "backfill_job"), job);
	ck_assert_ptr_nonnull(find(&p, "nanoid_backfill_throttled_seconds_total",
				   "reason", "quote\"back\\slash\nnl"));
	free(text);
}
END_TEST

START_TEST(test_throttle_reasons_capped)
{
	static const char *const names[] = {
		"a", "b", "c", "d", "e", "f", "g", "h", "i", "j",
		"k", "l", "m", "n", "o", "p", "q", "r", "s", "t",
	};
	struct metrics m;
	int i;

	ck_assert((int)(sizeof(names) / sizeof(names[0])) >= METRICS_MAX_REASONS + 1);
	metrics_init(&m);
	for (i = 0; i < METRICS_MAX_REASONS - 1; i++)
		ck_assert_int_eq(metrics_add_throttled(&m, names[i], 1), 0);
	ck_assert_int_eq(metrics_add_throttled(&m, names[i], 1), -1);
	ck_assert_int_eq(metrics_add_throttled(&m, names[i + 1], 2), -1);
	ck_assert_int_eq(metrics_add_throttled(&m, "a", 1), 0);
	ck_assert_int_eq(m.nthrottled, METRICS_MAX_REASONS);
	ck_assert_str_eq(m.throttled[METRICS_MAX_REASONS - 1].reason, "other");
	ck_assert_double_eq(m.throttled[METRICS_MAX_REASONS - 1].seconds, 3);
	ck_assert_double_eq(m.throttled[0].seconds, 2);
}
END_TEST

/* Names in dir other than . and .. */
static int count_entries(const char *dir, char *first, size_t len)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (n++ == 0)
			snprintf(first, len, "%s", e->d_name);
	}
	closedir(d);
	return n;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t cap = 0;
	ssize_t n;

	ck_assert_ptr_nonnull(f);
	n = getdelim(&buf, &cap, '\0', f);
	ck_assert_int_ge(n, 0);
	fclose(f);
	return buf;
}

START_TEST(test_atomic_write)
{
	char dir[] = "/tmp/nb-test-metrics-XXXXXX", path[128], name[256];
	char *want, *got, oldbuf[64];
	struct metrics m;
	struct stat st1, st2;
	int fd;
	ssize_t n;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/job.prom", dir);
	sample_metrics(&m);

	ck_assert_int_eq(metrics_write_file(path, &m, "j"), 0);
	want = metrics_format(&m, "j", NULL);
	got = slurp(path);
	ck_assert_str_eq(got, want);
	free(got);
	free(want);
	/* Only the file: the temporary is gone. */
	ck_assert_int_eq(count_entries(dir, name, sizeof name), 1);
	ck_assert_str_eq(name, "job.prom");
	ck_assert_int_eq(stat(path, &st1), 0);
	ck_assert_int_eq(st1.st_mode & 0777, 0644);

	/* A reader that opened the old file keeps reading the old file
	 * whole: the new one is a new inode renamed over it, not a rewrite. */
	fd = open(path, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	m.rows_filled = 7;
	ck_assert_int_eq(metrics_write_file(path, &m, "j"), 0);
	ck_assert_int_eq(stat(path, &st2), 0);
	ck_assert_uint_ne(st1.st_ino, st2.st_ino);
	n = read(fd, oldbuf, sizeof oldbuf - 1);
	ck_assert_int_gt(n, 0);
	oldbuf[n] = '\0';
	ck_assert(strncmp(oldbuf, "# HELP nanoid_backfill_up", 25) == 0);
	close(fd);
	got = slurp(path);
	ck_assert_ptr_nonnull(strstr(got,
		"nanoid_backfill_rows_filled_total{backfill_job=\"j\"} 7\n"));
	free(got);
	ck_assert_int_eq(count_entries(dir, name, sizeof name), 1);

	unlink(path);
	rmdir(dir);
}
END_TEST

START_TEST(test_write_failures)
{
	char dir[] = "/tmp/nb-test-metrics-XXXXXX", path[256], sub[128];
	char name[256];
	struct metrics m;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	metrics_init(&m);

	/* Missing directory. */
	snprintf(path, sizeof path, "%s/nope/job.prom", dir);
	errno = 0;
	ck_assert_int_eq(metrics_write_file(path, &m, "j"), -1);
	ck_assert_int_eq(errno, ENOENT);

	/* The target is a directory: rename fails, the temp is removed and
	 * the directory is left alone. */
	snprintf(sub, sizeof sub, "%s/job.prom", dir);
	ck_assert_int_eq(mkdir(sub, 0755), 0);
	snprintf(path, sizeof path, "%s/x", sub);
	ck_assert_int_eq(close(open(path, O_WRONLY | O_CREAT, 0644)), 0);
	errno = 0;
	ck_assert_int_eq(metrics_write_file(sub, &m, "j"), -1);
	ck_assert(errno == EISDIR || errno == ENOTEMPTY || errno == EEXIST);
	ck_assert_int_eq(count_entries(dir, name, sizeof name), 1);
	ck_assert_int_eq(count_entries(sub, name, sizeof name), 1);
	ck_assert_str_eq(name, "x");

	unlink(path);
	rmdir(sub);
	rmdir(dir);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("metrics");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_format);
	tcase_add_test(tc, test_unknown_gauges_absent);
	tcase_add_test(tc, test_label_escaping);
	tcase_add_test(tc, test_throttle_reasons_capped);
	tcase_add_test(tc, test_atomic_write);
	tcase_add_test(tc, test_write_failures);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
