/*
 * pooler.h - is this connection a session of its own, or a pooler's
 * transaction (or statement) slot?
 *
 * The engine holds session state across transactions: advisory locks on
 * its leases, prepared statements, session settings. Behind a pooler in
 * transaction mode (PgBouncer's pool_mode = transaction) each transaction
 * may run on another server backend, so locks and statements are lost or
 * shared between clients. No protocol message says which mode a pooler is
 * in; what it does to backend pids shows it: a session keeps one backend
 * for its life, and no other live session can see that backend's pid.
 */
#ifndef NB_POOLER_H
#define NB_POOLER_H

#include <stddef.h>

enum pooler_result {
	POOLER_SESSION = 0,       /* each connection keeps its own backend */
	POOLER_TRANSACTION = 1,   /* backends change or are shared: refuse */
	POOLER_UNKNOWN = -1,      /* could not connect or ask; err says why */
};

/*
 * Opens two short connections to conninfo (NULL or "": the PG*
 * environment), application_name "nanoid-backfill pooler check", compares
 * the backend pids their statements see, and closes them: nothing is left
 * on the server. Through a session pooler they hold two server connections
 * while it runs. Blocking: at most twice connect_timeout in all (10 s when
 * unset). On anything but POOLER_SESSION, one line in err: for
 * POOLER_TRANSACTION what to connect through instead; for POOLER_UNKNOWN
 * why it could not tell (no connection, a failed query, no answer in time).
 */
enum pooler_result pooler_check(const char *conninfo, char *err, size_t errlen);

#endif
