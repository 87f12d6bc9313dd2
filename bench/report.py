#!/usr/bin/python3
"""bench/report.py: runs one benchmark and puts its table into docs/benchmarks.md.

docs/benchmarks.md holds, per benchmark, a hand-written part (what it measures, its targets) and
a generated part between two markers:

  <!-- bench/NAME: generated, begin -->
  the line that says when, by which command, on which build and under which load
  the benchmark's own Markdown (what it printed on stdout)
  <!-- bench/NAME: generated, end -->

Usage:
  bench/report.py [--docs] NAME -- COMMAND [ARG...]
      Runs COMMAND from the repository's root (its stderr passes through; its stdout is its
      Markdown), prints the generated part, and with --docs replaces NAME's generated part in
      docs/benchmarks.md. A command that fails changes nothing.
  bench/report.py --list
      The names docs/benchmarks.md has generated parts for.

bench/all.sh runs every benchmark this way. A table is only ever written by its benchmark: to
change one, run the benchmark again.
"""

import datetime
import os
import re
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOC = os.path.join(ROOT, "docs", "benchmarks.md")
NAME = re.compile(r"^[a-z][a-z0-9-]*$")


def markers(name):
    """The begin and end markers of NAME's generated part."""
    return (f"<!-- bench/{name}: generated, begin -->", f"<!-- bench/{name}: generated, end -->")


def names(text):
    """The names of the generated parts in text, in order."""
    return re.findall(r"<!-- bench/([a-z0-9-]+): generated, begin -->", text)


def replace_part(text, name, body):
    """text with NAME's generated part replaced by body; ValueError if the markers are missing,
    out of order or doubled (the hand-written part that introduces a benchmark comes first)."""
    begin, end = markers(name)
    if text.count(begin) != 1 or text.count(end) != 1 or text.index(begin) > text.index(end):
        raise ValueError(f"{DOC}: expected one '{begin}' followed by one '{end}'")
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    return head + begin + "\n" + body.strip("\n") + "\n" + end + tail


def git_build():
    """The commit the benchmark ran on, marked when the tree had changes."""
    def git(*args):
        r = subprocess.run(["git", "-C", ROOT, *args], capture_output=True, text=True)
        return r.stdout.strip() if r.returncode == 0 else ""
    rev = git("rev-parse", "--short", "HEAD") or "unknown"
    # Changes to docs/ (this very file's tables among them) do not change what was measured.
    return rev + ("+changes" if git("status", "--porcelain", "--untracked-files=no", "--", ".", ":!docs") else "")


def load_average():
    with open("/proc/loadavg") as f:
        return f.read().split()[0]


def header(command, started, seconds, build, load_start, load_end):
    """The line that opens a generated part."""
    when = started.strftime("%Y-%m-%d %H:%M UTC")
    took = f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.0f} s"
    return (f"Generated {when} (took {took}) by `{command}` on build {build}, {os.cpu_count()} cores, "
            f"load average {load_start} at the start and {load_end} at the end.")


def quote(args):
    return " ".join(a if re.fullmatch(r"[\w./=,:+-]+", a) else "'" + a.replace("'", "'\\''") + "'" for a in args)


def run(name, command, docs):
    started = datetime.datetime.now(datetime.timezone.utc)
    load_start, t0, build = load_average(), time.monotonic(), git_build()
    r = subprocess.run(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    if r.returncode != 0:
        sys.stdout.write(r.stdout)
        sys.exit(f"bench/report.py: {quote(command)} exited with {r.returncode}; docs unchanged")
    if not r.stdout.strip():
        sys.exit(f"bench/report.py: {quote(command)} printed nothing; docs unchanged")
    body = header(quote(command), started, time.monotonic() - t0, build, load_start, load_average())
    body += "\n\n" + r.stdout.strip("\n")
    print(body)
    if docs:
        with open(DOC) as f:
            text = f.read()
        try:
            text = replace_part(text, name, body)
        except ValueError as e:
            sys.exit(f"bench/report.py: {e}; docs unchanged")
        with open(DOC, "w") as f:
            f.write(text)
        print(f"bench/report.py: updated '{name}' in {DOC}", file=sys.stderr)


def main(argv):
    if argv == ["--list"]:
        with open(DOC) as f:
            print("\n".join(names(f.read())))
        return
    docs = bool(argv) and argv[0] == "--docs"
    if docs:
        argv = argv[1:]
    if len(argv) < 3 or argv[1] != "--" or not NAME.match(argv[0]):
        sys.exit(__doc__)
    run(argv[0], argv[2:], docs)


if __name__ == "__main__":
    main(sys.argv[1:])
