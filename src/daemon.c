/*
 * daemon.c - the run's process: the libev loop, its timers (progress,
 * watchdog, health, max-runtime, the progress bar's redraws), signals,
 * reload and stop (backfill.h is its contract; engine.h says how the parts
 * fit).
 *
 * Signals arrive through ev_signal: libev catches them and runs the
 * callbacks from the loop, not in signal context, so they may do anything
 * a normal callback does. SIGTERM and SIGINT stop after the statements in
 * flight, SIGHUP reloads, SIGUSR1/SIGUSR2 pause and resume.
 */
#include "backfill.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>

#include "engine.h"
#include "exit_codes.h"
#include "health.h"
#include "log.h"
#include "notify.h"
#include "pgtext.h"
#include "report.h"

static void tick_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct backfill *bf = t->data;

	(void)revents;
	if (!bf->finished)  /* the final line was said */
		report_tick(bf, ev_now(loop));
}

/* Every BAR_INTERVAL, when the progress is a bar. */
static void bar_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct backfill *bf = t->data;

	(void)revents;
	if (!bf->finished)
		report_bar(bf, ev_now(loop));
}

static void watchdog_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)loop;
	(void)t;
	(void)revents;
	/* Sent from the loop: a loop stuck anywhere stops the pings. */
	notify_watchdog();
}

static void runtime_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct backfill *bf = t->data;
	double left = throttle_runtime_left(&bf->thr, ev_now(loop));

	(void)revents;
	if (left > 0) {
		/* Not yet (a reload moved the limit): look again then. */
		ev_timer_set(t, left, 0);
		ev_timer_start(loop, t);
		return;
	}
	engine_stop(bf, "max-runtime reached; run again to resume");
}

static void arm_runtime(struct backfill *bf)
{
	double left = throttle_runtime_left(&bf->thr, ev_now(bf->loop));

	ev_timer_stop(bf->loop, &bf->runtime);
	if (isinf(left) || bf->stopping)
		return;
	ev_timer_set(&bf->runtime, left > 0 ? left : 0, 0);
	ev_timer_start(bf->loop, &bf->runtime);
}

/* ---- health, on the monitoring connection ------------------------------- */

/* Connects the health connection, at most once a second: not ten attempts
 * a second at a server that refuses. */
static void mon_connect_now(struct backfill *bf)
{
	if (ev_now(bf->loop) - bf->mon_tried < 1.0)
		return;
	bf->mon_tried = ev_now(bf->loop);
	if (conn_connect(&bf->mon, bf->cfg->dsn) != 0)
		log_warn("health: cannot connect: %s", conn_error(&bf->mon));
}

/* The health query's and the probe's parameters: our backends, the target. */
static int mon_params(struct backfill *bf, struct health_params *p)
{
	int pids[HEALTH_MAX_PIDS];
	int npids = engine_pids(bf, pids, HEALTH_MAX_PIDS);

	return health_params(p, pids, npids, bf->target.schema, bf->target.table);
}

/* One health query, if the last has answered (connecting first). */
static void health_poll(struct backfill *bf)
{
	struct health_params p;

	if (bf->setup != SETUP_DONE || bf->stopping || !throttle_health_wanted(&bf->thr))
		return;
	if (bf->mon.state == CONN_DISCONNECTED) {
		mon_connect_now(bf);
		return;
	}
	if (bf->mon.state != CONN_IDLE) {
		bf->health_due = true;  /* after the probe in flight */
		return;
	}
	bf->health_due = false;
	if (mon_params(bf, &p) != 0)
		return;
	/* Not sent: no sample this time, as for a failed query. */
	if (conn_send(&bf->mon, health_sql(), HEALTH_NPARAMS, NULL,
			p.values, NULL, NULL) != 0)
		conn_close(&bf->mon);
	else
		bf->mon_query = MON_HEALTH;
}

static void probe_first(struct backfill *bf);

static void mon_connect(struct conn *conn, bool ok, const char *err)
{
	struct backfill *bf = conn->data;

	if (!ok) {
		/* No sample: the throttle notices when none comes. */
		log_warn("health: cannot connect: %s", err);
		return;
	}
	/* The first sample at once: flying blind is not online-safe, and an
	 * idle server should not wait for it. */
	health_poll(bf);
	probe_first(bf);
}

/* The pace's probe answered: a sample for the throttle. */
static void probe_result(struct backfill *bf, PGresult *res)
{
	struct health_probe probe;
	struct pace_sample s;
	char err[128];

	if (health_probe_from_result(&probe, res, err, sizeof err) != 0) {
		log_debug("%s", err);
		return;
	}
	s = (struct pace_sample){ .sent = bf->probe_sent, .at = ev_time(),
				  .quiet = bf->probe_quiet, .active = probe.active,
				  .wal_waits = probe.wal_waits, .blocked = probe.blocked,
				  .alone = probe.connected == 0 };
	throttle_probe(&bf->thr, &s);
	log_debug("probe: %.2f ms%s, %ld connected, %ld active, %ld on WAL, %ld blocked; "
		  "pace %.0f rows/s",
		  (s.at - s.sent) * 1000, s.quiet ? " (quiet)" : "", probe.connected, s.active,
		  s.wal_waits,
		  s.blocked, throttle_rate(&bf->thr, s.at));
}

/* The pace's probe, when the connection is free. */
static void probe_send(struct backfill *bf)
{
	struct health_params p;

	/* Only while batches run: between passes and in pauses there is
	 * nothing to pace. */
	if (bf->setup != SETUP_DONE || bf->stopping || !throttle_probe_wanted(&bf->thr) ||
	    !engine_filling(bf))
		return;
	if (bf->mon.state == CONN_DISCONNECTED) {
		mon_connect_now(bf);
		return;
	}
	if (bf->mon.state != CONN_IDLE)
		return;
	if (mon_params(bf, &p) != 0)
		return;
	bf->probed = true;
	bf->probe_quiet = throttle_probe_quiet(&bf->thr, ev_now(bf->loop), engine_batches(bf) > 0);
	bf->probe_sent = ev_time();
	bf->probe_commits = throttle_probe_commits(&bf->thr) && !bf->probe_read_only;
	if (conn_send(&bf->mon, health_probe_sql(bf->probe_commits), 1, NULL,
		      p.values, NULL, NULL) != 0)
		conn_close(&bf->mon);
	else
		bf->mon_query = MON_PROBE;
}

/*
 * The first probe as soon as the connection is free, not at the timer's
 * next tick: until it answers the batches keep the slow start's rate,
 * and on an idle server that is most of a short run's first 0.1 s.
 */
static void probe_first(struct backfill *bf)
{
	if (!bf->probed)
		probe_send(bf);
}

/* Every PACE_PROBE_INTERVAL. */
static void probe_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)loop;
	(void)revents;
	probe_send(t->data);
}

static void mon_result(struct conn *conn, PGresult *res)
{
	struct backfill *bf = conn->data;
	struct health_sample sample;
	char err[512] = "";
	enum mon_query q = bf->mon_query;

	bf->mon_query = MON_NONE;
	if (q == MON_PROBE) {
		if (res && PQresultStatus(res) != PGRES_TUPLES_OK) {
			char msg[512];

			/* A committing probe the server refuses (a standby, a
			 * read-only transaction default): read-only from now on,
			 * said once. Its latency is then a query's, not a commit's. */
			if (bf->probe_commits && !bf->probe_read_only) {
				bf->probe_read_only = true;
				log_warn("pace: the probe cannot take a transaction id (%s); "
					 "it measures without a commit from now on",
					 pgconn_result_error(res, msg, sizeof msg));
			}
			res = NULL;
		}
		probe_result(bf, res);
		report_throttle_change(bf);
		if (bf->health_due)
			health_poll(bf);
		return;
	}

	if (res && PQresultStatus(res) != PGRES_TUPLES_OK) {
		char msg[512];

		log_warn("health query failed: %s", pgconn_result_error(res, msg, sizeof msg));
		res = NULL;
	}
	if (health_from_result(&sample, res, err, sizeof err) != 0)
		log_debug("health: %s", err);
	else if (throttle_health_update(&bf->thr, &sample, ev_now(bf->loop), err,
					sizeof err) > 0)
		log_warn("health: %s", err);
	report_throttle_change(bf);
	probe_first(bf);
}

/* Every health-interval. */
static void health_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)loop;
	(void)revents;
	health_poll(t->data);
}

/* ---- the engine's hooks ------------------------------------------------- */

/* The job is claimed: the health connection connects now. */
static void on_claimed(struct backfill *bf)
{
	health_poll(bf);
}

/* The run stops: no more health samples or runtime limit. */
static void on_stopping(struct backfill *bf)
{
	ev_timer_stop(bf->loop, &bf->health);
	ev_timer_stop(bf->loop, &bf->probe);
	ev_timer_stop(bf->loop, &bf->runtime);
	conn_close(&bf->mon);
}

/* ---- reload and signals ------------------------------------------------- */

/* Applies the settings that a reload may have changed. */
static void apply_live(struct backfill *bf)
{
	struct config *c = bf->cfg;
	enum log_level level;

	if (log_level_parse(c->log_level, &level) == 0)
		log_set_level(level);
	ev_timer_set(&bf->tick, c->progress_interval, c->progress_interval);
	ev_timer_again(bf->loop, &bf->tick);
	if (throttle_reconfigure(&bf->thr, c, bf->err, sizeof bf->err) != 0)
		log_warn("reload: throttling unchanged: %s", bf->err);
	ev_timer_set(&bf->health, c->health_interval, c->health_interval);
	ev_timer_again(bf->loop, &bf->health);
	arm_runtime(bf);
	engine_reconfigure(bf);
}

/*
 * SIGHUP: parse the command line and the job file again. A bad file keeps
 * the running configuration; only live keys change (config_apply_reload
 * logs each change, and each key that needs a restart).
 */
static void reload(struct backfill *bf)
{
	struct config next;
	char err[CONFIG_ERR_LEN] = "";
	enum config_result r;

	notify_reloading();
	r = config_parse_args(&next, bf->argc, bf->argv, err, sizeof err);
	if (r == CONFIG_OK)
		r = config_validate(&next, err, sizeof err);
	if (r != CONFIG_OK) {
		log_warn("reload refused, keeping the running configuration: %s", err);
	} else {
		int n = config_apply_reload(bf->cfg, &next);

		apply_live(bf);
		log_info("reload: %d setting%s changed", n, n == 1 ? "" : "s");
	}
	config_free(&next);
	notify_ready();
}

static void signal_cb(struct ev_loop *loop, ev_signal *s, int revents)
{
	struct backfill *bf = s->data;

	(void)loop;
	(void)revents;
	switch (s->signum) {
	case SIGHUP:
		reload(bf);
		return;
	case SIGUSR1:
		throttle_set_paused(&bf->thr, true, "SIGUSR1");
		log_info("paused by SIGUSR1; SIGUSR2 resumes");
		return;
	case SIGUSR2:
		throttle_set_paused(&bf->thr, false, NULL);
		log_info("resumed by SIGUSR2");
		return;
	default:
		engine_stop(bf, s->signum == SIGINT ? "SIGINT" : "SIGTERM");
		return;
	}
}

/* ---- the process -------------------------------------------------------- */

static void watch_signals(struct backfill *bf, bool on)
{
	ev_signal *all[] = { &bf->sig_term, &bf->sig_int, &bf->sig_hup,
			     &bf->sig_usr1, &bf->sig_usr2 };
	static const int signums[] = { SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2 };

	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
		if (!on) {
			ev_signal_stop(bf->loop, all[i]);
			continue;
		}
		ev_signal_init(all[i], signal_cb, signums[i]);
		all[i]->data = bf;
		ev_signal_start(bf->loop, all[i]);
	}
}

int backfill_run(struct config *cfg, int argc, char **argv)
{
	struct backfill bf;
	struct ev_loop *loop = ev_default_loop(EVFLAG_AUTO);

	memset(&bf, 0, sizeof bf);
	bf.loop = loop;
	bf.cfg = cfg;
	bf.hooks = (struct engine_hooks){ on_claimed, on_stopping };
	bf.estimate = -1;
	bf.exit_code = NB_EXIT_FAILURE;
	bf.nworkers = (int)cfg->workers;
	bf.argc = argc;
	bf.argv = argv;
	metrics_init(&bf.metrics);
	notify_init();
	if (throttle_init(&bf.thr, cfg, ev_now(loop), bf.err, sizeof bf.err) != 0) {
		log_error("%s", bf.err);
		return NB_EXIT_CONFIG;
	}
	if (nanoid_init(&bf.gen, cfg->alphabet, (size_t)cfg->size, cfg->prefix) != 0) {
		log_error("out of memory");
		return NB_EXIT_FAILURE;
	}
	if (engine_init(&bf) != 0) {
		nanoid_free(&bf.gen);
		log_error("out of memory");
		return NB_EXIT_FAILURE;
	}

	ev_timer_init(&bf.tick, tick_cb, cfg->progress_interval, cfg->progress_interval);
	bf.tick.data = &bf;
	bf.progress_mode = report_progress_mode(cfg);
	ev_timer_init(&bf.bar, bar_cb, BAR_INTERVAL, BAR_INTERVAL);
	bf.bar.data = &bf;
	watch_signals(&bf, true);
	conn_init(&bf.mon, loop, 0, mon_connect, mon_result, &bf);
	ev_timer_init(&bf.health, health_cb, cfg->health_interval, cfg->health_interval);
	bf.health.data = &bf;
	ev_timer_start(loop, &bf.health);
	ev_timer_init(&bf.probe, probe_cb, PACE_PROBE_INTERVAL, PACE_PROBE_INTERVAL);
	bf.probe.data = &bf;
	ev_timer_start(loop, &bf.probe);
	ev_timer_init(&bf.runtime, runtime_cb, 0, 0);
	bf.runtime.data = &bf;
	ev_timer_init(&bf.watchdog, watchdog_cb, 0, 0);
	if (notify_watchdog_interval() > 0) {
		ev_timer_set(&bf.watchdog, notify_watchdog_interval(), notify_watchdog_interval());
		ev_timer_start(loop, &bf.watchdog);
	}
	/* libpq writes to sockets; a peer that went away must not kill us. */
	signal(SIGPIPE, SIG_IGN);

	bf.started = bf.last_tick = ev_now(loop);
	ev_timer_start(loop, &bf.tick);
	if (bf.progress_mode == BAR_BAR)
		ev_timer_start(loop, &bf.bar);
	arm_runtime(&bf);
	engine_start(&bf);
	if (!bf.finished)
		ev_run(loop, 0);

	report_metrics(&bf, 0);
	ev_now_update(loop);
	report_bar_end(&bf, ev_now(loop));
	ev_timer_stop(loop, &bf.bar);
	watch_signals(&bf, false);
	ev_timer_stop(loop, &bf.health);
	ev_timer_stop(loop, &bf.probe);
	ev_timer_stop(loop, &bf.runtime);
	conn_close(&bf.mon);
	ev_timer_stop(loop, &bf.tick);
	ev_timer_stop(loop, &bf.watchdog);
	notify_close();
	engine_free(&bf);
	nanoid_free(&bf.gen);
	return bf.exit_code;
}
