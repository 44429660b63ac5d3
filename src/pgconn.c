/*
 * pgconn.c - the libpq layer under both sides; see pgconn.h.
 */
#include "pgconn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

void pgconn_params(struct pgconn_params *p, const char *dsn,
		   const char *application_name)
{
	p->keywords[0] = "dbname";
	p->values[0] = dsn != NULL && dsn[0] != '\0' ? dsn : NULL;
	/* After dbname, so a forced name wins over the dsn's. */
	p->keywords[1] = application_name != NULL ? "application_name" :
						    "fallback_application_name";
	p->values[1] = application_name != NULL ? application_name :
						  PGCONN_APPLICATION_NAME;
	p->keywords[2] = NULL;
	p->values[2] = NULL;
}

/* What expand_dbname would parse: a conninfo string or a URI. */
static bool parsed_by_libpq(const char *dsn)
{
	return dsn != NULL && (strchr(dsn, '=') != NULL ||
			       strncmp(dsn, "postgres://", 11) == 0 ||
			       strncmp(dsn, "postgresql://", 13) == 0);
}

int pgconn_parse_dsn(const char *dsn, char *err, size_t errlen)
{
	PQconninfoOption *opts;
	char *msg = NULL;

	if (!parsed_by_libpq(dsn))
		return 0;
	opts = PQconninfoParse(dsn, &msg);
	if (opts != NULL) {
		PQconninfoFree(opts);
		return 0;
	}
	snprintf(err, errlen, "%s", msg != NULL ? msg : "out of memory");
	pgconn_flatten(err);
	PQfreemem(msg);
	return -1;
}

/*
 * Is every port in the comma-separated list a number libpq takes? libpq
 * checks ports only when it tries a host, so PQpingParams cannot tell.
 */
static bool ports_ok(const char *dsn)
{
	char *parse_err = NULL;
	PQconninfoOption *opts = dsn ? PQconninfoParse(dsn, &parse_err) :
				       PQconndefaults();
	bool ok = true;

	PQfreemem(parse_err);
	for (PQconninfoOption *o = opts; o && o->keyword; o++) {
		if (strcmp(o->keyword, "port") != 0 || !o->val)
			continue;
		for (const char *c = o->val; *c && ok; c++)
			ok = (*c >= '0' && *c <= '9') || *c == ',' || *c == ' ';
	}
	PQconninfoFree(opts);
	return ok;
}

enum pgconn_dsn pgconn_classify_dsn(const char *dsn, char *err, size_t errlen)
{
	struct pgconn_params p;

	if (pgconn_parse_dsn(dsn, err, errlen) != 0)
		return PGCONN_DSN_MALFORMED;
	pgconn_params(&p, dsn, NULL);
	if (!ports_ok(dsn) ||
	    PQpingParams(p.keywords, p.values, 1) == PQPING_NO_ATTEMPT)
		return PGCONN_DSN_REJECTED;
	return PGCONN_DSN_OK;
}

void pgconn_flatten(char *s)
{
	char *out = s;

	/* libpq's messages are lines, often "...\n\tHINT": one blank each. */
	for (const char *p = s; *p; p++) {
		bool blank = *p == '\n' || *p == '\r' || *p == '\t' || *p == ' ';

		if (blank && (out == s || out[-1] == ' '))
			continue;
		*out++ = blank ? ' ' : *p;
	}
	if (out > s && out[-1] == ' ')
		out--;
	*out = '\0';
}

const char *pgconn_conn_error(const PGconn *conn, char *buf, size_t len)
{
	const char *msg = conn != NULL ? PQerrorMessage(conn) : NULL;

	snprintf(buf, len, "%s", msg != NULL ? msg : "");
	pgconn_flatten(buf);
	return buf;
}

const char *pgconn_result_error(const PGresult *res, char *buf, size_t len)
{
	const char *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	const char *detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);

	if (!primary)
		primary = PQresultErrorMessage(res);
	if (detail)
		snprintf(buf, len, "%s; %s", primary, detail);
	else
		snprintf(buf, len, "%s", primary);
	pgconn_flatten(buf);
	return buf;
}

const char *pgconn_error(const PGconn *conn, const PGresult *res, char *buf,
			 size_t len)
{
	if (res != NULL)
		return pgconn_result_error(res, buf, len);
	if (conn == NULL) {
		snprintf(buf, len, "no connection");
		return buf;
	}
	if (pgconn_conn_error(conn, buf, len)[0] == '\0')
		snprintf(buf, len, "connection lost");
	return buf;
}

const char *pgconn_sqlstate(const PGresult *res)
{
	const char *s = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	return s ? s : "";
}

void pgconn_log_notice(void *arg, const char *message)
{
	char line[512];

	(void)arg;
	snprintf(line, sizeof line, "%s", message);
	pgconn_flatten(line);
	log_debug("server: %s", line);
}

char *pgconn_quote(PGconn *conn, const char *name)
{
	char *q = PQescapeIdentifier(conn, name, strlen(name));
	char *copy;

	if (q == NULL)
		return NULL;
	copy = strdup(q);       /* callers free() what they get */
	PQfreemem(q);
	return copy;
}

char *pgconn_quote_ident(const char *name)
{
	size_t n = 2;
	char *out, *o;

	for (const char *p = name; *p; p++)
		n += *p == '"' ? 2 : 1;
	out = malloc(n + 1);
	if (out == NULL)
		return NULL;
	o = out;
	*o++ = '"';
	for (const char *p = name; *p; p++) {
		if (*p == '"')
			*o++ = '"';
		*o++ = *p;
	}
	*o++ = '"';
	*o = '\0';
	return out;
}

char *pgconn_quote_literal(const char *s)
{
	size_t n = 3;
	char *out, *o;

	for (const char *p = s; *p; p++)
		n += *p == '\'' || *p == '\\' ? 2 : 1;
	out = malloc(n + 1);
	if (out == NULL)
		return NULL;
	o = out;
	*o++ = 'E';
	*o++ = '\'';
	for (const char *p = s; *p; p++) {
		if (*p == '\'' || *p == '\\')
			*o++ = *p;
		*o++ = *p;
	}
	*o++ = '\'';
	*o = '\0';
	return out;
}
