#!/usr/bin/env bash
# progress_bar: on a terminal (a pseudo-terminal from script(1)) the progress
# is one line redrawn in place: "\r" redraws of a bar whose percentage grows
# to 100.0%, cut to the terminal's width, while log lines printed meanwhile
# (SIGUSR1's pause, SIGUSR2's resume, "done:") stay whole on the screen, and
# the last bar stays with the cursor on a fresh line. With stderr in a file
# the progress lines are today's; --progress, TERM=dumb and NO_COLOR choose.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

command -v script >/dev/null || fail "script(1) (util-linux, Debian's bsdutils) is needed"
command -v python3 >/dev/null || fail "python3 is needed to replay the terminal"

N=300000
COLS=100
pg_start

psqlf <<SQL
CREATE TABLE t (id bigint PRIMARY KEY, public_id text);
INSERT INTO t SELECT i, NULL FROM generate_series(1, $N) i;
CREATE TABLE t_file (id bigint PRIMARY KEY, public_id text);
INSERT INTO t_file SELECT i, NULL FROM generate_series(1, 60000) i;
SQL
for t in t_lines t_dumb t_nocolor t_forced; do
	psqlc "CREATE TABLE $t (id bigint PRIMARY KEY, public_id text);
	       INSERT INTO $t SELECT i, NULL FROM generate_series(1, 5000) i;"
done
psqlc "ANALYZE"

# on_tty OUTFILE ENV... -- ARGS...: runs the daemon with stdout and stderr
# on a fresh pseudo-terminal COLS columns wide, its environment plus ENV;
# the terminal's output goes to OUTFILE, the daemon's pid to $WORK/tty.pid.
# Returns the daemon's exit code (script -e passes it on).
on_tty() {
	local out=$1 envs=() cmd
	shift
	while [[ $1 != -- ]]; do
		envs+=("$1")
		shift
	done
	shift
	printf -v cmd '%q ' "$NB" --max-latency-increase 0 "$@"
	timeout -k 5 "$BF_TIMEOUT" env "${envs[@]}" script -q -e -c \
		"stty cols $COLS rows 40; echo \$\$ >$WORK/tty.pid; exec $cmd" /dev/null \
		>"$out" </dev/null
}

# 1. The bar, on a terminal, with log lines while it is shown.
rm -f "$WORK/tty.pid"
on_tty "$WORK/tty.out" TERM=xterm -- --table t --column public_id --until-done \
	--max-rate 120000 --progress-interval 1 &
TTY_JOB=$!
BG_PIDS+=("$TTY_JOB")
wait_for 20 "the daemon's pid" test -s "$WORK/tty.pid"
BF_PID=$(cat "$WORK/tty.pid")
BG_PIDS+=("$BF_PID")
wait_for 20 "a third of t filled" sql_true "SELECT count(public_id) > $((N / 3)) FROM t"
kill -USR1 "$BF_PID"
sleep 0.7
kill -USR2 "$BF_PID"
RC=0
wait "$TTY_JOB" || RC=$?
_forget_pid "$TTY_JOB"
_forget_pid "$BF_PID"
assert_eq "$RC" 0 "bar: exit 0 (script -e passes the daemon's code)"
assert_sql "SELECT count(*) FROM t WHERE public_id IS NULL" 0 "bar: no NULL left"
assert_sql "SELECT count(*) FROM t WHERE public_id ~ '$NB_DEFAULT_ID_RE'" "$N" "bar: all $N rows filled with ids"

# What the terminal received, read two ways: the redraws one by one, and the
# screen a terminal shows after them (\r to column 0, ESC[K erases to the
# end of the line, \n a new line, other bytes written over what is there).
python3 - "$WORK/tty.out" "$COLS" >"$WORK/tty.check" <<'PY' || true
import re, sys

data = open(sys.argv[1], "rb").read().decode("ascii", "replace")
cols = int(sys.argv[2])
problems = []

# Every redraw: "\r" then a bar, up to the erase.
bars = re.findall(r"\r(\[[#.]+\] +[0-9.]+%[^\r\n\x1b]*)\x1b\[K", data)
pcts = [float(re.match(r"\[[#.]+\] +([0-9.]+)%", b).group(1)) for b in bars]
print("redraws", len(bars))
print("distinct", len(set(pcts)))
print("nondecreasing", int(all(a <= b for a, b in zip(pcts, pcts[1:]))))
print("last", pcts[-1] if pcts else "none")
print("widest", max((len(b) for b in bars), default=0))
print("paused_bar", int(any("throttled: paused by SIGUSR1" in b for b in bars)))
for b in bars:
    m = re.match(r"\[(#*)(\.*)\] +([0-9.]+)%", b)
    # '#' then '.', as many '#' as the percentage says (within the
    # rounding of the printed percentage).
    if not m:
        problems.append("bar is not '#' then '.': " + b)
        continue
    filled, inner, pct = len(m.group(1)), len(m.group(1)) + len(m.group(2)), float(m.group(3))
    if abs(filled - inner * pct / 100) > 1:
        problems.append("bar does not match its percentage: " + b)

screen, row, col = [[]], 0, 0
i = 0
while i < len(data):
    c = data[i]
    if data.startswith("\x1b[K", i):
        del screen[row][col:]
        i += 3
        continue
    if c == "\r":
        col = 0
    elif c == "\n":
        row += 1
        col = 0
        if row == len(screen):
            screen.append([])
    elif c == "\x1b":
        problems.append("an escape other than ESC[K at byte %d: %r" % (i, data[i:i + 8]))
    else:
        line = screen[row]
        line.extend(" " * (col - len(line)))
        if col < len(line):
            line[col] = c
        else:
            line.append(c)
        col += 1
    i += 1
lines = ["".join(l) for l in screen]
print("ends_fresh", int(row == len(lines) - 1 and lines[-1] == "" and col == 0))
while lines and lines[-1] == "":
    lines.pop()
for l in lines[:-1]:
    if not l.startswith("nanoid-backfill: "):
        problems.append("screen line is not a whole log line: " + repr(l))
print("final", lines[-1] if lines else "")
for name, pat in (("log_job", r"^nanoid-backfill: info: job .*about \d+ rows to fill$"),
                  ("log_paused", r"^nanoid-backfill: info: paused by SIGUSR1; SIGUSR2 resumes$"),
                  ("log_resumed", r"^nanoid-backfill: info: resumed by SIGUSR2$"),
                  ("log_done", r"^nanoid-backfill: info: done: no NULL left in .* rows filled by this run in .*, \d+ in all$")):
    print(name, sum(1 for l in lines if re.match(pat, l)))
print("progress_lines", sum(1 for l in lines if "info: progress:" in l))
for p in problems:
    print("problem", p)
PY
val() { awk -v k="$1" '$1 == k { sub(/^[^ ]+ /, ""); print; exit }' "$WORK/tty.check"; }
grep '^problem' "$WORK/tty.check" && fail "bar: the terminal's output has problems (above)"
pass "bar: every screen line but the last is a whole log line; each bar matches its percentage"
redraws=$(val redraws)
((redraws >= 5)) || fail "bar: $redraws redraws, want at least 5 in a run of 2-3 s (output: $(head -c 600 "$WORK/tty.out" | od -c | head -20))"
pass "bar: $redraws redraws, '\\r' + bar + ESC[K"
(($(val distinct) >= 4)) || fail "bar: only $(val distinct) distinct percentages"
assert_eq "$(val nondecreasing)" 1 "bar: the percentages never go down"
assert_eq "$(val last)" 100.0 "bar: the last redraw says 100.0%"
(($(val widest) <= COLS - 1)) || fail "bar: a redraw of $(val widest) columns on a $COLS-column terminal"
pass "bar: every redraw fits in $((COLS - 1)) columns (widest $(val widest))"
assert_eq "$(val paused_bar)" 1 "bar: says 'throttled: paused by SIGUSR1' while paused"
assert_match "$(val final)" '^\[#+\] 100\.0%  300000 rows  [0-9]+ rows/s  done$' "bar: the last state stays on the screen"
assert_eq "$(val ends_fresh)" 1 "bar: the cursor ends on a fresh line"
for k in log_job log_paused log_resumed log_done; do
	assert_eq "$(val $k)" 1 "bar: the $k line is whole on the screen"
done
assert_eq "$(val progress_lines)" 0 "bar: no 'progress:' log lines on a terminal"

# 2. stderr in a file, on the same terminal type: today's lines, byte for byte
# in form, and nothing of the bar.
export TERM=xterm
run_bf --table t_file --column public_id --until-done --max-rate 40000 --progress-interval 0.5
unset TERM
assert_eq "$RC" 0 "file: exit 0"
assert_sql "SELECT count(*) FROM t_file WHERE public_id IS NULL" 0 "file: no NULL left"
# A line at or past the estimate (the last rows) has the counts only.
LINE_RE='^nanoid-backfill: info: progress: [0-9]+ rows filled( \([0-9]+\.[0-9]% of ~60000\))?, [0-9]+ rows/s(, ETA [0-9]+:[0-9]{2}:[0-9]{2})?(; throttled: max-rate 40000 rows/s)?$'
nlines=$(grep -c 'progress: ' "$ERR" || true)
((nlines >= 2)) || fail "file: $nlines progress lines in 1.5 s at --progress-interval 0.5, want 2 or more"
assert_eq "$(grep -Ec "$LINE_RE" "$ERR" || true)" "$nlines" "file: all $nlines progress lines as before"
(($(grep -c '% of ~60000), ' "$ERR" || true) >= 1)) && pass "file: the lines before the end say the percentage" \
	|| fail "file: no progress line with the percentage"
if grep -q $'\r\|\033' "$ERR" || grep -q '\[#\|\[\.' "$ERR"; then
	fail "file: bar text in stderr: $(grep -m1 $'\r\|\033\|\\[#' "$ERR" | od -c | head -3)"
fi
pass "file: no carriage return, escape or bar in stderr"
assert_file_match "$ERR" '^nanoid-backfill: info: done: no NULL left' "file: the done line"

# 3. What chooses: --progress lines on a terminal, TERM=dumb, NO_COLOR (lines);
# --progress bar into a file (a bar).
tty_lines() {
	local t=$1
	shift
	RC=0
	on_tty "$WORK/$t.out" "$@" --table "$t" --column public_id --until-done \
		--progress-interval 0.1 --max-rate 20000 || RC=$?
	assert_eq "$RC" 0 "$t: exit 0"
	if grep -q $'\033\[K' "$WORK/$t.out" || grep -q '\[#' "$WORK/$t.out"; then
		fail "$t: a bar on the terminal: $(head -c 300 "$WORK/$t.out" | od -c | head -5)"
	fi
	assert_file_match "$WORK/$t.out" 'info: progress: [0-9]+ rows filled' "$t: progress lines instead"
}
tty_lines t_lines TERM=xterm -- --progress lines
tty_lines t_dumb TERM=dumb --
tty_lines t_nocolor TERM=xterm NO_COLOR=1 --

run_bf --table t_forced --column public_id --until-done --progress bar
assert_eq "$RC" 0 "forced: exit 0"
assert_file_match "$ERR" $'\r\\[#+\\] 100\\.0%  5000 rows  [0-9]+ rows/s  done\033\\[K$' \
	"forced: --progress bar draws the bar into a file too, the last at 100.0%"
assert_eq "$(tail -c 1 "$ERR" | od -An -c | tr -d ' ')" '\n' "forced: stderr ends with a newline"

# 4. A bad value: one line, exit 78 (config), nothing written.
run_bf --table t_forced --column public_id --progress sometimes
assert_eq "$RC" 78 "--progress sometimes: exit 78"
assert_eq "$(grep -c '' "$ERR")" 1 "--progress sometimes: one stderr line"
assert_file_match "$ERR" "${NB_ERR_RE}--progress: 'sometimes' is not auto, bar or lines$" \
	"--progress sometimes: says what is allowed"
"$NB" --help >"$WORK/help.out"
grep -Eq -- '--progress auto\|bar\|lines' "$WORK/help.out" || fail "--help does not list --progress"
pass "--help lists --progress auto|bar|lines"

finish
