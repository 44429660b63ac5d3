/*
 * idspace.h - how many distinct ids a format has, and what the birthday
 * bound says about giving them to a table's rows.
 *
 * Pure arithmetic, no I/O. n random ids drawn from a space of S:
 *   p(any two equal)      = 1 - prod_{i<n} (1 - i/S)
 *                         ~ 1 - exp(-n(n-1) / 2S)
 *   draws a unique index rejects while n distinct ids are found
 *                         = S (H(S) - H(S-n)) - n ~ n(n-1) / 2S for n << S
 * Both are the exact values (not the approximations), computed without
 * cancellation for spaces up to 256^255 (10^614, past a double's range:
 * the space is only ever handled as its log10) and any n: a sum where n
 * is small, Stirling's and the harmonic numbers' expansions around n/S
 * otherwise.
 *
 * A count n is taken as a whole number (its fraction dropped: a row
 * estimate may have one); n < 2 gives 0 everywhere. Where the space is
 * below 2^53 it is an exact integer (alphabet^size): 10^log10_ids is
 * rounded back to it, so "64 ids" really is 64.
 */
#ifndef NB_IDSPACE_H
#define NB_IDSPACE_H

#include <stdbool.h>
#include <stddef.h>

/* p(collision) at or above this is "likely": a table must not risk it
 * without a unique index (or --allow-duplicates). */
#define IDSPACE_P_LIKELY 1e-6

/* The count the format alone is described at (--check-config, plan). */
#define IDSPACE_SAMPLE_IDS 1e9

/* log10 of the number of distinct ids: size * log10(alphabet_len). */
double idspace_log10(unsigned alphabet_len, long size);

/* p(at least two of n ids are equal) in a space of 10^log10_ids; 1 if n
 * exceeds the space. Below ~1e-308 it underflows to 0 (describe does
 * not: it works with the logarithm there). */
double idspace_p_collision(double log10_ids, double n);

/*
 * Expected ids a unique index rejects (each a retry) while n distinct ids
 * are drawn; INFINITY if n exceeds the space.
 */
double idspace_expected_collisions(double log10_ids, double n);

/*
 * "1e+09 ids: p(collision) ~ 5.9e-21", for n ids: n as a grouped integer
 * below 10^7 ("100,000 ids"), else %.3g; p to two significant digits,
 * however small ("~ 5e-591" in a space of 10^614); "= 0" for n < 2 and
 * "= 1" when n exceeds the space. Always NUL-terminated.
 */
void idspace_describe(char *buf, size_t len, double log10_ids, double n);

/*
 * The number of distinct ids, for a line: the exact integer, grouped,
 * below 10^15 ("262,144"), else "10^37.9". Always NUL-terminated.
 */
void idspace_space(char *buf, size_t len, double log10_ids);

/*
 * The format in one line, as --check-config and plan show it:
 * "21 symbols of 64 (10^37.9 distinct ids); 1e+09 ids: p(collision) ~
 * 5.9e-21", then, where rows >= 2, "; for the table's rows, 100,000 ids:
 * p(collision) ~ ...". Always NUL-terminated.
 */
void idspace_summary(char *buf, size_t len, unsigned alphabet_len, long size,
		     double rows);

enum idspace_verdict {
	IDSPACE_OK,        /* nothing to say */
	IDSPACE_WARN,      /* proceed, with the line as a warning */
	IDSPACE_REFUSE,    /* configuration error (78), the line says why */
};

/*
 * The rule for filling a column that will hold rows ids (every row of the
 * table, filled or not) drawn from a space of 10^log10_ids:
 *   rows < 0 (not known)           ok: there is nothing to judge by;
 *   rows < 2                       ok: nothing can collide;
 *   rows > space                   refuse: the ids cannot be unique;
 *   p < IDSPACE_P_LIKELY           ok;
 *   unique (an index rejects a repeated id on the whole target)
 *                                  warn with the expected collisions;
 *   else, allow_duplicates         warn that duplicates are likely;
 *   else                           refuse, naming --allow-duplicates.
 * (The smallest valid space, 2^1, holds two ids, so an unknown row count
 * is never a certain refusal.)
 * line gets one sentence for WARN and REFUSE, with the numbers (rows, the
 * space, p or the expected rejections) and what to do; "" for OK. Always
 * NUL-terminated.
 */
enum idspace_verdict idspace_judge(double log10_ids, double rows, bool unique,
				   bool allow_duplicates, char *line, size_t len);

#endif
