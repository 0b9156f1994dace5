#!/usr/bin/env bash
# Smoke test of a durable-queue example (C or Python): runs it to completion on a fresh directory,
# runs it again (nothing left to do: it must resume at the end), and checks that consumed.log holds
# every message exactly once, in order.
#   example_smoke.sh WORK_DIR MESSAGES TOPICS COMMAND...
set -euo pipefail
dir=$1 messages=$2 topics=$3
shift 3
rm -rf "$dir"
"$@" "$dir" --messages "$messages" --topics "$topics"
again=$("$@" "$dir" --messages "$messages" --topics "$topics")
grep -q "resumes at seq $messages" <<<"$again"
want=$(for ((t = 0; t < topics; t++)); do
  for ((i = 0; i < messages; i++)); do echo "DurableQueue$t 0 $i $i"; done
done | sort)
got=$(sort "$dir/consumed.log")
if [ "$got" != "$want" ]; then
  echo "consumed.log does not hold every message exactly once" >&2
  exit 1
fi
for ((t = 0; t < topics; t++)); do  # in order per topic
  grep "^DurableQueue$t " "$dir/consumed.log" | awk '{ if ($3 != NR - 1) exit 1 }'
done
rm -rf "$dir"
echo "example OK: $messages x $topics"
