#!/usr/bin/env python3
"""Prints "ALL OBS" for a callgrind dump: every instruction counted, and those
that were obs's own.

An instruction is obs's when the function it runs in is named obs::..., or,
in a binary with debug information, when its source line is in one of obs's
headers (a path containing /include/obs/): a counter's add or a macro site
inlined into the caller is obs's work too, though the function around it is
not. Without debug information only the first rule applies.

    obs_instructions.py DUMP
"""
import re
import sys

OBS_FILE = re.compile(r"/include/obs/")
COST = re.compile(r"^[0-9+*-]")
NAMED = re.compile(r"^\((\d+)\)(?: (.*))?$")


def main(path):
    files, functions = {}, {}

    def name(table, spec):
        m = NAMED.match(spec)
        if not m:
            return spec
        if m.group(2) is not None:
            table[m.group(1)] = m.group(2)
        return table.get(m.group(1), "")

    total = obs = 0
    function_file = line_file = function = ""
    skip_next_cost = False  # the line after calls= is a call's inclusive cost
    with open(path, errors="replace") as dump:
        for line in dump:
            if COST.match(line):
                if skip_next_cost:
                    skip_next_cost = False
                    continue
                fields = line.split()
                cost = int(fields[1]) if len(fields) > 1 else 0
                total += cost
                if function.startswith("obs::") or OBS_FILE.search(line_file):
                    obs += cost
            elif line.startswith("fl="):
                function_file = line_file = name(files, line[3:].rstrip("\n"))
            elif line.startswith(("fi=", "fe=")):
                line_file = name(files, line[3:].rstrip("\n"))
            elif line.startswith("fn="):
                function = name(functions, line[3:].rstrip("\n"))
                line_file = function_file
            elif line.startswith(("cfi=", "cfl=")):
                name(files, line[4:].rstrip("\n"))
            elif line.startswith("cfn="):
                name(functions, line[4:].rstrip("\n"))
            elif line.startswith("calls="):
                skip_next_cost = True
    print(total, obs)


if __name__ == "__main__":
    main(sys.argv[1])
