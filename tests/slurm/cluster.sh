#!/usr/bin/env bash
# A real single-node SLURM cluster on this machine, for tests/test_slurm.py (and for trying the SLURM
# profile by hand). Debian's packages; every daemon is started by hand (no systemd needed).
#
#   bash tests/slurm/cluster.sh start      install once (apt-get, no recommends), then start munged, MariaDB,
#                                          slurmdbd, slurmctld and slurmd; wait until the node is idle
#   bash tests/slurm/cluster.sh stop       stop every daemon, each by its PID file
#   bash tests/slurm/cluster.sh status     daemons and `sinfo`
#   bash tests/slurm/cluster.sh selftest   `sbatch --wait` a trivial job, then find it with `sacct`
#
# Needs root (apt-get, munge, slurmd, /etc/slurm). Idempotent: `start` on a running cluster returns at once.
# The cluster: ClusterName=localcluster, one node (this machine, `hostname -s`, addressed as 127.0.0.1) with
# all its CPUs, 90% of its memory and $SLURM_LOCAL_GPUS counted GPUs of type "fake" (GRES without devices,
# so that `--gpus=fake:1` requests are scheduled like real ones), partition `debug` (default), account
# `testacct` for root. Logs in /var/log/slurm/. Ports on 127.0.0.1: 6817-6819 (SLURM), 3306 (MariaDB).
#
# Environment:
#   SLURM_LOCAL_ACCOUNTING=0   skip slurmdbd + MariaDB (then `sacct` fails; use slurm-status-command squeue)
#   SLURM_LOCAL_GPUS=N         fake GPUs on the node (default 2; 0 = none)
#
# Facts, timings and pitfalls behind every step: ../shared/notes/slurm-local.md of the project's workspace.
set -euo pipefail

ACCOUNTING=${SLURM_LOCAL_ACCOUNTING:-1}
GPUS=${SLURM_LOCAL_GPUS:-2}
NODE=$(hostname -s)
CLUSTER=localcluster
ACCOUNT=testacct
LOGDIR=/var/log/slurm
CONF=/etc/slurm
PACKAGES=(slurmctld slurmd slurm-client munge)
[ "$ACCOUNTING" = 1 ] && PACKAGES+=(slurmdbd mariadb-server mariadb-client)

log() { echo "[cluster.sh] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

running() {  # running PIDFILE: the process of that PID file is alive
    [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null
}

wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...
    local limit=$1 what=$2 i
    shift 2
    for ((i = 0; i < limit * 10; i++)); do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 0.1
    done
    die "timed out after ${limit}s waiting for $what"
}

install_packages() {
    local missing=()
    command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v sbatch >/dev/null \
        && command -v munged >/dev/null || missing+=(slurm)
    if [ "$ACCOUNTING" = 1 ]; then
        command -v slurmdbd >/dev/null && command -v mariadbd >/dev/null || missing+=(accounting)
    fi
    [ ${#missing[@]} -eq 0 ] && return 0
    command -v apt-get >/dev/null || die "apt-get not found: install ${PACKAGES[*]} by hand"
    log "installing ${PACKAGES[*]} (apt-get, no recommends)"
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y -q --no-install-recommends "${PACKAGES[@]}" >/tmp/slurm-local-apt.log 2>&1; then
        apt-get update -q >>/tmp/slurm-local-apt.log 2>&1
        apt-get install -y -q --no-install-recommends "${PACKAGES[@]}" >>/tmp/slurm-local-apt.log 2>&1 \
            || die "apt-get install failed, see /tmp/slurm-local-apt.log"
    fi
}

write_config() {
    local cpus mem_mb gres_node="" gres_types=""
    cpus=$(nproc)
    mem_mb=$(awk '/^MemTotal:/ {print int($2 / 1024 * 0.9)}' /proc/meminfo)
    if [ "$GPUS" -gt 0 ]; then
        gres_types="GresTypes=gpu"
        gres_node="Gres=gpu:fake:$GPUS"
    fi
    mkdir -p "$CONF" "$LOGDIR" /var/spool/slurmctld /var/spool/slurmd
    local acct="AccountingStorageType=accounting_storage/none"
    if [ "$ACCOUNTING" = 1 ]; then
        acct="AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStorageTRES=gres/gpu
AccountingStoreFlags=job_comment
JobAcctGatherType=jobacct_gather/linux"
    fi
    cat >"$CONF/slurm.conf.new" <<EOF
# Written by tests/slurm/cluster.sh: a single-node test cluster.
ClusterName=$CLUSTER
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=$LOGDIR/slurmctld.log
SlurmdLogFile=$LOGDIR/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=500
MinJobAge=300
ReturnToService=2
MailProg=/bin/true
$acct
$gres_types
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb $gres_node State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
    if [ "$GPUS" -gt 0 ]; then
        # slurmd counts a gpu GRES only with a File=: harmless character devices stand in for GPUs
        local devices=(/dev/null /dev/zero /dev/full /dev/random /dev/urandom) i
        [ "$GPUS" -le ${#devices[@]} ] || die "SLURM_LOCAL_GPUS must be at most ${#devices[@]}"
        : >"$CONF/gres.conf.new"
        for ((i = 0; i < GPUS; i++)); do
            echo "NodeName=$NODE Name=gpu Type=fake File=${devices[i]}" >>"$CONF/gres.conf.new"
        done
    else
        : >"$CONF/gres.conf.new"
    fi
    # a changed config (other hostname, CPUs, memory, mode) restarts the SLURM daemons
    CONFIG_CHANGED=0
    for f in slurm.conf gres.conf; do
        if ! cmp -s "$CONF/$f.new" "$CONF/$f"; then
            mv "$CONF/$f.new" "$CONF/$f"
            CONFIG_CHANGED=1
        else
            rm -f "$CONF/$f.new"
        fi
    done
    if [ "$ACCOUNTING" = 1 ]; then
        umask 077
        cat >"$CONF/slurmdbd.conf" <<EOF
# Written by tests/slurm/cluster.sh: a local test database only.
AuthType=auth/munge
DbdHost=localhost
DbdAddr=127.0.0.1
SlurmUser=root
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=slurm
StoragePass=slurmdbpass
StorageLoc=slurm_acct_db
LogFile=$LOGDIR/slurmdbd.log
PidFile=/run/slurmdbd.pid
EOF
        umask 022
        chmod 600 "$CONF/slurmdbd.conf"
    fi
}

start_munge() {
    mkdir -p /run/munge /var/log/munge /var/lib/munge
    chown munge: /run/munge /var/log/munge /var/lib/munge
    chmod 755 /run/munge
    if [ ! -s /etc/munge/munge.key ]; then
        mungekey --create --keyfile=/etc/munge/munge.key 2>/dev/null || mungekey -c
        chown munge: /etc/munge/munge.key
        chmod 400 /etc/munge/munge.key
    fi
    running /run/munge/munged.pid && return 0
    runuser -u munge -- munged --force
    wait_for 10 munged bash -c 'munge -n </dev/null | unmunge'
}

start_mariadb() {
    mkdir -p /run/mysqld
    chown mysql: /run/mysqld
    if [ ! -d /var/lib/mysql/mysql ]; then
        mariadb-install-db --user=mysql --datadir=/var/lib/mysql >>"$LOGDIR/mariadbd.log" 2>&1
    fi
    if ! running /run/mysqld/mysqld.pid; then
        setsid mariadbd --user=mysql --datadir=/var/lib/mysql --socket=/run/mysqld/mysqld.sock \
            --pid-file=/run/mysqld/mysqld.pid --bind-address=127.0.0.1 --port=3306 --skip-name-resolve \
            </dev/null >>"$LOGDIR/mariadbd.log" 2>&1 &
        wait_for 60 MariaDB mariadb-admin --socket=/run/mysqld/mysqld.sock ping
    fi
    mariadb --socket=/run/mysqld/mysqld.sock <<'EOF'
CREATE DATABASE IF NOT EXISTS slurm_acct_db;
CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY 'slurmdbpass';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';
EOF
}

start_slurmdbd() {
    running /run/slurmdbd.pid && return 0
    slurmdbd
    wait_for 30 slurmdbd sacctmgr -n list cluster
}

stop_daemon() {  # stop_daemon NAME PIDFILE
    local pid i
    [ -s "$2" ] || return 0
    pid=$(cat "$2")
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < 300; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            log "$1 ($pid) ignored SIGTERM for 30s: SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    rm -f "$2"
}

node_state() { sinfo -h -n "$NODE" -o %t 2>/dev/null | head -1; }

start() {
    [ "$(id -u)" = 0 ] || die "needs root (apt-get, munge, slurmd)"
    install_packages
    write_config
    if [ "$CONFIG_CHANGED" = 1 ]; then
        stop_daemon slurmd /run/slurmd.pid
        stop_daemon slurmctld /run/slurmctld.pid
    fi
    start_munge
    if [ "$ACCOUNTING" = 1 ]; then
        start_mariadb
        start_slurmdbd
        if ! sacctmgr -n -P list cluster format=cluster | grep -qx "$CLUSTER"; then
            sacctmgr -i add cluster "$CLUSTER" >/dev/null
        fi
    fi
    if ! running /run/slurmctld.pid; then
        slurmctld
        wait_for 30 slurmctld scontrol ping
    fi
    if [ "$ACCOUNTING" = 1 ]; then
        if ! sacctmgr -n -P list account format=account | grep -qx "$ACCOUNT"; then
            sacctmgr -i add account "$ACCOUNT" Cluster="$CLUSTER" Description=test Organization=test >/dev/null
        fi
        if ! sacctmgr -n -P list assoc user=root format=account | grep -qx "$ACCOUNT"; then
            sacctmgr -i add user root Account="$ACCOUNT" DefaultAccount="$ACCOUNT" Cluster="$CLUSTER" >/dev/null
        fi
    fi
    if ! running /run/slurmd.pid; then
        slurmd
    fi
    local i state
    for ((i = 0; i < 300; i++)); do
        state=$(node_state)
        case "$state" in
            idle | mix | alloc | comp) break ;;
            down* | drain* | drng*) scontrol update NodeName="$NODE" State=RESUME >/dev/null 2>&1 || true ;;
        esac
        sleep 0.1
    done
    case "$(node_state)" in
        idle | mix | alloc | comp) log "cluster up: node $NODE $(node_state), partition debug" ;;
        *) die "node $NODE is '$(node_state)' after 30s; see $LOGDIR/slurmd.log and slurmctld.log" ;;
    esac
}

stop() {
    stop_daemon slurmd /run/slurmd.pid
    stop_daemon slurmctld /run/slurmctld.pid
    stop_daemon slurmdbd /run/slurmdbd.pid
    stop_daemon mariadbd /run/mysqld/mysqld.pid
    stop_daemon munged /run/munge/munged.pid
    log "stopped"
}

status() {
    local name file rc=0
    for name in munged:/run/munge/munged.pid mariadbd:/run/mysqld/mysqld.pid slurmdbd:/run/slurmdbd.pid \
        slurmctld:/run/slurmctld.pid slurmd:/run/slurmd.pid; do
        file=${name#*:}
        if running "$file"; then echo "${name%%:*}: running ($(cat "$file"))"; else echo "${name%%:*}: stopped"; rc=1; fi
    done
    sinfo 2>/dev/null || rc=1
    return $rc
}

selftest() {
    local dir id state
    dir=$(mktemp -d)
    id=$(cd "$dir" && sbatch --parsable --wait -p debug -t 1 --mem 100 -o "$dir/out" --wrap 'echo selftest-ok')
    grep -q selftest-ok "$dir/out" || die "job $id wrote no output"
    if [ "$ACCOUNTING" = 1 ]; then
        for ((i = 0; i < 50; i++)); do
            state=$(sacct -n -X -P -j "$id" -o State 2>/dev/null | head -1)
            [ "$state" = COMPLETED ] && break
            sleep 0.2
        done
        [ "$state" = COMPLETED ] || die "sacct says job $id is '$state'"
    fi
    rm -rf "$dir"
    log "selftest ok (job $id)"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    selftest) selftest ;;
    *) echo "usage: $0 start|stop|status|selftest" >&2; exit 2 ;;
esac
