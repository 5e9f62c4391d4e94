#!/usr/bin/env bash
# Run the tests under faked clocks: no result may depend on today's date, the hour or the
# time zone (docs/BENCHMARKS.md "Clocks" lists the runs and their results).
#
#   scripts/test_clocks.sh                  # the clock-sensitive subsets under every clock
#   scripts/test_clocks.sh --full           # the whole suite under every clock (~4 x 12 min)
#   scripts/test_clocks.sh -- tests/policy  # these pytest arguments under every clock
#
# Clocks (libfaketime's `faketime`, which starts the clock at that instant and lets it run,
# shared with every child process that keeps the environment; tests/conftest.py's
# clock_env() hands it to the children started with a cleaned one, such as sshd's
# AuthorizedKeysCommand):
#   29 Feb (the next leap day) 23:59:30 UTC  -- crosses into 1 March during the run
#   31 Dec 23:59:59 UTC                       -- crosses into the new year
#   1 Jan 00:00:00 UTC
#   TZ=Pacific/Kiritimati (UTC+14) at 31 Dec 10:00:00 UTC, when the local date is already 1 Jan
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"

if ! command -v faketime >/dev/null; then
    echo "test_clocks: faketime is not installed (apt-get install faketime," \
         "or scripts/install_test_deps.sh)" >&2
    exit 2
fi

SUBSETS=(tests/policy tests/keys tests/gateways tests/index tests/cli tests/test_config.py
         tests/test_names.py tests/chain/test_embedded.py tests/chain/test_devnet.py)
args=("${SUBSETS[@]}")
if [ "${1:-}" = "--full" ]; then
    args=()
    shift
fi
if [ "${1:-}" = "--" ]; then
    shift
    args=("$@")
fi

year=$(date -u +%Y)
leap=$year
while ! python3 -c "import calendar,sys; sys.exit(not calendar.isleap($leap))"; do
    leap=$((leap + 1))
done
next=$((year + 1))

clocks=(
    "UTC|$leap-02-29 23:59:30"
    "UTC|$year-12-31 23:59:59"
    "UTC|$next-01-01 00:00:00"
    "Pacific/Kiritimati|$year-12-31 10:00:00"
)
failed=0
for entry in "${clocks[@]}"; do
    tz=${entry%%|*}
    when=${entry#*|}
    echo "== TZ=$tz faketime '$when' (UTC)"
    # faketime reads the start time in the local zone: give it UTC, then run in $tz
    start=$(TZ=UTC date -d "$when" +%s)
    TZ=$tz faketime "@$start" python3 -m pytest -q -p no:cacheprovider "${args[@]}" 2>&1 \
        | tail -n 15
    rc=${PIPESTATUS[0]}
    if [ "$rc" != 0 ]; then
        echo "== FAILED under TZ=$tz at $when UTC (exit $rc)"
        failed=1
    fi
done
exit "$failed"
