#!/usr/bin/env python3
# Copyright the Stele authors. Licensed under the Apache License, Version 2.0.
"""Instruction-count regression guard.

Runs insn_driver under valgrind's callgrind once per operation kind, divides the instructions
executed inside the driver's measured window (every thread) by the number of operations, and
compares the result with bench/insn/baseline.json:

  ratio > 1 + threshold  FAIL (the operation got more expensive)
  ratio < 1 - threshold  pass, with a note to update the baseline (it got cheaper)

Counts are only comparable for the same compiler, flags, C library and CPU string-function
variants (glibc picks memcpy/memchr by CPU features), so when the build or machine differs from
the baseline's the guard exits 77 (ctest SKIP_RETURN_CODE) and says what differs.

  insn_guard.py --build-info BUILD/tests/insn/insn_build.json [--baseline FILE]
  insn_guard.py --build-info ... --update [--runs 5]    # rewrite the baseline (median of runs)
"""

import argparse
import datetime
import glob
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

SKIP = 77
HERE = os.path.dirname(os.path.abspath(__file__))
# ops: enough that scheduling noise averages out (append's dispatcher batches records differently
# from run to run; at 3000 ops the per-op spread over 5 runs is ~0.5%); cq_read is exact.
KINDS = {
    "append": {"ops": 3000, "warmup": 20},
    "cq_read": {"ops": 500, "warmup": 20},
    "send_rtt": {"ops": 1000, "warmup": 20},
}
# CPU features that change which glibc string functions run (and so instruction counts).
CPU_FEATURES = ("avx", "avx2", "bmi2", "erms", "fsrm")


def cpu_features():
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    have = set(line.split(":", 1)[1].split())
                    return " ".join(x for x in CPU_FEATURES if x in have)
    except OSError:
        pass
    return "unknown"


def environment(build):
    """What the counts depend on besides the code: compared with the baseline's."""
    return {
        "compiler": build["compiler"],
        "build_type": build["build_type"],
        "flags": " ".join(build["flags"].split()),
        "sanitize": build["sanitize"],
        "libc": " ".join(platform.libc_ver()),
        "cpu_features": cpu_features(),
    }


def run_kind(driver, kind, ops, warmup, workdir):
    """Instructions per operation of one driver run under callgrind."""
    out_dir = tempfile.mkdtemp(prefix=f"{kind}-", dir=workdir)
    cmd = [
        "valgrind", "--tool=callgrind", "--instr-atstart=no", "--separate-threads=yes",
        f"--callgrind-out-file={out_dir}/cg.%p",
        driver, f"--kind={kind}", f"--ops={ops}", f"--warmup={warmup}",
        f"--dir={out_dir}/store",
    ]
    started = time.monotonic()
    p = subprocess.run(cmd, capture_output=True, text=True, check=False)
    seconds = time.monotonic() - started
    if p.returncode != 0:
        sys.stderr.write(p.stderr[-4000:])
        raise RuntimeError(f"{kind}: valgrind/insn_driver exited with {p.returncode}")
    # One file per thread (cg.<pid>-<thread>); "totals:" is what that thread executed while
    # instrumentation was on.
    total = 0
    threads = 0
    for path in glob.glob(f"{out_dir}/cg.*-*"):
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("totals:"):
                    total += int(line.split()[1])
                    threads += 1
                    break
    shutil.rmtree(out_dir, ignore_errors=True)
    if threads == 0 or total == 0:
        raise RuntimeError(f"{kind}: callgrind wrote no counts (is the driver built with "
                           "valgrind/callgrind.h?)")
    return total / ops, seconds


def check_inputs(args):
    with open(args.build_info, encoding="utf-8") as f:
        build = json.load(f)
    env = environment(build)
    if env["sanitize"]:
        print(f"SKIP: built with sanitizers ({env['sanitize']}); instruction counts are only "
              "measured on the Release test tree (build/test-release)")
        sys.exit(SKIP)
    if shutil.which("valgrind") is None:
        print("SKIP: valgrind is not installed (scripts/deps.sh installs it)")
        sys.exit(SKIP)
    if not build.get("callgrind_h"):
        print("SKIP: insn_driver was built without valgrind/callgrind.h (install valgrind, "
              "e.g. with scripts/deps.sh, then reconfigure and rebuild)")
        sys.exit(SKIP)
    if not os.path.exists(build["driver"]):
        print(f"SKIP: {build['driver']} is not built")
        sys.exit(SKIP)
    return build, env


def check(args):
    build, env = check_inputs(args)
    with open(args.baseline, encoding="utf-8") as f:
        base = json.load(f)
    differs = [f"{k}: this build {env[k]!r}, baseline {base['environment'].get(k)!r}"
               for k in env if base["environment"].get(k) != env[k]]
    if differs:
        print("SKIP: instruction counts are only comparable with the same compiler, flags, libc "
              "and CPU string-function variants as the baseline's; here:\n  " +
              "\n  ".join(differs) +
              f"\n(bench/insn/update_baseline.sh BUILD_DIR measures a baseline for this one)")
        sys.exit(SKIP)
    threshold = base["threshold"]
    failed = []
    workdir = tempfile.mkdtemp(prefix="stele-insn-")
    try:
        for kind in args.kinds:
            want = base["kinds"].get(kind)
            if want is None:
                raise KeyError(f"the baseline has no figure for {kind}")
            per_op, seconds = run_kind(build["driver"], kind, want["ops"], want["warmup"],
                                       workdir)
            ratio = per_op / want["insn_per_op"]
            verdict = "ok"
            if ratio > 1 + threshold:
                verdict = f"FAIL: more than {threshold:.0%} above the baseline"
                failed.append(kind)
            elif ratio < 1 - threshold:
                verdict = (f"ok, but more than {threshold:.0%} below the baseline: update it "
                           "(bench/insn/update_baseline.sh BUILD_DIR)")
            print(f"{kind:9} {per_op:12.0f} insn/op  baseline {want['insn_per_op']:10.0f}  "
                  f"ratio {ratio:.4f}  ({want['ops']} ops, {seconds:.1f} s)  {verdict}",
                  flush=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if failed:
        print(f"instruction counts regressed for: {', '.join(failed)} (if intended, update the "
              "baseline with bench/insn/update_baseline.sh and say why in the commit)")
        return 1
    return 0


def update(args):
    build, env = check_inputs(args)
    kinds = {}
    workdir = tempfile.mkdtemp(prefix="stele-insn-")
    try:
        for kind in args.kinds:
            conf = KINDS[kind]
            runs = []
            for _ in range(args.runs):
                per_op, seconds = run_kind(build["driver"], kind, conf["ops"], conf["warmup"],
                                           workdir)
                runs.append(round(per_op, 1))
                print(f"{kind:9} {per_op:12.1f} insn/op ({seconds:.1f} s)", flush=True)
            median = statistics.median(runs)
            spread = (max(runs) - min(runs)) / median
            print(f"{kind:9} median {median:.1f}, spread (max-min)/median {spread:.2%}")
            kinds[kind] = {"ops": conf["ops"], "warmup": conf["warmup"],
                           "insn_per_op": round(median), "runs": runs,
                           "spread": round(spread, 5)}
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    # Kinds not measured now keep their figures when they were measured in the same environment.
    if os.path.exists(args.baseline):
        with open(args.baseline, encoding="utf-8") as f:
            old = json.load(f)
        if old.get("environment") == env:
            kinds = {**old.get("kinds", {}), **kinds}
    vg = subprocess.run(["valgrind", "--version"], capture_output=True, text=True, check=False)
    base = {
        "comment": "Instructions per operation (callgrind Ir, all threads), the median of "
                   "`runs`; written by bench/insn/update_baseline.sh. Compared by insn_guard "
                   "only when `environment` matches the build.",
        "threshold": 0.10,
        "measured": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d"),
        "valgrind": vg.stdout.strip(),
        "environment": env,
        "kinds": kinds,
    }
    with open(args.baseline, "w", encoding="utf-8") as f:
        json.dump(base, f, indent=2)
        f.write("\n")
    print(f"wrote {args.baseline}")
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build-info", required=True,
                    help="insn_build.json that CMake writes next to insn_driver")
    ap.add_argument("--baseline", default=os.path.join(HERE, "baseline.json"))
    ap.add_argument("--update", action="store_true", help="measure and rewrite the baseline")
    ap.add_argument("--runs", type=int, default=5, help="runs per kind with --update")
    ap.add_argument("--kinds", default=",".join(KINDS),
                    help="comma-separated kinds to measure (default: all)")
    args = ap.parse_args()
    if args.runs < 1:
        ap.error("--runs must be at least 1")
    args.kinds = [k for k in args.kinds.split(",") if k]
    unknown = [k for k in args.kinds if k not in KINDS]
    if unknown or not args.kinds:
        ap.error(f"--kinds: unknown {unknown}, choose from {', '.join(KINDS)}")
    try:
        return update(args) if args.update else check(args)
    except (OSError, ValueError, KeyError, RuntimeError) as e:
        print(f"insn_guard: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
