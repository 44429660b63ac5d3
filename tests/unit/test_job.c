/*
 * test_job.c - the lease and pass protocol (job.h) driven with fabricated
 * answers: every transition of every step, for --until-done and for a
 * service, by key and in physical order, the stall and clash rules, and
 * answers the worker does not wait on (refused).
 */
#include "exit_codes.h"
#include "job.h"
#include "log.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct job_worker w;
static struct job_pass p;
static struct job_config c;
static double now;

static void setup(void)
{
	log_set_level(LOG_ERROR);
	job_worker_init(&w, 1);
	job_pass_init(&p, 0);
	c = (struct job_config){
		.until_done = true, .by_key = true, .has_keys = true,
		.idle_interval = 60, .full_sweep_interval = 3600, .log10_ids = 30,
		.job = "j", .schema = "s", .table = "t",
	};
	now = 100;
}

static struct job_action answer(enum job_step step, struct job_answer a)
{
	return job_answer(&w, &p, &c, step, &a, now);
}

/* An answer with nothing in it, for steps that need none. */
static struct job_action plain(enum job_step step)
{
	return answer(step, (struct job_answer){ 0 });
}

/* The job row as read, exactly. */
static struct job_action read_row(struct job_row row)
{
	return answer(JOB_READ_JOB, (struct job_answer){ .row = &row });
}

/* The job row of a job that only this process's walk ever walked. */
static struct job_action read_job(struct job_row row)
{
	row.by_key = c.by_key;
	c.own_by_key = c.by_key;
	return read_row(row);
}

#define ck_send(a, s) do { \
	struct job_action a_ = (a); \
	ck_assert_msg(a_.what == JOB_DO_SEND && a_.step == (s), \
		      "expected SEND %s, got do %d step %s", job_step_name(s), \
		      (int)a_.what, job_step_name(a_.step)); \
	ck_assert_int_eq(w.step, (s)); \
} while (0)

/* From a fresh worker to the carve lock held and READ_JOB in flight. */
static void to_read_job(void)
{
	ck_send(job_acquire(&w), JOB_LIST);
	ck_send(plain(JOB_LIST), JOB_CARVE_LOCK);
	ck_send(answer(JOB_CARVE_LOCK, (struct job_answer){ .locked = true }), JOB_READ_JOB);
}

/* The end of a pass: the frontier done, no lease open. */
static const struct job_row pass_over = { .state = JOB_RUNNING, .frontier_done = true };

START_TEST(test_list_and_candidates)
{
	int leases[70];
	struct job_action a;

	for (int i = 0; i < 70; i++)
		leases[i] = i + 10;
	ck_send(job_acquire(&w), JOB_LIST);
	a = answer(JOB_LIST, (struct job_answer){ .leases = leases, .nleases = 70 });
	ck_send(a, JOB_TRY_LOCK);
	ck_assert_int_eq(a.lease, 10);
	/* At most JOB_MAX_CANDIDATES are tried, then the carve lock. */
	for (int i = 1; i < JOB_MAX_CANDIDATES; i++) {
		a = answer(JOB_TRY_LOCK, (struct job_answer){ .locked = false });
		ck_send(a, JOB_TRY_LOCK);
		ck_assert_int_eq(a.lease, 10 + i);
	}
	a = answer(JOB_TRY_LOCK, (struct job_answer){ .locked = false });
	ck_send(a, JOB_CARVE_LOCK);
	ck_assert_int_eq(a.lease, 0);
}
END_TEST

START_TEST(test_take)
{
	int leases[2] = { 7, 8 };
	struct job_action a;

	job_acquire(&w);
	answer(JOB_LIST, (struct job_answer){ .leases = leases, .nleases = 2 });
	a = answer(JOB_TRY_LOCK, (struct job_answer){ .locked = true });
	ck_send(a, JOB_TAKE);
	ck_assert_int_eq(a.lease, 7);
	/* Done between the list and the lock: let it go, try the next. */
	a = answer(JOB_TAKE, (struct job_answer){ .take = 0 });
	ck_send(a, JOB_UNLOCK);
	ck_assert_int_eq(a.lease, 7);
	a = plain(JOB_UNLOCK);
	ck_send(a, JOB_TRY_LOCK);
	ck_assert_int_eq(a.lease, 8);
	ck_send(answer(JOB_TRY_LOCK, (struct job_answer){ .locked = true }), JOB_TAKE);
	/* By key a lease's relation cannot be gone: it is worked. */
	a = answer(JOB_TAKE, (struct job_answer){ .take = 1, .rel_gone = true });
	ck_assert_int_eq(a.what, JOB_DO_WORK);
	ck_assert_int_eq(a.lease, 8);
	ck_assert_int_eq(w.step, JOB_WORKING);
	/* The batches finish it: let it go, look again. */
	a = job_lease_done(&w);
	ck_send(a, JOB_UNLOCK);
	ck_assert_int_eq(a.lease, 8);
	ck_send(plain(JOB_UNLOCK), JOB_LIST);
}
END_TEST

START_TEST(test_take_malformed_and_gone)
{
	int leases[1] = { 3 };
	struct job_action a;

	c.by_key = false;
	job_acquire(&w);
	answer(JOB_LIST, (struct job_answer){ .leases = leases, .nleases = 1 });
	answer(JOB_TRY_LOCK, (struct job_answer){ .locked = true });
	a = answer(JOB_TAKE, (struct job_answer){ .take = 1, .rel_gone = true });
	ck_send(a, JOB_LEASE_GONE);
	ck_assert_int_eq(a.lease, 3);
	a = plain(JOB_LEASE_GONE);
	ck_send(a, JOB_UNLOCK);
	ck_assert_int_eq(a.lease, 3);
	ck_send(plain(JOB_UNLOCK), JOB_LIST);

	answer(JOB_LIST, (struct job_answer){ .leases = leases, .nleases = 1 });
	answer(JOB_TRY_LOCK, (struct job_answer){ .locked = true });
	a = answer(JOB_TAKE, (struct job_answer){ .take = -1 });
	ck_assert_int_eq(a.what, JOB_DO_FAIL);
	ck_assert_int_eq(a.code, NB_EXIT_FAILURE);
	ck_assert_str_eq(a.message, "lease 3 has a malformed key in the progress table");
	ck_assert_int_eq(w.step, JOB_FINISHED);
}
END_TEST

START_TEST(test_lease_gone_in_a_batch)
{
	struct job_action a;

	c.by_key = false;
	to_read_job();
	read_job((struct job_row){ .state = JOB_RUNNING, .next_lease = 5 });
	ck_send(answer(JOB_CARVE, (struct job_answer){ .found = true }), JOB_NEW_LEASE);
	plain(JOB_NEW_LEASE);
	answer(JOB_NEW_LEASE, (struct job_answer){ .locked = true });
	a = job_lease_gone(&w);
	ck_send(a, JOB_LEASE_GONE);
	ck_assert_int_eq(a.lease, 5);
}
END_TEST

START_TEST(test_carve_lock_busy)
{
	struct job_action a;

	job_acquire(&w);
	plain(JOB_LIST);
	a = answer(JOB_CARVE_LOCK, (struct job_answer){ .locked = false });
	ck_assert_int_eq(a.what, JOB_DO_WAIT);
	ck_assert(a.seconds == JOB_BUSY_POLL);
	ck_assert_int_eq(w.step, JOB_WAITING);
	ck_send(job_acquire(&w), JOB_LIST);
}
END_TEST

START_TEST(test_carve_by_key)
{
	struct job_action a;

	to_read_job();
	/* No job row: missing or malformed. */
	a = answer(JOB_READ_JOB, (struct job_answer){ .row = NULL });
	ck_assert_int_eq(a.what, JOB_DO_FAIL);
	ck_assert_str_eq(a.message, "job \"j\" is missing or malformed in the progress table");
	setup();
	to_read_job();
	ck_send(read_job((struct job_row){ .state = JOB_RUNNING, .next_lease = 4 }),
		JOB_BOUNDARY);
	a = plain(JOB_BOUNDARY);
	ck_send(a, JOB_NEW_LEASE);
	ck_assert_int_eq(a.lease, 4);
	/* Locked: the carve lock goes, then the lease is worked. */
	a = answer(JOB_NEW_LEASE, (struct job_answer){ .locked = true });
	ck_send(a, JOB_UNLOCK);
	ck_assert_int_eq(a.lease, 0);
	a = plain(JOB_UNLOCK);
	ck_assert_int_eq(a.what, JOB_DO_WORK);
	ck_assert_int_eq(a.lease, 4);
}
END_TEST

START_TEST(test_carve_lost_race)
{
	struct job_action a;

	to_read_job();
	read_job((struct job_row){ .state = JOB_RUNNING, .next_lease = 4 });
	plain(JOB_BOUNDARY);
	/* Another process locked the new lease first: look again. */
	a = answer(JOB_NEW_LEASE, (struct job_answer){ .locked = false });
	ck_send(a, JOB_UNLOCK);
	ck_assert_int_eq(a.lease, 0);
	ck_send(plain(JOB_UNLOCK), JOB_LIST);
}
END_TEST

START_TEST(test_carve_physical)
{
	c.by_key = false;
	to_read_job();
	ck_send(read_job((struct job_row){ .state = JOB_RUNNING, .next_lease = 2 }),
		JOB_CARVE);
	/* Nothing left to carve: the frontier is done, read the job again. */
	ck_send(answer(JOB_CARVE, (struct job_answer){ .found = false }), JOB_FRONTIER_DONE);
	ck_send(plain(JOB_FRONTIER_DONE), JOB_READ_JOB);
	ck_send(read_job((struct job_row){ .state = JOB_RUNNING, .next_lease = 2 }),
		JOB_CARVE);
	ck_send(answer(JOB_CARVE, (struct job_answer){ .found = true }), JOB_NEW_LEASE);
	ck_assert_int_eq(w.lease, 2);
}
END_TEST

START_TEST(test_others_finish_their_leases)
{
	struct job_action a;

	to_read_job();
	a = read_job((struct job_row){ .state = JOB_RUNNING, .frontier_done = true,
				       .open_leases = 2 });
	ck_send(a, JOB_UNLOCK);
	a = plain(JOB_UNLOCK);
	ck_assert_int_eq(a.what, JOB_DO_WAIT);
	ck_assert(a.seconds == JOB_BUSY_POLL);
}
END_TEST

START_TEST(test_until_done_finishes)
{
	struct job_action a;

	to_read_job();
	ck_send(read_job(pass_over), JOB_REMAINING);
	ck_send(answer(JOB_REMAINING, (struct job_answer){ .found = false }), JOB_RESTORE);
	a = plain(JOB_RESTORE);
	ck_send(a, JOB_PASS_END);
	ck_assert_int_eq(a.pass_state, JOB_DONE);
	ck_send(plain(JOB_PASS_END), JOB_UNLOCK);
	a = plain(JOB_UNLOCK);
	ck_assert_int_eq(a.what, JOB_DO_DONE);
	ck_assert_int_eq(w.step, JOB_FINISHED);
}
END_TEST

START_TEST(test_until_done_another_pass)
{
	struct job_row row = pass_over;
	struct job_action a;

	row.pass_rows = 10;
	to_read_job();
	read_job(row);
	answer(JOB_REMAINING, (struct job_answer){ .found = true });
	a = plain(JOB_RESTORE);
	ck_send(a, JOB_PASS_END);
	ck_assert_int_eq(a.pass_state, JOB_RUNNING);
	ck_send(plain(JOB_PASS_END), JOB_UNLOCK);
	ck_send(plain(JOB_UNLOCK), JOB_LIST);
	ck_assert(p.ended == now);
}
END_TEST

START_TEST(test_until_done_empty_pass_waits)
{
	struct job_action a;

	p.ended = now - 0.3;   /* the pass took 0.3 s */
	to_read_job();
	read_job(pass_over);   /* pass_rows 0: it filled nothing */
	answer(JOB_REMAINING, (struct job_answer){ .found = true });
	a = plain(JOB_RESTORE);
	ck_assert_int_eq(a.pass_state, JOB_RUNNING);
	plain(JOB_PASS_END);
	a = plain(JOB_UNLOCK);
	ck_assert_int_eq(a.what, JOB_DO_WAIT);
	ck_assert_double_eq_tol(a.seconds, 0.3, 1e-9);
	ck_assert_double_eq_tol(p.ended, now + 0.3, 1e-9);
	ck_assert_int_eq(p.empty_passes, 1);
	/* Bounded: never more than a second. */
	setup();
	p.ended = now - 50;
	to_read_job();
	read_job(pass_over);
	answer(JOB_REMAINING, (struct job_answer){ .found = true });
	plain(JOB_RESTORE);
	plain(JOB_PASS_END);
	ck_assert_double_eq_tol(plain(JOB_UNLOCK).seconds, 1.0, 1e-9);
}
END_TEST

START_TEST(test_done_meanwhile)
{
	to_read_job();
	ck_send(read_job((struct job_row){ .state = JOB_DONE }), JOB_UNLOCK);
	ck_assert_int_eq(plain(JOB_UNLOCK).what, JOB_DO_DONE);
}
END_TEST

START_TEST(test_until_done_starts_a_pass)
{
	struct job_action a;

	to_read_job();
	a = read_job((struct job_row){ .state = JOB_IDLE, .idle_for = 1 });
	ck_send(a, JOB_START_PASS);
	ck_assert_ptr_null(a.from);
	ck_send(plain(JOB_START_PASS), JOB_READ_JOB);
}
END_TEST

/* Passes in a row that fill nothing while a trigger leaves rows NULL. */
static struct job_action stalled_pass(void)
{
	job_pass_count(&p, 10, 0, 0, 10);
	to_read_job();
	read_job(pass_over);
	answer(JOB_REMAINING, (struct job_answer){ .found = true });
	return plain(JOB_RESTORE);
}

START_TEST(test_until_done_stalls)
{
	struct job_action a;

	c.triggers = "keep_null on s.t";
	for (int i = 0; i < 2; i++) {
		a = stalled_pass();
		ck_send(a, JOB_PASS_END);
		plain(JOB_PASS_END);
		plain(JOB_UNLOCK);
		job_worker_init(&w, 1);
	}
	a = stalled_pass();
	ck_send(a, JOB_UNFILLED);
	a = answer(JOB_UNFILLED, (struct job_answer){ .count = "10", .few = "1, 2" });
	ck_assert_int_eq(a.what, JOB_DO_FAIL);
	ck_assert_int_eq(a.code, NB_EXIT_FAILURE);
	ck_assert_str_eq(a.message, "10 rows of \"s\".\"t\" stay NULL after 3 passes "
			 "without progress (keys 1, 2): the batches' UPDATE skipped them "
			 "or left them NULL; BEFORE UPDATE triggers that can skip a row "
			 "or set it back to NULL: keep_null on s.t");
}
END_TEST

START_TEST(test_unfilled_meanwhile)
{
	struct job_action a;

	for (int i = 0; i < 3; i++) {
		a = stalled_pass();
		if (i < 2) {
			plain(JOB_PASS_END);
			plain(JOB_UNLOCK);
			job_worker_init(&w, 1);
		}
	}
	ck_send(a, JOB_UNFILLED);
	/* The application filled them meanwhile: not stuck. */
	ck_send(answer(JOB_UNFILLED, (struct job_answer){ .count = "0" }), JOB_UNFILLED_RESTORE);
	ck_assert_int_eq(p.stalled, 0);
	a = plain(JOB_UNFILLED_RESTORE);
	ck_send(a, JOB_PASS_END);
	ck_assert_int_eq(a.pass_state, JOB_RUNNING);
	plain(JOB_PASS_END);
	ck_send(plain(JOB_UNLOCK), JOB_LIST);
}
END_TEST

START_TEST(test_skipped_without_trigger_is_not_stuck)
{
	/* Skipped rows without a trigger: another session changed them. */
	for (int i = 0; i < 5; i++) {
		job_pass_count(&p, 10, 0, 0, 0);
		to_read_job();
		read_job(pass_over);
		answer(JOB_REMAINING, (struct job_answer){ .found = true });
		ck_send(plain(JOB_RESTORE), JOB_PASS_END);
		plain(JOB_PASS_END);
		plain(JOB_UNLOCK);
		job_worker_init(&w, 1);
	}
	ck_assert_int_eq(p.stalled, 0);
	ck_assert_int_eq(p.empty_passes, 5);
}
END_TEST

START_TEST(test_clash_passes)
{
	struct job_action a = { 0 };
	int n = 0;

	/* A space of 100 ids: 50 + 10 * 100 passes of nothing but taken ids. */
	c.log10_ids = 2;
	c.guard = true;
	for (;;) {
		job_pass_count(&p, 1, 0, 1, 0);
		to_read_job();
		read_job(pass_over);
		answer(JOB_REMAINING, (struct job_answer){ .found = true });
		a = plain(JOB_RESTORE);
		n++;
		if (a.step == JOB_UNFILLED || n > 2000)
			break;
		plain(JOB_PASS_END);
		plain(JOB_UNLOCK);
		job_worker_init(&w, 1);
	}
	ck_assert_int_eq(n, 1050);
	a = answer(JOB_UNFILLED, (struct job_answer){ .count = "1", .few = "9" });
	ck_assert_int_eq(a.what, JOB_DO_FAIL);
	ck_assert_ptr_nonnull(strstr(a.message, "after 1050 passes"));
	ck_assert_ptr_nonnull(strstr(a.message, "nearly used up"));
}
END_TEST

START_TEST(test_service_waits_between_passes)
{
	struct job_action a;

	c.until_done = false;
	to_read_job();
	a = read_job((struct job_row){ .state = JOB_IDLE, .idle_for = 20 });
	ck_send(a, JOB_UNLOCK);
	a = plain(JOB_UNLOCK);
	ck_assert_int_eq(a.what, JOB_DO_WAIT);
	ck_assert_double_eq_tol(a.seconds, 40, 1e-9);
}
END_TEST

START_TEST(test_service_probe_tail)
{
	struct job_action a;

	c.until_done = false;
	c.probe_tail = true;
	to_read_job();
	a = read_job((struct job_row){ .state = JOB_IDLE, .idle_for = 61,
				       .has_hwm = true, .hwm = "500", .swept_ago = 10 });
	ck_send(a, JOB_PROBE);
	ck_assert(!a.sweep);
	ck_assert_str_eq(a.from, "500");
	/* Past the mark, nothing: stay idle, keep the max seen. */
	a = answer(JOB_PROBE, (struct job_answer){ .found = false, .max = "700" });
	ck_send(a, JOB_STAY_IDLE);
	ck_assert(!a.sweep);
	ck_assert_str_eq(a.max, "700");
	ck_send(plain(JOB_STAY_IDLE), JOB_UNLOCK);
	a = plain(JOB_UNLOCK);
	ck_assert_int_eq(a.what, JOB_DO_WAIT);
	ck_assert(a.seconds == 60);
}
END_TEST

START_TEST(test_service_probe_finds)
{
	struct job_action a;
	const struct job_row idle = { .state = JOB_IDLE, .idle_for = 61,
				      .has_hwm = true, .hwm = "500", .swept_ago = 10 };

	c.until_done = false;
	c.probe_tail = true;
	to_read_job();
	read_job(idle);
	/* By key, a pass past the mark starts at the mark. */
	a = answer(JOB_PROBE, (struct job_answer){ .found = true, .max = "700" });
	ck_send(a, JOB_START_PASS);
	ck_assert_str_eq(a.from, "500");
	ck_assert_str_eq(a.max, "700");
	/* A sweep is due: the whole table, and the session settings after. */
	setup();
	c.until_done = false;
	c.probe_tail = true;
	to_read_job();
	{
		struct job_row due = idle;

		due.swept_ago = 4000;
		a = read_job(due);
	}
	ck_send(a, JOB_PROBE);
	ck_assert(a.sweep);
	ck_send(answer(JOB_PROBE, (struct job_answer){ .found = true }), JOB_PROBE_RESTORE);
	a = plain(JOB_PROBE_RESTORE);
	ck_send(a, JOB_START_PASS);
	ck_assert_ptr_null(a.from);
	ck_assert_ptr_null(a.max);
}
END_TEST

START_TEST(test_service_probe_tree_sweeps)
{
	struct job_action a;

	c.until_done = false;
	c.probe_tail = true;
	c.tree = true;
	to_read_job();
	a = read_job((struct job_row){ .state = JOB_IDLE, .idle_for = 61,
				       .has_hwm = true, .hwm = "500", .swept_ago = 10 });
	ck_send(a, JOB_PROBE);
	ck_assert(a.sweep);
	ck_send(answer(JOB_PROBE, (struct job_answer){ .found = false }), JOB_PROBE_RESTORE);
	a = plain(JOB_PROBE_RESTORE);
	ck_send(a, JOB_STAY_IDLE);
	ck_assert(a.sweep);
}
END_TEST

START_TEST(test_service_pass_end)
{
	struct job_action a;

	c.until_done = false;
	to_read_job();
	a = read_job(pass_over);
	ck_send(a, JOB_PASS_END);
	ck_assert_int_eq(a.pass_state, JOB_IDLE);
	ck_send(plain(JOB_PASS_END), JOB_UNLOCK);
	a = plain(JOB_UNLOCK);
	ck_assert_int_eq(a.what, JOB_DO_WAIT);
	ck_assert(a.seconds == 60);
}
END_TEST

START_TEST(test_service_stall_backs_off)
{
	struct job_action a;

	c.until_done = false;
	c.triggers = "t1";
	for (int i = 0; i < 2; i++) {
		job_pass_count(&p, 4, 0, 0, 4);
		to_read_job();
		ck_send(read_job(pass_over), JOB_PASS_END);
		plain(JOB_PASS_END);
		plain(JOB_UNLOCK);
		job_worker_init(&w, 1);
	}
	job_pass_count(&p, 4, 0, 0, 4);
	to_read_job();
	ck_send(read_job(pass_over), JOB_UNFILLED);
	/* Said once; the interval doubles. */
	ck_send(answer(JOB_UNFILLED, (struct job_answer){ .count = "4" }), JOB_UNFILLED_RESTORE);
	ck_assert(p.stall_logged);
	a = plain(JOB_UNFILLED_RESTORE);
	ck_assert_int_eq(a.pass_state, JOB_IDLE);
	plain(JOB_PASS_END);
	ck_assert_double_eq_tol(plain(JOB_UNLOCK).seconds, 120, 1e-9);
	/* Still stuck: no count of the table again, twice as long. */
	job_worker_init(&w, 1);
	job_pass_count(&p, 4, 0, 0, 4);
	to_read_job();
	ck_send(read_job(pass_over), JOB_PASS_END);
	plain(JOB_PASS_END);
	ck_assert_double_eq_tol(plain(JOB_UNLOCK).seconds, 240, 1e-9);
	/* Filling again: back to the interval. */
	job_worker_init(&w, 1);
	job_pass_count(&p, 4, 4, 0, 0);
	to_read_job();
	{
		struct job_row row = pass_over;

		row.pass_rows = 4;
		ck_send(read_job(row), JOB_PASS_END);
	}
	plain(JOB_PASS_END);
	ck_assert_double_eq_tol(plain(JOB_UNLOCK).seconds, 60, 1e-9);
	ck_assert(!p.stall_logged);
}
END_TEST

START_TEST(test_idle_wait_cap)
{
	p.stall_mult = 1e9;
	ck_assert_double_eq_tol(job_idle_wait(&p, &c), 3600, 1e-9);
	c.idle_interval = 7200;
	ck_assert_double_eq_tol(job_idle_wait(&p, &c), 7200, 1e-9);
}
END_TEST

START_TEST(test_impossible_answers)
{
	struct job_action a;

	/* Nothing asked yet. */
	a = plain(JOB_LIST);
	ck_assert_int_eq(a.what, JOB_DO_FAIL);
	ck_assert_ptr_nonnull(strstr(a.message, "internal error"));
	/* Waiting on LIST: any other answer is refused, for every step. */
	for (int s = JOB_UNASKED; s < JOB_NSTEPS; s++) {
		if (s == JOB_LIST)
			continue;
		job_worker_init(&w, 1);
		job_acquire(&w);
		a = plain((enum job_step)s);
		ck_assert_msg(a.what == JOB_DO_FAIL, "answer %s accepted while on list",
			      job_step_name((enum job_step)s));
		ck_assert_int_eq(w.step, JOB_FINISHED);
	}
	/* A working worker waits on no statement of the protocol. */
	job_worker_init(&w, 1);
	to_read_job();
	read_job((struct job_row){ .state = JOB_RUNNING, .next_lease = 1 });
	plain(JOB_BOUNDARY);
	answer(JOB_NEW_LEASE, (struct job_answer){ .locked = true });
	ck_assert_int_eq(plain(JOB_UNLOCK).what, JOB_DO_WORK);
	ck_assert_int_eq(plain(JOB_WORKING).what, JOB_DO_FAIL);
}
END_TEST

/* Ends at the action after the carve lock's release. */
static struct job_action switched(struct job_action a)
{
	ck_send(a, JOB_UNLOCK);
	ck_assert_int_eq(a.lease, 0); /* the carve lock goes first */
	return plain(JOB_UNLOCK);
}

START_TEST(test_pass_in_another_walk)
{
	struct job_action a;

	/* A key process meets a pass another process walks in physical order:
	 * it neither carves nor takes anything before switching to it. */
	c.own_by_key = true;
	to_read_job();
	a = switched(read_row((struct job_row){ .state = JOB_RUNNING, .by_key = false,
						 .next_lease = 3 }));
	ck_assert_int_eq(a.what, JOB_DO_SWITCH);
	ck_assert(!a.by_key);
	ck_assert_int_eq(w.step, JOB_UNASKED);
	/* Switched: the pass goes on in its walk, and ends in it. */
	c.by_key = false;
	to_read_job();
	ck_send(read_row((struct job_row){ .state = JOB_RUNNING, .by_key = false,
					   .next_lease = 3 }), JOB_CARVE);
	/* The same for a physical process meeting a pass by key, at its end too. */
	setup();
	c.by_key = c.own_by_key = false;
	to_read_job();
	a = switched(read_row((struct job_row){ .state = JOB_RUNNING, .by_key = true,
						 .frontier_done = true }));
	ck_assert_int_eq(a.what, JOB_DO_SWITCH);
	ck_assert(a.by_key);
}
END_TEST

START_TEST(test_own_walk_for_a_new_pass)
{
	struct job_action a;

	/* --until-done followed another's pass by key; its own next pass walks
	 * in physical order, as it chose. */
	c.by_key = true;
	c.own_by_key = false;
	to_read_job();
	a = switched(read_row((struct job_row){ .state = JOB_IDLE, .by_key = true }));
	ck_assert_int_eq(a.what, JOB_DO_SWITCH);
	ck_assert(!a.by_key);
	c.by_key = false;
	to_read_job();
	ck_send(read_row((struct job_row){ .state = JOB_IDLE, .by_key = true }),
		JOB_START_PASS);
	/* A service waits out its interval first, in whatever walk it has. */
	setup();
	c.until_done = false;
	c.own_by_key = false;
	to_read_job();
	a = switched(read_row((struct job_row){ .state = JOB_IDLE, .by_key = true,
						 .idle_for = 1 }));
	ck_assert_int_eq(a.what, JOB_DO_WAIT);
	to_read_job();
	a = switched(read_row((struct job_row){ .state = JOB_IDLE, .by_key = true,
						 .idle_for = 61 }));
	ck_assert_int_eq(a.what, JOB_DO_SWITCH);
	ck_assert(!a.by_key);
}
END_TEST

START_TEST(test_until_done_next_pass_in_own_walk)
{
	struct job_row row = pass_over;
	struct job_action a;

	/* An --until-done run by key followed another's pass in physical
	 * order to its end and found NULLs behind it: the pass it starts at
	 * once walks by key, as it chose, so the row records that walk and the
	 * next read of it switches this process back. */
	c.by_key = false;
	c.own_by_key = true;
	row.by_key = false;
	row.pass_rows = 10;
	to_read_job();
	read_row(row);
	answer(JOB_REMAINING, (struct job_answer){ .found = true });
	a = plain(JOB_RESTORE);
	ck_send(a, JOB_PASS_END);
	ck_assert_int_eq(a.pass_state, JOB_RUNNING);
	ck_assert(a.by_key);
	ck_send(plain(JOB_PASS_END), JOB_UNLOCK);
	ck_send(plain(JOB_UNLOCK), JOB_LIST);
	ck_send(plain(JOB_LIST), JOB_CARVE_LOCK);
	ck_send(answer(JOB_CARVE_LOCK, (struct job_answer){ .locked = true }), JOB_READ_JOB);
	a = switched(read_row((struct job_row){ .state = JOB_RUNNING, .by_key = true }));
	ck_assert_int_eq(a.what, JOB_DO_SWITCH);
	ck_assert(a.by_key);
}
END_TEST

START_TEST(test_reset_and_names)
{
	job_acquire(&w);
	job_reset(&w);
	ck_assert_int_eq(w.step, JOB_UNASKED);
	for (int s = JOB_UNASKED; s < JOB_NSTEPS; s++) {
		ck_assert_str_ne(job_step_name((enum job_step)s), "?");
		ck_assert_ptr_nonnull(job_step_doing((enum job_step)s));
	}
	ck_assert_str_eq(job_step_name(JOB_NSTEPS), "?");
	ck_assert_str_eq(job_step_doing(JOB_TAKE), "taking a lease");
}
END_TEST

START_TEST(test_pass_count)
{
	job_pass_count(&p, 10, 4, 3, 2);
	ck_assert_int_eq(p.skipped, 1);
	ck_assert_int_eq(p.clashed, 3);
	ck_assert_int_eq(p.left_null, 2);
	ck_assert_int_eq(p.rows_run, 4);
	job_pass_count(&p, 5, 5, 0, 0);
	ck_assert_int_eq(p.skipped, 1);
	ck_assert_int_eq(p.rows_run, 9);
}
END_TEST

static Suite *job_suite(void)
{
	Suite *s = suite_create("job");
	TCase *t = tcase_create("protocol");

	tcase_add_checked_fixture(t, setup, NULL);
	tcase_add_test(t, test_list_and_candidates);
	tcase_add_test(t, test_take);
	tcase_add_test(t, test_take_malformed_and_gone);
	tcase_add_test(t, test_lease_gone_in_a_batch);
	tcase_add_test(t, test_carve_lock_busy);
	tcase_add_test(t, test_carve_by_key);
	tcase_add_test(t, test_carve_lost_race);
	tcase_add_test(t, test_carve_physical);
	tcase_add_test(t, test_pass_in_another_walk);
	tcase_add_test(t, test_own_walk_for_a_new_pass);
	tcase_add_test(t, test_until_done_next_pass_in_own_walk);
	tcase_add_test(t, test_others_finish_their_leases);
	tcase_add_test(t, test_until_done_finishes);
	tcase_add_test(t, test_until_done_another_pass);
	tcase_add_test(t, test_until_done_empty_pass_waits);
	tcase_add_test(t, test_done_meanwhile);
	tcase_add_test(t, test_until_done_starts_a_pass);
	tcase_add_test(t, test_until_done_stalls);
	tcase_add_test(t, test_unfilled_meanwhile);
	tcase_add_test(t, test_skipped_without_trigger_is_not_stuck);
	tcase_add_test(t, test_clash_passes);
	tcase_add_test(t, test_service_waits_between_passes);
	tcase_add_test(t, test_service_probe_tail);
	tcase_add_test(t, test_service_probe_finds);
	tcase_add_test(t, test_service_probe_tree_sweeps);
	tcase_add_test(t, test_service_pass_end);
	tcase_add_test(t, test_service_stall_backs_off);
	tcase_add_test(t, test_idle_wait_cap);
	tcase_add_test(t, test_impossible_answers);
	tcase_add_test(t, test_reset_and_names);
	tcase_add_test(t, test_pass_count);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	SRunner *runner = srunner_create(job_suite());
	int failed;

	srunner_run_all(runner, CK_NORMAL);
	failed = srunner_ntests_failed(runner);
	srunner_free(runner);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
