// Runs one command and measures it: wall time, CPU, peak RSS of the whole process tree, and bytes
// written to local disk by the whole tree.
//
// How (Linux only):
//  - The command runs under GNU time (`/usr/bin/time -f 'RPBENCH-TIME %M %U %S %x'`; the report is
//    the marked last line of stderr, so nothing goes to a file). time's %M is ru_maxrss from wait4(): the largest RSS any single process of the
//    tree reached (exact, including the last instant before exit); %U/%S are the CPU seconds of
//    the whole tree.
//  - A poller walks the tree every 10 ms (/proc/<pid>/task/<tid>/children) and sums the resident
//    pages (/proc/<pid>/statm) of every process below time: the peak of that sum catches
//    pipelines (curl | curl, tar | gzip) whose processes are resident at the same time.
//    Peak RSS = max(ru_maxrss, polled sum). A spike shorter than the poll interval in a
//    multi-process tree can be missed; for a single process ru_maxrss is exact.
//  - Disk: Linux adds a reaped child's I/O counters (and those of everything it reaped) to its
//    parent's, so the delta of this process's own /proc/self/io `write_bytes` across the run is
//    the sum over the whole tree (`write_bytes` counts bytes sent, or to be sent, to the storage
//    layer, i.e. page-cache pages dirtied on a disk-backed filesystem; pipes, sockets and tmpfs do
//    not count). The bench writes nothing itself while a command runs (its log lines wait).
//    `cancelled_write_bytes` (written then truncated or deleted before writeback) is reported
//    too. A process that daemonizes (re-parented to init) would escape this count; none of the
//    measured commands do.

import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

const PAGE = 4096;
const POLL_MS = 10;
const MARK = 'RPBENCH-TIME';

/** This process's I/O counters (its own + every reaped descendant's). */
export function selfIo() {
  const out = {};
  for (const line of readFileSync('/proc/self/io', 'utf8').trim().split('\n')) {
    const [k, v] = line.split(':');
    out[k.trim()] = Number(v);
  }
  return out;
}

function children(pid) {
  const out = [];
  let tids;
  try { tids = readdirSync(`/proc/${pid}/task`); } catch { return out; }
  for (const t of tids) {
    let s;
    try { s = readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8'); } catch { continue; }
    for (const c of s.trim().split(/\s+/)) if (c) out.push(Number(c));
  }
  return out;
}

function rssBytes(pid) {
  try { return Number(readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ')[1]) * PAGE; } catch { return 0; }
}

/** Sum of RSS of every process below `root` (root itself excluded: it is GNU time). */
function treeRss(root) {
  let sum = 0;
  let n = 0;
  const stack = children(root);
  while (stack.length) {
    const p = stack.pop();
    sum += rssBytes(p);
    n++;
    for (const c of children(p)) stack.push(c);
  }
  return { sum, n };
}

const HZ = 100; // USER_HZ of /proc/stat and /proc/<pid>/stat on Linux

/** Busy and steal jiffies of the whole machine. */
function systemTicks() {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, idle, iowait, irq, softirq, steal] = f;
  return { busy: user + nice + system + irq + softirq + steal, steal };
}

/** utime+stime jiffies of the given processes (all their threads). */
function pidTicks(pids) {
  let t = 0;
  for (const p of pids) {
    try {
      const s = readFileSync(`/proc/${p}/stat`, 'utf8');
      const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
      t += Number(f[11]) + Number(f[12]);
    } catch { /* gone */ }
  }
  return t;
}

let current;
/** Kills the running measured command (its process group), if any. */
export function killCurrent() {
  if (current?.pid) try { process.kill(-current.pid, 'SIGKILL'); } catch { /* gone */ }
}

/**
 * Runs cmd args; resolves { ok, code, signal, timedOut, wallMs, cpuMs, peakRss, maxRssSingle, treeRssPeak,
 * processes, diskWrite, diskCancelled, stdout, stderr }.
 */
export function measure(cmd, args, { env = process.env, cwd, timeoutMs = 180_000, input, watch = [] } = {}) {
  return new Promise((resolve, reject) => {
    const cap = 4 << 20;
    const out = [];
    const err = [];
    let outLen = 0;
    let errLen = 0;
    const io0 = selfIo();
    const sys0 = systemTicks();
    const watch0 = pidTicks(watch);
    const self0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    const child = spawn('/usr/bin/time', ['-f', `${MARK} %M %U %S %x`, '--', cmd, ...args], {
      cwd, env, detached: true, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    current = child;
    let treePeak = 0;
    let procs = 0;
    const poll = () => {
      if (!child.pid) return;
      const { sum, n } = treeRss(child.pid);
      if (sum > treePeak) treePeak = sum;
      if (n > procs) procs = n;
    };
    const timer = setInterval(poll, POLL_MS);
    setImmediate(poll);
    let timedOut = false;
    const killer = setTimeout(() => { timedOut = true; killCurrent(); }, timeoutMs);
    child.stdout.on('data', (c) => { if (outLen < cap) { out.push(c); outLen += c.length; } });
    let errTail = '';
    child.stderr.on('data', (c) => {
      if (errLen < cap) { err.push(c); errLen += c.length; }
      errTail = (errTail + c.toString('latin1')).slice(-4096);
    });
    if (input !== undefined) { child.stdin.on('error', () => {}); child.stdin.end(input); }
    child.on('error', (e) => { clearInterval(timer); clearTimeout(killer); current = undefined; reject(e); });
    let wallNs;
    child.on('exit', () => {
      wallNs = process.hrtime.bigint() - t0;
    });
    child.on('close', (code, signal) => {
      clearInterval(timer);
      clearTimeout(killer);
      current = undefined;
      const io1 = selfIo();
      const sys1 = systemTicks();
      const watchMs = ((pidTicks(watch) - watch0) * 1000) / HZ;
      const selfCpu = process.cpuUsage(self0);
      const benchMs = (selfCpu.user + selfCpu.system) / 1000;
      const wallMs = Number(wallNs ?? process.hrtime.bigint() - t0) / 1e6;
      const i = errTail.lastIndexOf(`${MARK} `);
      const fields = i < 0 ? [] : errTail.slice(i + MARK.length + 1).trim().split('\n')[0].split(' ');
      // time prints "Command exited with non-zero status N" before the format line when it fails.
      const [maxrssKB, user, sys, exit] = fields.map(Number);
      let stderr = Buffer.concat(err).toString('utf8');
      const j = stderr.lastIndexOf(`${MARK} `);
      if (j >= 0) stderr = stderr.slice(0, j).replace(/Command (exited with non-zero status \d+|terminated by signal \d+)\n$/, '');
      const maxRssSingle = Number.isFinite(maxrssKB) ? maxrssKB * 1024 : 0;
      const exitCode = Number.isFinite(exit) ? exit : code;
      resolve({
        ok: !timedOut && code === 0 && exitCode === 0,
        code: exitCode,
        signal,
        timedOut,
        wallMs,
        cpuMs: Number.isFinite(user) && Number.isFinite(sys) ? (user + sys) * 1000 : undefined,
        // the machine's busy CPU during the run, and the part of it used by neither the command,
        // nor the watched processes (the registries), nor the bench itself: other people's load
        watchedCpuMs: watch.length ? watchMs : undefined,
        machineBusyMs: ((sys1.busy - sys0.busy) * 1000) / HZ,
        stealMs: ((sys1.steal - sys0.steal) * 1000) / HZ,
        foreignCpuMs: Math.max(0, ((sys1.busy - sys0.busy) * 1000) / HZ - ((Number.isFinite(user) ? user + sys : 0) * 1000) - watchMs - benchMs),
        peakRss: Math.max(maxRssSingle, treePeak),
        maxRssSingle,
        treeRssPeak: treePeak,
        processes: procs,
        diskWrite: io1.write_bytes - io0.write_bytes,
        diskCancelled: io1.cancelled_write_bytes - io0.cancelled_write_bytes,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr,
      });
    });
  });
}
