/*
 * bar.c - the progress bar's mode and its line (see bar.h).
 */
#include "bar.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define BAR_MIN_INNER 5         /* a narrower bar says nothing */
#define BAR_NOTE_MIN 6          /* "  " and at least "x..." of a note */

bool bar_setting_valid(const char *name)
{
	return name != NULL && (strcmp(name, "auto") == 0 || strcmp(name, "bar") == 0 ||
				strcmp(name, "lines") == 0);
}

enum bar_mode bar_mode_choose(const char *setting, bool tty, const char *term,
			      const char *no_color)
{
	if (strcmp(setting, "bar") == 0)
		return BAR_BAR;
	if (strcmp(setting, "lines") == 0)
		return BAR_LINES;
	/* A terminal that cannot move the cursor (dumb, or of no known type)
	 * would show every redraw; NO_COLOR asks for plain output. */
	if (!tty || term == NULL || *term == '\0' || strcmp(term, "dumb") == 0)
		return BAR_LINES;
	if (no_color != NULL && *no_color != '\0')
		return BAR_LINES;
	return BAR_BAR;
}

static int clamp_int(int x, int lo, int hi)
{
	return x < lo ? lo : x > hi ? hi : x;
}

/* "  ETA h:mm:ss", or "" if eta is unknown. */
static void format_eta(char *out, size_t len, double eta)
{
	long secs;

	out[0] = '\0';
	if (!(eta >= 0) || !isfinite(eta))
		return;
	if (eta > 3599999.0)
		eta = 3599999.0;        /* 999:59:59: lround stays defined */
	secs = lround(eta);
	snprintf(out, len, "  ETA %ld:%02ld:%02ld", secs / 3600, secs / 60 % 60, secs % 60);
}

size_t bar_line(char *buf, size_t len, const struct bar_view *v, int width)
{
	/* Counts and note are built whole, then cut to the line; info has room
	 * for any double gcc can imagine. */
	char info[800], note[BAR_MAX_WIDTH + 3], line[BAR_MAX_WIDTH + 900];
	char eta[48];
	bool known = v->done || (v->total > 0 && (double)v->rows < v->total);
	double rate = isfinite(v->rate) && v->rate > 0 ? v->rate : 0;
	double frac = 0;
	int avail, ilen, nlen = 0, inner = 0, used = 0;

	if (len == 0)
		return 0;
	buf[0] = '\0';
	if (width < 2)
		return 0;
	avail = (width > BAR_MAX_WIDTH ? BAR_MAX_WIDTH : width) - 1;
	if ((size_t)avail > len - 1)
		avail = (int)(len - 1);

	if (known) {
		double pct;

		frac = v->done ? 1.0 : (double)v->rows / v->total;
		if (frac < 0)
			frac = 0;
		/* Never 100.0% while rows are left: rounding must not say done. */
		pct = v->done ? 100.0 : fmin(99.9, 100.0 * frac);
		if (v->done)
			snprintf(eta, sizeof eta, "  done");
		else
			format_eta(eta, sizeof eta, v->eta);
		snprintf(info, sizeof info, "%5.1f%%  %lld rows  %.0f rows/s%s", pct, v->rows,
			 rate, eta);
	} else {
		snprintf(info, sizeof info, "%lld rows  %.0f rows/s", v->rows, rate);
	}
	ilen = (int)strlen(info);

	if (v->note != NULL && *v->note != '\0') {
		const unsigned char *p = (const unsigned char *)v->note;

		note[nlen++] = ' ';
		note[nlen++] = ' ';
		/* One column per byte: control bytes would move the cursor, and
		 * UTF-8 would be counted wrong and could be cut mid-character. */
		for (; *p != '\0' && nlen < (int)sizeof note - 1; p++)
			note[nlen++] = *p >= 0x20 && *p < 0x7f ? (char)*p : '?';
		note[nlen] = '\0';
	}

	if (known) {
		int rest = avail - ilen - 3;    /* "[", "] " */
		/* Of the width and the note's presence only, not of its length or
		 * the counts' digits: a bar that changed size at every redraw
		 * would look like progress going back and forth. */
		int want = nlen > 0 ? clamp_int(avail / 8, 10, 20) : clamp_int(avail / 4, 10, 40);

		if (want > rest)
			want = rest;
		inner = want >= BAR_MIN_INNER ? want : 0;
	}
	if (inner > 0) {
		int fill = v->done ? inner : (int)floor(frac * inner);

		if (fill > inner)
			fill = inner;
		line[used++] = '[';
		for (int i = 0; i < inner; i++)
			line[used++] = i < fill ? '#' : '.';
		line[used++] = ']';
		line[used++] = ' ';
	}
	memcpy(line + used, info, (size_t)ilen);
	used += ilen;
	if (nlen > 0) {
		int room = avail - used;

		if (nlen <= room) {
			memcpy(line + used, note, (size_t)nlen);
			used += nlen;
		} else if (room >= BAR_NOTE_MIN) {
			memcpy(line + used, note, (size_t)(room - 3));
			memcpy(line + used + room - 3, "...", 3);
			used += room;
		}
	}
	if (used > avail)
		used = avail;   /* a terminal too narrow for the counts */
	memcpy(buf, line, (size_t)used);
	buf[used] = '\0';
	return (size_t)used;
}
