/*
 * idspace.c - the birthday bound for a format (see idspace.h).
 *
 * Three regimes, each where it is exact to double precision:
 *   n small (DIRECT_N)      the defining sums, term by term;
 *   n large, far from S     expansions in u = n/S of Stirling's series
 *                           (p) and of the harmonic numbers (rejections),
 *                           with the first-order term written as
 *                           n(n-1)/2S so nothing cancels however small u;
 *   n large, close to S     p is 1 to double precision; rejections from
 *                           H(S) (asymptotic) and H(S-n) (a short sum).
 */
#include "idspace.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Up to this many ids the sums are summed: cheap, and exact for the tiny
 * spaces (64^1, 64^3) where the expansions would need many terms. */
#define DIRECT_N 4096.0

/* The largest double below which every integer is exact. */
#define EXACT_LIMIT 9007199254740992.0      /* 2^53 */

/* Euler-Mascheroni. */
#define EULER_GAMMA 0.57721566490153286061

double idspace_log10(unsigned alphabet_len, long size)
{
	if (alphabet_len < 1 || size < 0)
		return 0.0;
	return (double)size * log10((double)alphabet_len);
}

/* A count as a whole number: fraction dropped, negative (unknown) as 0. */
static double whole(double n)
{
	return n > 0.0 ? floor(n) : 0.0;
}

/* The space as a number: alphabet^size is an integer, and 10^log10 lands
 * within a rounding error of it while it is exactly representable. May be
 * INFINITY past 10^308; the callers only divide by it then. */
static double space(double log10_ids)
{
	double s = pow(10.0, log10_ids), r;

	if (s < EXACT_LIMIT) {
		r = nearbyint(s);
		if (fabs(s - r) <= 1e-9 * s)
			return r;
	}
	return s;
}

/* log10 of n(n-1)/2S, the first-order term of both quantities; finite
 * for any space (the space is never formed). n >= 2. */
static double log10_first_order(double log10_ids, double n)
{
	return log10(n) + log10(n - 1.0) - log10(2.0) - log10_ids;
}

/*
 * ln P(n ids all distinct) = ln prod_{i<n} (1 - i/S), for 2 <= n <= S.
 * Where it is below -800 the true value is lower still (ln(1 - t) <= -t
 * term by term), and p is 1 to double precision either way.
 */
static double log_all_distinct(double log10_ids, double s, double n)
{
	double x = pow(10.0, log10_first_order(log10_ids, n));
	double u, a, b, term, uk;

	if (x > 800.0)
		return -x;
	if (n <= DIRECT_N) {
		double sum = 0.0;

		for (double i = 1.0; i < n; i += 1.0)
			sum += log1p(-i / s);
		return sum;
	}
	/*
	 * lnG(S+1) - lnG(S-n+1) - n ln S by Stirling's series, with
	 * m = S - n = S(1 - u):
	 *   = -(m + 1/2) ln(1 - u) - n + 1/12S - 1/12m + O(1/m^3)
	 *   = -x - n A + B/2 - u^2 / (12 n (1 - u))
	 * with A = sum_{k>=3} u^(k-1) / (k(k-1)), B = sum_{k>=2} u^k / k.
	 * Here x <= 800 and n > DIRECT_N, so u = 2x/(n-1) < 0.4: the series
	 * converge fast. The 1/m^3 terms are below 1e-20 of the result.
	 */
	u = isfinite(s) ? n / s : n * pow(10.0, -log10_ids);
	a = 0.0;
	b = 0.0;
	uk = u;                         /* u^(k-1) */
	for (int k = 2; k < 200; k++) {
		double ukk = uk * u;    /* u^k */

		if (k >= 3) {
			term = uk / ((double)k * (double)(k - 1));
			a += term;
		}
		term = ukk / (double)k;
		b += term;
		if (term <= 1e-18 * b && k >= 3)
			break;
		uk = ukk;
	}
	return -x - n * a + 0.5 * b - u * u / (12.0 * n * (1.0 - u));
}

double idspace_p_collision(double log10_ids, double n)
{
	double s, p;

	n = whole(n);
	if (n < 2.0)
		return 0.0;
	s = space(log10_ids);
	if (n > s)
		return 1.0;
	p = -expm1(log_all_distinct(log10_ids, s, n));
	return p > 0.0 ? p : 0.0;      /* no -0 where it underflows */
}

/* H(k) for a whole k >= 0: summed up to DIRECT_N, asymptotic above (the
 * first omitted term, 1/240k^8, is below 1e-31 there). */
static double harmonic(double k)
{
	double sum = 0.0, k2;

	if (k <= DIRECT_N) {
		/* Smallest terms first. */
		for (double i = k; i >= 1.0; i -= 1.0)
			sum += 1.0 / i;
		return sum;
	}
	k2 = k * k;
	return log(k) + EULER_GAMMA + 1.0 / (2.0 * k) - 1.0 / (12.0 * k2) +
	       1.0 / (120.0 * k2 * k2) - 1.0 / (252.0 * k2 * k2 * k2);
}

double idspace_expected_collisions(double log10_ids, double n)
{
	double s, m, u, inv_s, lq, h, uk, term;

	n = whole(n);
	if (n < 2.0)
		return 0.0;
	s = space(log10_ids);
	if (n > s)
		return INFINITY;
	if (n <= DIRECT_N) {
		/* sum_{i<n} S/(S-i) - n = sum_{i<n} i/(S-i) */
		double sum = 0.0;

		for (double i = 1.0; i < n; i += 1.0)
			sum += i / (s - i);
		return sum;
	}
	m = s - n;
	if (m < 100.0) {
		/* Nearly the whole space: S ln(S/m) dwarfs n, nothing cancels. */
		return s * (harmonic(s) - harmonic(floor(m))) - n;
	}
	/*
	 * H(S) - H(m) = ln(S/m) + 1/2S - 1/2m - 1/12S^2 + 1/12m^2
	 *               + 1/120S^4 - 1/120m^4 - ..., and S ln(S/m) - n
	 * = S h(u), h(u) = -ln(1-u) - u = sum_{k>=2} u^k/k. Times S:
	 *   S h(u) - u/2(1-u) + ((1-u)^-2 - 1)/12S - ((1-u)^-4 - 1)/120S^3
	 *   + ((1-u)^-6 - 1)/252S^5; the error is far below 1e-15 of the
	 * result for m >= 100.
	 */
	u = isfinite(s) ? n / s : n * pow(10.0, -log10_ids);
	inv_s = isfinite(s) ? 1.0 / s : pow(10.0, -log10_ids);
	lq = -log1p(-u);                /* -ln(1 - u) */
	if (u < 0.5) {
		/* S h(u) = n sum_{k>=2} u^(k-1)/k: no cancellation, no S. */
		h = 0.0;
		uk = u;
		for (int k = 2; k < 200; k++) {
			term = uk / (double)k;
			h += term;
			if (term <= 1e-18 * h)
				break;
			uk *= u;
		}
		h *= n;
	} else {
		h = s * (lq - u);       /* loses at most a digit here */
	}
	return h - 0.5 * u / (1.0 - u) + expm1(2.0 * lq) * inv_s / 12.0 -
	       expm1(4.0 * lq) * inv_s * inv_s * inv_s / 120.0 +
	       expm1(6.0 * lq) * pow(inv_s, 5.0) / 252.0;
}

/* ---- formatting ------------------------------------------------------ */

/* A whole number with thousands separators: "262,144"; from 10^15 on,
 * where a double stops being exact, "%.3g". */
static void grouped(char *buf, size_t len, double n)
{
	char digits[24], out[32];
	size_t nd, o = 0;

	if (!(n < 1e15)) {
		snprintf(buf, len, "%.3g", n);
		return;
	}
	snprintf(digits, sizeof digits, "%llu", (unsigned long long)n);
	nd = strlen(digits);
	for (size_t i = 0; i < nd; i++) {
		if (i > 0 && (nd - i) % 3 == 0)
			out[o++] = ',';
		out[o++] = digits[i];
	}
	out[o] = '\0';
	snprintf(buf, len, "%s", out);
}

/* A count: grouped below 10^7, "1e+09" above. */
static void count(char *buf, size_t len, double n)
{
	if (n < 1e7)
		grouped(buf, len, n);
	else
		snprintf(buf, len, "%.3g", n);
}

/* An estimate: two significant digits ("26,000", "2.5", "0.0029",
 * "2.6e+07"). */
static void approx(char *buf, size_t len, double v)
{
	double scale;

	if (v >= 10.0 && v < 1e7) {
		scale = pow(10.0, floor(log10(v)) - 1.0);
		grouped(buf, len, nearbyint(v / scale) * scale);
	} else {
		snprintf(buf, len, "%.2g", v);
	}
}

/* 10^e as "%.2g" would print it, for e below a double's range. */
static void sci_from_log10(char *buf, size_t len, double e)
{
	double ex = floor(e), mant = pow(10.0, e - ex);
	char m[16];

	snprintf(m, sizeof m, "%.2g", mant);
	if (strcmp(m, "10") == 0) {
		snprintf(m, sizeof m, "1");
		ex += 1.0;
	}
	snprintf(buf, len, "%se%c%02d", m, ex < 0 ? '-' : '+', abs((int)ex));
}

/* p for n ids to two significant digits ("5.9e-21", "0.39", "1"); n >= 2,
 * n within the space. Below 1e-30 p equals n(n-1)/2S to far better than
 * two digits, and that is computed as a logarithm: no underflow. */
static void format_p(char *buf, size_t len, double log10_ids, double n)
{
	double e = log10_first_order(log10_ids, n);

	if (e < -30.0)
		sci_from_log10(buf, len, e);
	else
		snprintf(buf, len, "%.2g", idspace_p_collision(log10_ids, n));
}

void idspace_space(char *buf, size_t len, double log10_ids)
{
	double s = space(log10_ids);

	if (s < 1e15 && s == nearbyint(s))
		grouped(buf, len, s);
	else
		snprintf(buf, len, "10^%.1f", log10_ids);
}

void idspace_describe(char *buf, size_t len, double log10_ids, double n)
{
	char ids[48], p[48];

	n = whole(n);
	count(ids, sizeof ids, n);
	if (n < 2.0)
		snprintf(buf, len, "%s id%s: p(collision) = 0", ids,
			 n == 1.0 ? "" : "s");
	else if (n > space(log10_ids))
		snprintf(buf, len, "%s ids: p(collision) = 1", ids);
	else {
		format_p(p, sizeof p, log10_ids, n);
		snprintf(buf, len, "%s ids: p(collision) ~ %s", ids, p);
	}
}

void idspace_summary(char *buf, size_t len, unsigned alphabet_len, long size,
		     double rows)
{
	double l = idspace_log10(alphabet_len, size);
	char space_txt[48], sample[128], mine[160];

	idspace_space(space_txt, sizeof space_txt, l);
	idspace_describe(sample, sizeof sample, l, IDSPACE_SAMPLE_IDS);
	mine[0] = '\0';
	if (rows >= 2.0) {
		char d[128];

		idspace_describe(d, sizeof d, l, rows);
		snprintf(mine, sizeof mine, "; for the table's rows, %s", d);
	}
	snprintf(buf, len, "%ld symbols of %u (%s distinct ids); %s%s", size,
		 alphabet_len, space_txt, sample, mine);
}

enum idspace_verdict idspace_judge(double log10_ids, double rows, bool unique,
				   bool allow_duplicates, char *line, size_t len)
{
	char nrows[48], space_txt[48], p_txt[48], e_txt[48];
	double p, e;
	const char *how;

	if (len > 0)
		line[0] = '\0';
	if (rows < 0.0)
		return IDSPACE_OK;
	rows = whole(rows);
	if (rows < 2.0)
		return IDSPACE_OK;
	grouped(nrows, sizeof nrows, rows);
	idspace_space(space_txt, sizeof space_txt, log10_ids);
	if (rows > space(log10_ids)) {
		snprintf(line, len, "%s distinct ids cannot give %s rows unique "
			 "ids; use a larger --size or --alphabet", space_txt, nrows);
		return IDSPACE_REFUSE;
	}
	p = idspace_p_collision(log10_ids, rows);
	if (p < IDSPACE_P_LIKELY)
		return IDSPACE_OK;
	format_p(p_txt, sizeof p_txt, log10_ids, rows);
	if (unique) {
		e = idspace_expected_collisions(log10_ids, rows);
		approx(e_txt, sizeof e_txt, e);
		if (e >= 1.0)
			snprintf(line, len, "a unique index will reject about %s "
				 "generated id%s over %s rows (%s distinct ids); each "
				 "one makes its batch start again with new ids",
				 e_txt, strcmp(e_txt, "1") == 0 ? "" : "s", nrows,
				 space_txt);
		else
			snprintf(line, len, "a unique index may reject a generated "
				 "id: p(collision) ~ %s over %s rows (%s distinct ids); "
				 "its batch then starts again with new ids", p_txt,
				 nrows, space_txt);
		return IDSPACE_WARN;
	}
	how = p >= 0.5 ? "likely" : "possible";
	if (allow_duplicates) {
		snprintf(line, len, "duplicates are %s: p(collision) ~ %s over %s "
			 "rows with %s distinct ids and no unique index on the "
			 "column; filling anyway (--allow-duplicates)", how, p_txt,
			 nrows, space_txt);
		return IDSPACE_WARN;
	}
	snprintf(line, len, "duplicates are %s: p(collision) ~ %s over %s rows "
		 "with %s distinct ids and no unique index on the column; use a "
		 "larger --size, create the unique index first, or pass "
		 "--allow-duplicates", how, p_txt, nrows, space_txt);
	return IDSPACE_REFUSE;
}
