#!/usr/bin/env bash
# tools/test_slurm.sh: class grading on a one-node Slurm cluster started here, without a GPU (CI runs it).
#
#   tools/test_slurm.sh [--swa PATH]
#
# Proves the plumbing of tools/grade_slurm.sh and tools/grade_class.py where no GPU is: installs Slurm,
# munge and bubblewrap if they are missing (Debian packages slurm-wlm, munge, bubblewrap; needs root),
# starts munged, slurmctld and slurmd on localhost from a slurm.conf written here (a private folder, free
# ports, no cgroups), grades a made-up class as a job array, and checks the merged class.csv:
#   - every student has a row (hidden and __MACOSX folders none), and a "(max)" row closes the table;
#   - alice's stage is built and reaches the grader: "0 (no GPU)";
#   - bob's stage does not compile, and his build log says why;
#   - carol's stage #includes the kit's solution by its absolute path: the sandbox hides it, so it does
#     not compile (without the sandbox it would);
#   - the seed is one for the class, and the exit status is 3 (not graded: no GPU), not 0;
#   - regrading alice alone keeps bob's and carol's rows.
# --swa PATH: grade with a grader already built (CI passes build/ci/swa), else one is built (minutes).
# Every step has a time limit; the daemons are stopped at the end, whatever happened.
set -euo pipefail
cd "$(dirname "$0")/.."
kit=$PWD
swa_args=()
[[ ${1:-} == --swa ]] && swa_args=(--swa "$(realpath "$2")")

say() { echo "test_slurm: $*"; }
fail() { echo "test_slurm: FAILED: $*" >&2; exit 1; }

# --- what the test needs -------------------------------------------------------------------------
missing=()
for pair in slurmctld:slurm-wlm slurmd:slurm-wlm munged:munge bwrap:bubblewrap; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || PATH=$PATH:/usr/sbin command -v "${pair%%:*}" >/dev/null 2>&1 ||
    missing+=("${pair#*:}")
done
export PATH=$PATH:/usr/sbin
if ((${#missing[@]})); then
  [[ $(id -u) -eq 0 ]] || fail "needs ${missing[*]} installed (apt-get install ${missing[*]}), and only root can"
  say "installing $(printf '%s\n' "${missing[@]}" | sort -u | paste -sd ' ')"
  timeout 600 apt-get update -qq
  DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -qq --no-install-recommends \
    $(printf '%s\n' "${missing[@]}" | sort -u) > /dev/null
fi
[[ $(id -u) -eq 0 ]] || fail "starts slurmd, which runs jobs as their users: run it as root (CI does)"

# --- a one-node cluster ----------------------------------------------------------------------------
dir=$(mktemp -d /tmp/swa-slurm.XXXXXX)
chmod 755 "$dir"
stop_cluster() {
  local name
  for name in slurmd slurmctld munged; do
    [[ -f $dir/$name.pid ]] && kill "$(cat "$dir/$name.pid")" 2>/dev/null || true
  done
  sleep 1
}
trap stop_cluster EXIT
read -r ctld_port slurmd_port < <(python3 -c '
import socket
ports = []
for _ in range(2):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); ports.append(s); 
print(*(s.getsockname()[1] for s in ports))')
host=$(hostname -s)
cpus=$(nproc)
mkdir -p "$dir/state" "$dir/spool"
head -c 1024 /dev/urandom > "$dir/munge.key"
chmod 600 "$dir/munge.key"
cat > "$dir/slurm.conf" <<EOF
# One node, this machine, for tools/test_slurm.sh: no cgroups, no accounting, root runs the daemons.
ClusterName=swatest
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$dir/munge.sock
CredType=cred/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=1000 State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF=$dir/slurm.conf
say "starting munged, slurmctld and slurmd (config and logs in $dir)"
munged --socket="$dir/munge.sock" --key-file="$dir/munge.key" --pid-file="$dir/munged.pid" \
  --log-file="$dir/munged.log" --seed-file="$dir/munge.seed" --force ||
  fail "munged did not start: $(tail -n 5 "$dir/munged.log" 2>/dev/null)"
slurmctld -f "$SLURM_CONF" || fail "slurmctld did not start: $(tail -n 20 "$dir/slurmctld.log" 2>/dev/null)"
slurmd -f "$SLURM_CONF" || fail "slurmd did not start: $(tail -n 20 "$dir/slurmd.log" 2>/dev/null)"
state=""
for _ in $(seq 60); do
  state=$(timeout 10 sinfo -h -o %T 2>/dev/null || true)
  [[ $state == idle ]] && break
  sleep 1
done
if [[ $state != idle ]]; then
  tail -n 20 "$dir/slurmctld.log" "$dir/slurmd.log" >&2 || true
  fail "the node is '$state', not idle, after 60 s: Slurm did not start here (logs above)"
fi
say "the cluster is up: $(sinfo -h -o '%P %D node(s) %c CPUs %T')"

# --- a made-up class -------------------------------------------------------------------------------
subs=$dir/submissions
first=$(cd stages && ls -d [0-9][0-9]_*/ | head -n 1)
first=${first%/}
mkdir -p "$subs/alice/my-kit/stages/$first" "$subs/alice/__MACOSX/stages/$first" "$subs/bob/$first" \
  "$subs/carol/$first" "$subs/__MACOSX/dave/$first" "$subs/.hidden/$first"
cp "stages/$first/kernel.cu" "$subs/alice/my-kit/stages/$first/kernel.cu"
echo "junk a zip tool left" > "$subs/alice/__MACOSX/stages/$first/kernel.cu"
{ cat "stages/$first/kernel.cu"; echo "this line is not C++"; } > "$subs/bob/$first/kernel.cu"
# Carol's build asks for a file that exists outside the sandbox, by its absolute path.
leak=$kit/solutions/$first/kernel.cu
[[ -f $leak ]] || leak=$kit/README.md
{ echo "#include \"$leak\""; cat "stages/$first/kernel.cu"; } > "$subs/carol/$first/kernel.cu"
cp "stages/$first/kernel.cu" "$subs/__MACOSX/dave/$first/kernel.cu"
cp "stages/$first/kernel.cu" "$subs/.hidden/$first/kernel.cu"

out=$dir/class-results
say "grading the class as a job array (no GPU: every graded stage says so)"
status=0
timeout 2400 tools/grade_slurm.sh "$subs" --out "$out" --gpus 0 --cpus 1 --time 30 --allow-no-gpu --wait \
  "${swa_args[@]}" || status=$?
ls "$out/slurm" >/dev/null 2>&1 && tail -n 3 "$out"/slurm/task-*.out || true
[[ $status -eq 3 ]] || fail "grade_slurm.sh exited with $status; expected 3 (not graded: no GPU)"

check_class() {
  python3 - "$out" "$first" "$leak" "$@" <<'EOF'
import csv, json, pathlib, sys
out, first, leak = pathlib.Path(sys.argv[1]), sys.argv[2], sys.argv[3]
rows = {r["student"]: r for r in csv.DictReader(open(out / "class.csv"))}
problems = []
def expect(ok, what):
    if not ok:
        problems.append(what)
expect(sorted(rows) == ["(max)", "alice", "bob", "carol"], f"rows: {sorted(rows)}")
seed = json.loads((out / "class.json").read_text())["seed"]
for name in ("alice", "bob", "carol"):
    row = rows.get(name, {})
    expect(row.get("seed") == str(seed), f"{name}: seed {row.get('seed')} is not the class's {seed}")
    expect(row.get("gpu") == "none" and row.get("commit"), f"{name}: gpu/commit columns: {row}")
expect(rows.get("alice", {}).get(first) == "0 (no GPU)", f"alice's {first}: {rows.get('alice', {}).get(first)}")
expect(rows.get("alice", {}).get("status") == "not graded: no GPU", f"alice's status: {rows.get('alice')}")
for name in ("bob", "carol"):
    expect(rows.get(name, {}).get(first, "").startswith("0 (does not compile"), f"{name}: {rows.get(name)}")
bob_log = (out / "bob" / "build-logs" / f"{first}.log").read_text()
expect("error" in bob_log, "bob's build log does not show the compiler's error")
carol_log = (out / "carol" / "build-logs" / f"{first}.log").read_text()
expect(leak in carol_log and "No such file" in carol_log, "carol's build did not fail on the hidden file:\n" + carol_log[-1500:])
maximum = rows.get("(max)", {})
expect(all(maximum.get(n) not in (None, "") for n in maximum if n[:2].isdigit()) and maximum.get("total"),
       f"the (max) row lacks a stage's points or the total: {maximum}")
for extra in sys.argv[4:]:
    key, _, value = extra.partition("=")
    student, _, column = key.partition(".")
    expect(rows.get(student, {}).get(column) == value, f"{student}.{column}: {rows.get(student, {}).get(column)!r} != {value!r}")
if problems:
    print("\n".join("  " + p for p in problems))
    sys.exit(1)
print(f"  class.csv: {len(rows) - 1} students and the (max) row, seed {seed}, as expected")
EOF
}
check_class || fail "class.csv is not as expected ($out)"
bob_graded_at=$(python3 -c "import csv,sys; print(next(r['graded_at'] for r in csv.DictReader(open(sys.argv[1])) if r['student']=='bob'))" "$out/class.csv")

say "regrading alice alone, outside Slurm: the other rows stay"
status=0
timeout 1200 python3 tools/grade_class.py "$subs" --out "$out" --student alice --allow-no-gpu "${swa_args[@]}" || status=$?
[[ $status -eq 3 ]] || fail "grade_class.py --student alice exited with $status; expected 3"
check_class "bob.graded_at=$bob_graded_at" || fail "regrading alice changed the others' rows"
say "passed: job array, merge, sandbox, build logs, hidden folders, one seed, regrade; exit 3 without a GPU"
