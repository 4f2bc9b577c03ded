#!/usr/bin/env python3
"""Collect acrn-rs test results into one summary format.

    results.py guest LOG [--expect-end]   serial log of a test boot (scripts/init.sh output)
    results.py cargo LOG                  output of `cargo test`
    results.py unittest LOG               output of `python3 -m unittest -v`
    results.py sum FILE...                add up summaries written by the two above

Every subcommand prints one `FAIL <where>: <case>` line per failed case and ends with the line
`N passed, N failed` (`, N skipped` is appended when something was skipped).

guest: counts the test cases of each kselftest program (the nested `ok/not ok N name` lines of
its output, or its runner result line when it printed none), and fails the run on kernel splats
(WARNING, BUG, KASAN, lockdep, RCU, refcount, list corruption, kmemleak, Oops, panic ...) found in
console lines carrying the printk time prefix, also where that prefix interrupts a line of test
output. Exit status 0 iff nothing failed and something passed.

cargo: adds up the `test result:` lines; a compile error, or a failure without any result line,
counts as one failed case. sum: exit status 0 iff nothing failed.
"""

import argparse
import re
import sys
from collections import OrderedDict

# printk time prefix, "[   12.345678] ", optionally followed by a caller id ("[    T1] ").
KTIME = re.compile(r"\[\s*(\d+\.\d{6})\](?:\[\s*[TC]\d+\])? ?")

SPLAT = re.compile(
    r"\bWARNING:|\bBUG:|\bKASAN:|\bUBSAN:|\bOops\b|general protection fault|Kernel panic"
    r"|kernel BUG at|possible circular locking dependency|possible recursive locking detected"
    r"|inconsistent lock state|suspicious RCU usage|\bINFO: (?!lockdep is turned off)"
    r"|refcount_t:|list_add corruption|list_del corruption"
    r"|kmemleak: .*new suspected memory leaks"
)
KMEMLEAK_SPLAT = re.compile(r"kmemleak: .*new suspected memory leaks")
# Lines that close a report: the end-of-trace marker, the next report's "cut here" line, or a
# banner of '=' (KASAN and lockdep reports are framed by them).
REPORT_BREAK = re.compile(r"---\[ end |-+\[ cut here \]-+|^={20,}\s*$")
# Lines of one report are printed together; a longer silence means a new report.
REPORT_GAP = 1.0

OUTER = re.compile(r"^(ok|not ok) (\d+) selftests: (\S+): (\S+)(?:\s+#\s*(.*))?$")
HEADER = re.compile(r"^# selftests: (\S+): (\S+)\s*$")
NESTED = re.compile(r"^# (ok|not ok) (\d+)\b(.*)$")
DIRECTIVE = re.compile(r"^\s*(.*?)(?:\s*(?:^|(?<=\s))#\s*(.*))?$")
SUMMARY = re.compile(r"^(\d+) passed, (\d+) failed(?:, (\d+) skipped)?$")


# ---------------------------------------------------------------- common


def new_counts():
    return {"passed": 0, "failed": 0, "skipped": 0}


def summary_line(c):
    line = "%d passed, %d failed" % (c["passed"], c["failed"])
    if c["skipped"]:
        line += ", %d skipped" % c["skipped"]
    return line


def read_lines(path):
    with open(path, "rb") as f:
        data = f.read().decode("utf-8", "replace")
    return [l.rstrip("\r") for l in data.replace("\r\n", "\n").split("\n")]


# ---------------------------------------------------------------- guest log


def split_console(lines):
    """Separate kernel console lines from test output.

    Yields ("kernel", seconds, message) and ("user", text). Lines before the first time prefix
    (or the first acrn-rs-tests: line) are early kernel output: printk.time=1 only takes effect
    once the command line is parsed. A printk line starting in the middle of a line of test
    output splits it: the text before the time prefix is joined with the next line without a
    prefix (the rest of the output line, printed after the kernel message), unless that line
    starts a line of its own (runner output, "# " test output).
    """
    pending = ""
    timed = False
    for line in lines:
        m = KTIME.search(line)
        timed = timed or m is not None or line.startswith("acrn-rs-tests: ")
        if not timed:
            yield ("kernel", 0.0, line)  # early boot, before printk.time=1 is parsed
            continue
        if m is None:
            if pending and starts_line(line):
                yield ("user", pending)
            else:
                line = pending + line
            yield ("user", line)
            pending = ""
            continue
        pending += line[: m.start()]
        yield ("kernel", float(m.group(1)), line[m.end():])
    if pending:
        yield ("user", pending)


def starts_line(text):
    """True for text that starts a line of its own: runner output or prefixed test output."""
    return text.startswith(("# ", "acrn-rs-tests: ")) or bool(OUTER.match(text))


def parse_nested(line):
    """`# ok 3 name # SKIP why` -> ("pass"|"fail"|"skip", name), or None."""
    m = NESTED.match(line)
    if not m:
        return None
    name, directive = DIRECTIVE.match(m.group(3)).groups()
    name = name or "#" + m.group(2)
    directive = (directive or "").upper()
    if directive.startswith("SKIP"):
        return ("skip", name)
    if m.group(1) == "ok" or directive.startswith(("TODO", "XFAIL")):
        return ("pass", name)
    return ("fail", name)


class Splats:
    """Groups the matching kernel lines of one report (WARNING + its trace, Oops + panic ...)."""

    def __init__(self):
        self.found = []  # (owner, text)
        self.seen = set()
        self.open = False
        self.last_ts = None
        self.last_splat_ts = None

    def feed(self, ts, msg, owner):
        gap = ts - self.last_ts if self.last_ts is not None else 0.0
        self.last_ts = ts
        if self.open and gap > REPORT_GAP:
            self.open = False
        if REPORT_BREAK.search(msg):
            self.open = False
            return
        if not SPLAT.search(msg):
            return
        key = (ts, msg)
        if key in self.seen:  # the same record again (dmesg printed by a test)
            return
        self.seen.add(key)
        follows = self.last_splat_ts is not None and ts - self.last_splat_ts <= REPORT_GAP
        self.last_splat_ts = ts
        if self.open or (follows and "Kernel panic" in msg):
            return
        self.open = True
        if KMEMLEAK_SPLAT.search(msg):
            owner = ("kernel", "kmemleak")
        self.found.append((owner, "kernel: " + msg.strip()))


def program_cases(prog):
    """[(status, case)] of one program from its nested results and its runner line."""
    cases = list(prog["nested"])
    outer = prog["outer"]
    if outer is None:
        cases.append(("fail", "no result: crashed, hung or timed out"))
        return cases
    status, directive = outer
    why = directive or "exit status non-zero"
    if not cases:
        if status == "ok":
            cases.append(("skip" if directive.upper().startswith("SKIP") else "pass", prog["name"]))
        else:
            cases.append(("fail", why))
    elif status == "not ok" and all(s != "fail" for s, _ in cases):
        cases.append(("fail", why))
    return cases


def parse_guest(lines):
    """Returns (programs, splats, events) from a serial log; programs keyed by (suite, prog)."""
    programs = OrderedDict()
    splats = Splats()
    ev = {"begin": False, "end": False, "kmemleak": 0, "errors": []}
    current = last = None
    for item in split_console(lines):
        if item[0] == "kernel":
            owner = current or last or ("kernel", "boot")
            splats.feed(item[1], item[2], owner)
            continue
        line = item[1]
        if line.startswith("acrn-rs-tests: "):
            word = line[len("acrn-rs-tests: "):].strip()
            if word == "begin":
                ev["begin"] = True
            elif word == "end":
                ev["end"] = True
            elif word.startswith("kmemleak:"):
                ev["kmemleak"] = int(re.sub(r"\D", "", word) or 0)
            elif word.startswith("error:"):
                ev["errors"].append(word)
            continue
        m = HEADER.match(line)
        if m:
            current = last = (m.group(1), m.group(2))
            programs[current] = {"name": m.group(2), "nested": [], "outer": None}
            continue
        m = OUTER.match(line)
        if m:
            key = (m.group(3), m.group(4))
            prog = programs.setdefault(key, {"name": key[1], "nested": [], "outer": None})
            prog["outer"] = (m.group(1), (m.group(5) or "").strip())
            current, last = None, key
            continue
        if current:
            nested = parse_nested(line)
            if nested:
                programs[current]["nested"].append(nested)
    return programs, splats, ev


def guest(path, expect_end):
    programs, splats, ev = parse_guest(read_lines(path))
    results = []  # (suite, prog, status, case)
    for (suite, prog), p in programs.items():
        results += [(suite, prog, s, c) for s, c in program_cases(p)]
    for (suite, prog), text in splats.found:
        results.append((suite, prog, "fail", text))
    if ev["kmemleak"] > 0 and not any(o == ("kernel", "kmemleak") for o, _ in splats.found):
        results.append(("kernel", "kmemleak", "fail", "kmemleak: %d unreferenced objects" % ev["kmemleak"]))
    for err in ev["errors"]:
        results.append(("guest", "run", "fail", err))
    if expect_end and not ev["begin"]:
        results.append(("guest", "run", "fail", "guest did not start the tests (no 'acrn-rs-tests: begin')"))
    if expect_end and not ev["end"]:
        results.append(("guest", "run", "fail", "guest did not finish: crash, hang or timeout"))
    return report(results)


def report(results):
    """Prints FAIL lines, per-suite lines and the total; returns the total counts."""
    total = new_counts()
    suites = OrderedDict()
    key = {"pass": "passed", "fail": "failed", "skip": "skipped"}
    for suite, prog, status, case in results:
        if status == "fail":
            print("FAIL %s/%s: %s" % (suite, prog, case))
        suites.setdefault(suite, new_counts())[key[status]] += 1
        total[key[status]] += 1
    for suite, c in suites.items():
        print("  %s: %s" % (suite, summary_line(c)))
    print(summary_line(total))
    return total


# ---------------------------------------------------------------- cargo log

CARGO_RESULT = re.compile(r"test result: (?:ok|FAILED)\. (\d+) passed; (\d+) failed; (\d+) ignored")
CARGO_FAILED_TEST = re.compile(r"^test (\S+) \.\.\. FAILED\s*$")
CARGO_COMPILE_ERROR = re.compile(r"^error(?:\[E\d+\])?: (?!test failed|\d+ targets? failed)")
CARGO_RUN_FAILED = re.compile(r"^error: (?:test failed|\d+ targets? failed)|\bFAILED\b")


def cargo(path):
    c = new_counts()
    failed_tests, compile_errors, run_failed = [], [], False
    for line in read_lines(path):
        m = CARGO_RESULT.search(line)
        if m:
            c["passed"] += int(m.group(1))
            c["failed"] += int(m.group(2))
            c["skipped"] += int(m.group(3))
            continue
        m = CARGO_FAILED_TEST.match(line)
        if m:
            failed_tests.append(m.group(1))
        elif CARGO_COMPILE_ERROR.match(line):
            compile_errors.append(line.strip())
        elif CARGO_RUN_FAILED.search(line):
            run_failed = True
    for name in failed_tests:
        print("FAIL cargo: %s" % name)
    if compile_errors:
        print("FAIL cargo: %s" % compile_errors[0])
        c["failed"] += 1
    elif c["failed"] == 0 and (failed_tests or run_failed):
        print("FAIL cargo: test run failed without a failing result line")
        c["failed"] = 1
    print(summary_line(c))
    return c


# ---------------------------------------------------------------- unittest

UNITTEST_RAN = re.compile(r"^Ran (\d+) tests? in ")
UNITTEST_STATUS = re.compile(r"^(OK|FAILED)(?: \((.*)\))?\s*$")
UNITTEST_FAIL_HEADER = re.compile(r"^(FAIL|ERROR|UNEXPECTED SUCCESS): (.+)$")


def unittest_log(path):
    """Counts of a `python3 -m unittest -v` run: from its `Ran N tests` and status lines."""
    c = new_counts()
    ran, status, details = None, None, {}
    for line in read_lines(path):
        m = UNITTEST_FAIL_HEADER.match(line)
        if m:
            print("FAIL unittest: %s" % m.group(2).strip())
            continue
        m = UNITTEST_RAN.match(line)
        if m:
            ran = int(m.group(1))
            continue
        m = UNITTEST_STATUS.match(line)
        if m and ran is not None:
            status = m.group(1)
            for item in (m.group(2) or "").split(","):
                key, _, value = item.strip().partition("=")
                if value.isdigit():
                    details[key] = int(value)
    if ran is None or status is None:
        print("FAIL unittest: no 'Ran N tests' and status lines: the run did not complete")
        c["failed"] = 1
    else:
        bad = details.get("failures", 0) + details.get("errors", 0)
        bad += details.get("unexpected successes", 0)
        c["skipped"] = details.get("skipped", 0)
        c["failed"] = bad if bad or status == "OK" else 1
        c["passed"] = ran - c["failed"] - c["skipped"]
        if ran == 0:
            print("FAIL unittest: no test ran")
            c["failed"] += 1
    print(summary_line(c))
    return c


# ---------------------------------------------------------------- sum


def last_summary(path):
    """Counts from the last non-empty line of a summary file, or None."""
    try:
        lines = [l for l in read_lines(path) if l.strip()]
    except OSError:
        return None
    m = SUMMARY.match(lines[-1].strip()) if lines else None
    if not m:
        return None
    return {"passed": int(m.group(1)), "failed": int(m.group(2)), "skipped": int(m.group(3) or 0)}


def sum_files(paths):
    total = new_counts()
    for path in paths:
        c = last_summary(path)
        if c is None:
            print("FAIL sum: %s: no 'N passed, N failed' summary line" % path)
            total["failed"] += 1
            continue
        print("  %s: %s" % (path, summary_line(c)))
        for k in total:
            total[k] += c[k]
    print(summary_line(total))
    return total


# ---------------------------------------------------------------- main


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("guest", help="serial log of a test boot")
    g.add_argument("log")
    g.add_argument("--expect-end", action="store_true",
                   help="fail unless the log has the begin and end markers")
    c = sub.add_parser("cargo", help="cargo test output")
    c.add_argument("log")
    u = sub.add_parser("unittest", help="python3 -m unittest -v output")
    u.add_argument("log")
    s = sub.add_parser("sum", help="add up summaries")
    s.add_argument("files", nargs="+")
    args = ap.parse_args(argv)
    if args.cmd == "guest":
        t = guest(args.log, args.expect_end)
        return 0 if t["failed"] == 0 and t["passed"] > 0 else 1
    if args.cmd == "cargo":
        t = cargo(args.log)
    elif args.cmd == "unittest":
        t = unittest_log(args.log)
    else:
        t = sum_files(args.files)
    return 0 if t["failed"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
