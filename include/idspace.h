/*
 * idspace.h - how many distinct ids a format has, and what the birthday
 * bound says about giving them to a table's rows.
 *
 * Pure arithmetic, no I/O. n random ids drawn from a space of S:
 *   p(any two equal)      = 1 - exp(-n(n-1) / 2S)
 *   draws a unique index rejects while n distinct ids are found
 *                         = S (H(S) - H(S-n)) - n ~ n^2 / 2S for n << S
 * Both are computed without cancellation for spaces up to 256^255.
 */
#ifndef NB_IDSPACE_H
#define NB_IDSPACE_H

#include <stdbool.h>
#include <stddef.h>

/* p(collision) at or above this is "likely": a table must not risk it
 * without a unique index (or --allow-duplicates). */
#define IDSPACE_P_LIKELY 1e-6

/* log10 of the number of distinct ids: size * log10(alphabet_len). */
double idspace_log10(unsigned alphabet_len, long size);

/* p(at least two of n ids are equal) in a space of 10^log10_ids. */
double idspace_p_collision(double log10_ids, double n);

/*
 * Expected ids a unique index rejects (each a retry) while n distinct ids
 * are drawn; INFINITY if n exceeds the space.
 */
double idspace_expected_collisions(double log10_ids, double n);

/* "1e+09 ids: p(collision) ~ 5.9e-21", for n ids. */
void idspace_describe(char *buf, size_t len, double log10_ids, double n);

enum idspace_verdict {
	IDSPACE_OK,        /* nothing to say */
	IDSPACE_WARN,      /* proceed, with the line as a warning */
	IDSPACE_REFUSE,    /* configuration error (78), the line says why */
};

/*
 * The rule for filling a column that will hold rows ids (every row of the
 * table, filled or not) drawn from a space of 10^log10_ids:
 *   rows > space                   refuse: the ids cannot be unique;
 *   p < IDSPACE_P_LIKELY           ok;
 *   unique (an index rejects a repeated id on the whole target)
 *                                  warn with the expected collisions;
 *   else, allow_duplicates         warn that duplicates are likely;
 *   else                           refuse, naming --allow-duplicates.
 * line gets one sentence for WARN and REFUSE, "" for OK.
 */
enum idspace_verdict idspace_judge(double log10_ids, double rows, bool unique,
				   bool allow_duplicates, char *line, size_t len);

#endif
