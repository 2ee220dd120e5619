#!/usr/bin/env bash
# A real single-node Slurm cluster (munged, a private MariaDB, slurmdbd, slurmctld, slurmd) for biobench's Slurm
# tests. Usage: plugins/biobench-slurm/scripts/cluster.sh {install|start [--lease PID]|release PID|stop|status|env}
#
#   install  apt-get install the Debian packages (slurmctld slurmd slurm-client slurmdbd munge mariadb-server) if
#            any is missing: needs root and apt-get; a no-op (milliseconds) when they are installed.
#   start    write the configs, start the daemons, wait until the node is idle and sacct answers; reuse a healthy
#            running cluster. Prints `export SLURM_CONF=...` on stdout (progress goes to stderr) and writes the
#            same variables, one KEY=VALUE a line, to $BIOBENCH_SLURM_DIR/env.
#            `start --lease PID` (the pytest fixture) also records a user of the cluster, see `release`.
#   release PID  drop that lease; if no live process holds one any more and a leased start brought the daemons up,
#            stop them (so concurrent test sessions share one cluster, and the last one out stops it).
#   stop     cancel this cluster's jobs, stop the daemons this script started (by their pid files), wait for them.
#   status   one line per daemon and the node's state; exit 0 when healthy, 3 when nothing runs, 1 otherwise.
#   env      print the env file of a running cluster.
#
# All state (configs, logs, pid files, spool, job state, the database) lives under BIOBENCH_SLURM_DIR (default
# /tmp/biobench-slurm). Nothing listens on Slurm's default ports: BIOBENCH_SLURM_PORT (default 16817) is
# slurmctld's, +1 slurmd's, +2 slurmdbd's, +3 MariaDB's (127.0.0.1 only). munged gets its own socket too, so a
# system Slurm or munge on the same machine is left alone. Only /etc/munge/munge.key (created if missing) and an
# /etc/hosts line for this host's name (only if the name does not resolve) are outside that directory.
set -euo pipefail

DIR=${BIOBENCH_SLURM_DIR:-/tmp/biobench-slurm}
CLUSTER=${BIOBENCH_SLURM_CLUSTER:-biobench}
PARTITION=${BIOBENCH_SLURM_PARTITION:-debug}
PORT=${BIOBENCH_SLURM_PORT:-16817}
START_TIMEOUT=${BIOBENCH_SLURM_START_TIMEOUT:-60}
PACKAGES=(slurmctld slurmd slurm-client slurmdbd munge mariadb-server mariadb-client)
NEEDED_COMMANDS=(slurmctld slurmd slurmdbd sbatch sacct sacctmgr sinfo scontrol munged munge mariadbd
                 mariadb-install-db mariadb mariadb-admin)

ETC=$DIR/etc RUN=$DIR/run LOG=$DIR/log
CONF=$ETC/slurm.conf
MUNGE_DIR=$DIR/munge MUNGE_SOCKET=$DIR/munge/munge.socket
DB_DIR=$DIR/mysql DB_SOCKET=$RUN/mysqld.sock DB_NAME=slurm_acct_db DB_USER=slurm
CTLD_PORT=$PORT SLURMD_PORT=$((PORT + 1)) DBD_PORT=$((PORT + 2)) DB_PORT=$((PORT + 3))
NODE=$(hostname -s)
# Job ids come from the clock (seconds since 2026-01-01, wrapping every ~2 years) so a cluster started again, even
# from an empty directory, never hands out an id it used before (submitit folders would give back stale results).
JOBID_EPOCH=1767225600 MAX_JOB_ID=67108863
# The daemons in start order; stop goes the other way. name:pid file:log file.
DAEMONS=(munged:$MUNGE_DIR/munged.pid:$LOG/munged.log mariadbd:$RUN/mariadbd.pid:$LOG/mariadb.log
         slurmdbd:$RUN/slurmdbd.pid:$LOG/slurmdbd.log slurmctld:$RUN/slurmctld.pid:$LOG/slurmctld.log
         slurmd:$RUN/slurmd.pid:$LOG/slurmd.log)

export SLURM_CONF=$CONF

T0=${EPOCHREALTIME/,/.}
say() {  # progress on stderr, with the seconds since this command began
    local now=${EPOCHREALTIME/,/.}
    printf 'cluster.sh: [%5.1fs] %s\n' "$(awk "BEGIN {print $now - $T0}")" "$*" >&2
}
die() { say "error: $*"; exit 1; }

# die naming the daemon and its log, with the log's tail.
die_daemon() {
    local name=$1 logfile=$2 why=$3
    say "error: $name $why (log: $logfile)"
    if [[ -s $logfile ]]; then
        echo "--- last lines of $logfile ---" >&2
        tail -n 25 "$logfile" >&2
        echo "---" >&2
    fi
    exit 1
}

daemon_field() {  # daemon_field NAME INDEX: 1 = pid file, 2 = log file
    local d
    for d in "${DAEMONS[@]}"; do
        IFS=: read -r n p l <<<"$d"
        if [[ $n == "$1" ]]; then
            if [[ $2 == 1 ]]; then echo "$p"; else echo "$l"; fi
            return
        fi
    done
}

# The pid in NAME's pid file if that process runs and is NAME (a stale pid file, or a pid reused by another
# program, gives nothing).
live_pid() {
    local name=$1 pidfile pid comm
    pidfile=$(daemon_field "$name" 1)
    [[ -r $pidfile ]] || return 1
    pid=$(tr -dc '0-9' <"$pidfile")
    [[ -n $pid ]] || return 1
    comm=$(cat "/proc/$pid/comm" 2>/dev/null) || return 1
    [[ $comm == "$name" ]] || return 1
    [[ $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) != Z ]] || return 1  # exited, not yet reaped
    echo "$pid"
}

# wait_for SECONDS DESCRIPTION DAEMON COMMAND...: poll COMMAND every 0.2 s; fail naming DAEMON's log if it does not
# succeed in time or if DAEMON exits meanwhile.
wait_for() {
    local seconds=$1 what=$2 name=$3
    shift 3
    local logfile deadline gone=0
    logfile=$(daemon_field "$name" 2)
    deadline=$((SECONDS + seconds))
    until "$@" >/dev/null 2>&1; do
        # Not running for 10 polls in a row (2 s: a forking daemon may not have written its pid file yet): dead.
        if live_pid "$name" >/dev/null; then gone=0; else gone=$((gone + 1)); fi
        ((gone < 10)) || die_daemon "$name" "$logfile" "failed to start: it is not running ($what)"
        ((SECONDS < deadline)) || die_daemon "$name" "$logfile" "did not come up within ${seconds}s ($what)"
        sleep 0.2
    done
}

missing_commands() {
    local c
    for c in "${NEEDED_COMMANDS[@]}"; do
        command -v "$c" >/dev/null 2>&1 || [[ -x /usr/sbin/$c ]] || echo "$c"
    done
}

cmd_install() {
    local missing
    missing=$(missing_commands | tr '\n' ' ')
    if [[ -z ${missing// /} ]]; then
        say "Slurm, munge and MariaDB are installed"
        return 0
    fi
    if [[ $(id -u) != 0 ]]; then
        say "not installing Slurm (missing: $missing): needs root; as root run: $0 install" \
            "(or apt-get install ${PACKAGES[*]}); the Slurm tests will fail until then"
        return 0
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
        say "not installing Slurm (missing: $missing): no apt-get on this machine; install Slurm 22.05+ with" \
            "slurmdbd, munge and MariaDB by hand; the Slurm tests will fail until then"
        return 0
    fi
    say "installing ${PACKAGES[*]} (missing: $missing)"
    local policy=/usr/sbin/policy-rc.d created_policy=0
    if [[ ! -e $policy ]]; then
        # Keep the packages' init scripts from starting system-wide daemons: this script starts its own.
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && created_policy=1
    fi
    local rc=0 aptlog
    aptlog=$(mktemp)
    {
        DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}"
    } >"$aptlog" 2>&1 || rc=$?
    ((created_policy)) && rm -f "$policy"
    if ((rc != 0)); then
        tail -n 25 "$aptlog" >&2
        rm -f "$aptlog"
        die "apt-get install ${PACKAGES[*]} failed (exit $rc)"
    fi
    rm -f "$aptlog"
    missing=$(missing_commands | tr '\n' ' ')
    [[ -z ${missing// /} ]] || die "installed ${PACKAGES[*]} but still missing: $missing"
    say "installed"
}

node_line() {
    # slurmd -C: NodeName=vm CPUs=2 Boards=1 SocketsPerBoard=1 CoresPerSocket=2 ThreadsPerCore=1 RealMemory=24105
    local line cpus_etc mem
    line=$(slurmd -C 2>/dev/null | head -n 1) || true
    [[ $line == NodeName=* ]] || die "slurmd -C gave no node description: '$line'"
    cpus_etc=$(tr ' ' '\n' <<<"$line" | grep -E '^(CPUs|Boards|SocketsPerBoard|CoresPerSocket|ThreadsPerCore)=' |
               tr '\n' ' ')
    mem=$(tr ' ' '\n' <<<"$line" | sed -n 's/^RealMemory=//p')
    # A little under what slurmd measures, so the node is never drained for "Low RealMemory".
    mem=$((mem * 95 / 100))
    echo "NodeName=$NODE NodeAddr=127.0.0.1 ${cpus_etc}RealMemory=$mem State=UNKNOWN"
}

db_sql() { mariadb --no-defaults --socket="$DB_SOCKET" -u root -N -B "$@"; }

first_job_id() {
    local id=$(( ($(date +%s) - JOBID_EPOCH) % 60000000 + 1000 )) last
    # Many jobs in a short time run the counter ahead of the clock: then continue from the last id accounting saw.
    last=$(db_sql -e "SELECT COALESCE(MAX(id_job), 0) FROM \`${CLUSTER}_job_table\`" "$DB_NAME" 2>/dev/null) || last=0
    if [[ $last =~ ^[0-9]+$ ]] && ((last >= id && last < id + 1000000)); then
        id=$((last + 1))
    fi
    echo "$id"
}

write_slurm_conf() {
    local first_id=$1
    cat >"$CONF.tmp" <<EOF
# Written by plugins/biobench-slurm/scripts/cluster.sh: a single-node test cluster. Edits are overwritten by the next start.
ClusterName=$CLUSTER
SlurmctldHost=$NODE(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$MUNGE_SOCKET
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool/slurmd
SlurmctldPidFile=$RUN/slurmctld.pid
SlurmdPidFile=$RUN/slurmd.pid
SlurmctldLogFile=$LOG/slurmctld.log
SlurmdLogFile=$LOG/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
PlugStackConfig=$ETC/plugstack.conf
# No cgroups on this machine kind.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=30
MpiDefault=none
MailProg=/bin/true
SwitchType=switch/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort=$DBD_PORT
# The munge socket for the connections to slurmdbd (AuthInfo covers the others).
AccountingStoragePass=$MUNGE_SOCKET
JobCompType=jobcomp/none
FirstJobId=$first_id
MaxJobId=$MAX_JOB_ID
ReturnToService=2
SlurmctldTimeout=10
SlurmdTimeout=10
MessageTimeout=5
TCPTimeout=2
KillWait=2
InactiveLimit=0
MinJobAge=300
Waittime=0
$(node_line)
PartitionName=$PARTITION Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
    mv "$CONF.tmp" "$CONF"
    : >"$ETC/plugstack.conf"
}

write_slurmdbd_conf() {
    local pass=$1
    umask 077
    cat >"$ETC/slurmdbd.conf" <<EOF
# Written by plugins/biobench-slurm/scripts/cluster.sh.
AuthType=auth/munge
AuthInfo=socket=$MUNGE_SOCKET
DbdAddr=127.0.0.1
DbdHost=$NODE
DbdPort=$DBD_PORT
SlurmUser=root
DebugLevel=info
LogFile=$LOG/slurmdbd.log
PidFile=$RUN/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$DB_PORT
StorageUser=$DB_USER
StoragePass=$pass
StorageLoc=$DB_NAME
EOF
    umask 022
    chown root:root "$ETC/slurmdbd.conf"
    chmod 600 "$ETC/slurmdbd.conf"
}

start_munged() {
    if live_pid munged >/dev/null; then return; fi
    if [[ ! -s /etc/munge/munge.key ]]; then
        say "creating /etc/munge/munge.key"
        install -d -o munge -g munge -m 700 /etc/munge
        if command -v mungekey >/dev/null 2>&1; then
            mungekey --create --keyfile=/etc/munge/munge.key --force
        else
            dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
        fi
        chown munge:munge /etc/munge/munge.key
        chmod 400 /etc/munge/munge.key
    fi
    install -d -o munge -g munge -m 755 "$MUNGE_DIR"
    rm -f "$MUNGE_SOCKET" "$MUNGE_SOCKET.lock"
    touch "$LOG/munged.log" && chown munge:munge "$LOG/munged.log"
    say "starting munged"
    runuser -u munge -- munged --socket="$MUNGE_SOCKET" --pid-file="$MUNGE_DIR/munged.pid" \
        --log-file="$LOG/munged.log" --seed-file="$MUNGE_DIR/munged.seed" --key-file=/etc/munge/munge.key \
        </dev/null >>"$LOG/munged.log" 2>&1 9>&- || die_daemon munged "$LOG/munged.log" "failed to start"
    wait_for 10 "munge -n | unmunge on $MUNGE_SOCKET" munged \
        bash -c "munge -n -S '$MUNGE_SOCKET' | unmunge -S '$MUNGE_SOCKET'"
}

start_mariadb() {
    if ! live_pid mariadbd >/dev/null; then
        if [[ ! -d $DB_DIR/mysql ]]; then
            say "initialising the accounting database in $DB_DIR"
            rm -rf "$DB_DIR"
            mariadb-install-db --no-defaults --datadir="$DB_DIR" --user=root --auth-root-authentication-method=socket \
                --skip-test-db >>"$LOG/mariadb.log" 2>&1 </dev/null ||
                die_daemon mariadbd "$LOG/mariadb.log" "could not initialise its data directory $DB_DIR"
        fi
        rm -f "$DB_SOCKET"
        say "starting mariadbd on 127.0.0.1:$DB_PORT"
        setsid mariadbd --no-defaults --user=root --datadir="$DB_DIR" --socket="$DB_SOCKET" --port="$DB_PORT" \
            --bind-address=127.0.0.1 --pid-file="$RUN/mariadbd.pid" --log-error="$LOG/mariadb.log" --skip-log-bin \
            --innodb-buffer-pool-size=256M --innodb-log-file-size=64M --innodb-lock-wait-timeout=900 \
            --max-connections=100 </dev/null >>"$LOG/mariadb.log" 2>&1 9>&- &
        disown || true
        wait_for "$START_TIMEOUT" "mariadb-admin ping" mariadbd \
            mariadb-admin --no-defaults --socket="$DB_SOCKET" -u root ping
    fi
}

setup_db_user() {
    local pass=$1
    db_sql <<EOF || die_daemon mariadbd "$LOG/mariadb.log" "refused to create the database $DB_NAME and its user"
CREATE DATABASE IF NOT EXISTS $DB_NAME;
CREATE USER IF NOT EXISTS '$DB_USER'@'127.0.0.1' IDENTIFIED BY '$pass';
CREATE USER IF NOT EXISTS '$DB_USER'@'localhost' IDENTIFIED BY '$pass';
ALTER USER '$DB_USER'@'127.0.0.1' IDENTIFIED BY '$pass';
ALTER USER '$DB_USER'@'localhost' IDENTIFIED BY '$pass';
GRANT ALL ON $DB_NAME.* TO '$DB_USER'@'127.0.0.1';
GRANT ALL ON $DB_NAME.* TO '$DB_USER'@'localhost';
FLUSH PRIVILEGES;
EOF
}

start_slurmdbd() {
    if ! live_pid slurmdbd >/dev/null; then
        say "starting slurmdbd on 127.0.0.1:$DBD_PORT"
        slurmdbd </dev/null >>"$LOG/slurmdbd.log" 2>&1 9>&- || die_daemon slurmdbd "$LOG/slurmdbd.log" "failed to start"
    fi
    wait_for "$START_TIMEOUT" "sacctmgr list cluster" slurmdbd sacctmgr -n -P list cluster
    if [[ -z $(sacctmgr -n -P list cluster format=cluster where cluster="$CLUSTER" 2>/dev/null) ]]; then
        sacctmgr -i -Q add cluster "$CLUSTER" >/dev/null 2>&1 ||
            die_daemon slurmdbd "$LOG/slurmdbd.log" "would not register the cluster $CLUSTER (sacctmgr add cluster)"
    fi
}

node_state() { sinfo -h -N -n "$NODE" -o '%T' 2>/dev/null | head -n 1; }
node_idle() { [[ $(node_state) =~ ^(idle|mixed|allocated|completing|planned)$ ]]; }
sacct_works() { sacct -n -X -a -S now-1minutes -o JobID >/dev/null 2>&1; }

# healthy: every daemon runs, slurmctld answers, the node takes jobs, sacct answers. Sets UNHEALTHY (why not).
# A busy machine can make one answer slow: with every daemon running, retry for up to ~10 s before saying no (a
# restart would kill the jobs of whoever else uses the cluster).
UNHEALTHY=
healthy() {
    local d n p l try
    UNHEALTHY=
    for d in "${DAEMONS[@]}"; do
        IFS=: read -r n p l <<<"$d"
        live_pid "$n" >/dev/null || { UNHEALTHY="$n is not running"; return 1; }
    done
    [[ -r $CONF ]] || { UNHEALTHY="no $CONF"; return 1; }
    for try in 1 2 3 4 5; do
        ((try == 1)) || sleep 2
        if ! scontrol ping 2>/dev/null | grep -q UP; then
            UNHEALTHY="slurmctld does not answer (scontrol ping)"
        elif ! node_idle; then
            UNHEALTHY="node $NODE is '$(node_state)'"
        elif ! sacct_works; then
            UNHEALTHY="sacct does not answer"
        else
            UNHEALTHY=
            return 0
        fi
    done
    return 1
}

write_env() {
    printf 'SLURM_CONF=%s\nBIOBENCH_SLURM_DIR=%s\nBIOBENCH_SLURM_PARTITION=%s\n' "$CONF" "$DIR" "$PARTITION" \
        >"$DIR/env.tmp"
    mv "$DIR/env.tmp" "$DIR/env"
    sed 's/^/export /' "$DIR/env"
}

lock() {
    mkdir -p "$DIR"
    exec 9>"$DIR/.lock"
    flock -w 120 9 || die "another cluster.sh holds $DIR/.lock"
}

# start --lease ID (the test fixture, ID = its pid): note a user of the cluster; if this call started the daemons, the
# last lease's `release` stops them. A plain start (by hand) keeps the cluster up until `stop`.
cmd_start() {
    local lease=
    if [[ ${1:-} == --lease ]]; then
        lease=${2:?start --lease needs an id (a pid)}
        [[ $lease =~ ^[0-9]+$ ]] || die "start --lease: the id must be a pid, not '$lease'"
    fi
    [[ $(id -u) == 0 ]] || die "start needs root (munged runs as the munge user, slurmd as root)"
    local missing
    missing=$(missing_commands | tr '\n' ' ')
    [[ -z ${missing// /} ]] || die "Slurm is not installed (missing: $missing): run $0 install as root"
    lock
    local t0=$SECONDS
    if healthy; then
        say "cluster '$CLUSTER' already up in $DIR (reused)"
        take_lease "$lease" reused
        write_env
        return
    fi
    # Something is missing or unhealthy: start from a clean slate (the database survives in $DB_DIR).
    if live_pid munged >/dev/null || live_pid slurmctld >/dev/null || live_pid mariadbd >/dev/null; then
        say "the cluster in $DIR is not healthy ($UNHEALTHY): restarting it"
    fi
    stop_daemons quiet
    if ! getent hosts "$NODE" >/dev/null 2>&1; then
        say "adding '127.0.0.1 $NODE' to /etc/hosts (the node name must resolve)"
        echo "127.0.0.1 $NODE" >>/etc/hosts
    fi
    mkdir -p "$ETC" "$RUN" "$LOG" "$DIR/state" "$DIR/spool/slurmd"
    chmod 755 "$DIR"
    take_lease "$lease" started  # before the daemons: `release` after a failed start stops those that did start
    local pass
    if [[ ! -s $ETC/db.pass ]]; then
        (umask 077 && head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' >"$ETC/db.pass")
    fi
    pass=$(cat "$ETC/db.pass")
    start_munged
    start_mariadb
    setup_db_user "$pass"
    local first_id
    first_id=$(first_job_id)
    write_slurm_conf "$first_id"
    write_slurmdbd_conf "$pass"
    start_slurmdbd
    say "starting slurmctld on 127.0.0.1:$CTLD_PORT (FirstJobId=$first_id)"
    # -c: no jobs or node states from an earlier run.
    slurmctld -c -f "$CONF" </dev/null >>"$LOG/slurmctld.log" 2>&1 9>&- ||
        die_daemon slurmctld "$LOG/slurmctld.log" "failed to start"
    wait_for "$START_TIMEOUT" "scontrol ping" slurmctld bash -c 'scontrol ping | grep -q UP'
    say "starting slurmd (node $NODE)"
    slurmd -f "$CONF" </dev/null >>"$LOG/slurmd.log" 2>&1 9>&- || die_daemon slurmd "$LOG/slurmd.log" "failed to start"
    wait_for "$START_TIMEOUT" "sinfo: node $NODE idle" slurmd node_idle
    wait_for "$START_TIMEOUT" "sacct" slurmdbd sacct_works
    say "cluster '$CLUSTER' up in $((SECONDS - t0))s: partition $PARTITION, node $NODE," \
        "$(sinfo -h -N -n "$NODE" -o '%c CPUs, state %T'); logs in $LOG"
    write_env
}

take_lease() {
    local lease=$1 how=$2
    if [[ -z $lease ]]; then
        rm -f "$DIR/auto-stop"  # started or taken over by hand: stays up until `stop`
        return
    fi
    mkdir -p "$DIR/leases"
    : >"$DIR/leases/$lease"
    [[ $how == started ]] && : >"$DIR/auto-stop"
    return 0
}

# release ID: drop the lease; when none is left (leases of dead processes do not count) and a leased start brought
# the daemons up, stop them.
cmd_release() {
    local lease=${1:?release needs the id given to start --lease} f others=0
    [[ -d $DIR ]] || return 0
    lock
    rm -f "$DIR/leases/$lease"
    for f in "$DIR"/leases/*; do
        [[ -e $f ]] || continue
        if [[ -d /proc/${f##*/} ]]; then others=$((others + 1)); else rm -f "$f"; fi
    done
    if ((others > 0)); then
        say "left running: $others other session(s) use it"
    elif [[ ! -e $DIR/auto-stop ]]; then
        say "left running: it was started by hand (stop it with: $0 stop)"
    else
        local t0=$SECONDS
        stop_daemons
        rm -f "$DIR/env" "$DIR/auto-stop"
        say "stopped ($((SECONDS - t0))s): the last session using it is done"
    fi
}

# Kill one daemon by its pid file and wait for it to exit (TERM, then KILL after 15 s).
stop_one() {
    local name=$1 quiet=${2:-} pid i
    pid=$(live_pid "$name") || { rm -f "$(daemon_field "$name" 1)"; return 0; }
    [[ -n $quiet ]] || say "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 150; i++)); do
        [[ -d /proc/$pid ]] || break
        # A zombie that is not our child is as good as gone.
        [[ $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) == Z ]] && break
        sleep 0.1
    done
    if [[ -d /proc/$pid ]] && [[ $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) != Z ]]; then
        say "$name (pid $pid) ignored SIGTERM for 15s: SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        sleep 0.2
    fi
    rm -f "$(daemon_field "$name" 1)"
}

# Job steps (slurmstepd) outlive slurmd by design: end this cluster's, known by the SLURM_CONF slurmd gave them.
stop_stepds() {
    local p
    for p in /proc/[0-9]*; do
        [[ $(cat "$p/comm" 2>/dev/null) == slurmstepd ]] || continue
        if tr '\0' '\n' <"$p/environ" 2>/dev/null | grep -qx "SLURM_CONF=$CONF"; then
            kill -KILL "${p#/proc/}" 2>/dev/null || true
        fi
    done
}

stop_daemons() {
    local quiet=${1:-} i
    if live_pid slurmctld >/dev/null && [[ -r $CONF ]]; then
        # Cancel the jobs first, so their processes end with them.
        if [[ -n $(squeue -h -o %i 2>/dev/null) ]]; then
            [[ -n $quiet ]] || say "cancelling $(squeue -h -o %i | wc -l) job(s)"
            scancel --full -p "$PARTITION" >/dev/null 2>&1 || true
            squeue -h -o %i 2>/dev/null | xargs -r scancel >/dev/null 2>&1 || true
            for ((i = 0; i < 50; i++)); do
                [[ -z $(squeue -h -t all -o '%i %T' 2>/dev/null | grep -vE 'CANCELLED|COMPLETED|FAILED|TIMEOUT') ]] &&
                    break
                sleep 0.2
            done
        fi
    fi
    local n
    for n in slurmd slurmctld slurmdbd mariadbd munged; do
        stop_one "$n" "$quiet"
    done
    stop_stepds
}

cmd_stop() {
    [[ -d $DIR ]] || { say "nothing to stop in $DIR"; return 0; }
    lock
    local t0=$SECONDS
    stop_daemons
    rm -rf "$DIR/env" "$DIR/auto-stop" "$DIR/leases"
    say "stopped ($((SECONDS - t0))s)"
}

cmd_status() {
    local d n p l pid running=0 total=0
    for d in "${DAEMONS[@]}"; do
        IFS=: read -r n p l <<<"$d"
        total=$((total + 1))
        if pid=$(live_pid "$n"); then
            running=$((running + 1))
            echo "$n: running (pid $pid, log $l)"
        else
            echo "$n: not running (log $l)"
        fi
    done
    if ((running == 0)); then
        echo "cluster '$CLUSTER' in $DIR: not running"
        return 3
    fi
    echo "node $NODE: $(node_state || true)"
    if healthy; then
        echo "cluster '$CLUSTER' in $DIR: healthy; SLURM_CONF=$CONF partition=$PARTITION"
        return 0
    fi
    echo "cluster '$CLUSTER' in $DIR: NOT healthy ($UNHEALTHY; $running of $total daemons running)"
    return 1
}

case ${1:-} in
    install) cmd_install ;;
    start) cmd_start "${@:2}" ;;
    release) cmd_release "${2:-}" ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    env) [[ -s $DIR/env ]] && cat "$DIR/env" || die "no cluster running in $DIR" ;;
    *) echo "usage: $0 {install|start [--lease PID]|release PID|stop|status|env}" >&2; exit 2 ;;
esac
