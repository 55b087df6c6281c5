import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '../../src/log';
import { closedFrontends, renderConfig, runtimeCommands, serversLeaving, shapeOf, type RouterFrontend } from './config';
import { oldWorkers, runtimeCommand, runtimeError, sessionsTo } from './runtime';
import { parseShowStat, type FrontendStats } from './stats';

export interface RouterOptions {
  dir: string;
  bindHost: string;
  haproxy?: string;
}

export interface ApplyResult {
  applied: boolean;
  reloaded: boolean;
  stats: FrontendStats[];
}

const RESTART_BACKOFF_MS = 1000;

// One HAProxy per router node, in master-worker mode, supervised by the agent: its own config
// file and runtime socket under `dir`, restarted when it exits, reloaded (SIGUSR2: a new worker
// takes the listeners, the old one keeps its established sessions until they end) only when the
// frontends change. Every other change goes through the runtime socket. Bytes never pass
// through Node: the agent only writes the config and talks to the socket.
export class HaproxyRouter {
  private proc?: ChildProcess;
  private current: RouterFrontend[] = [];
  private generation = 0;
  private leaseTimer?: NodeJS.Timeout;
  private closed = false;
  private stopping = false;
  // Its last words, for an error that says why it did not come up.
  private lastStderr = '';
  // Calls run one at a time: the socket commands of one apply never interleave with another's.
  private chain: Promise<unknown> = Promise.resolve();
  readonly socket: string;
  private readonly master: string;
  private readonly cfg: string;
  private readonly pidFile: string;

  constructor(private readonly o: RouterOptions, private readonly log: Logger) {
    this.socket = path.join(o.dir, 'haproxy.sock');
    this.master = path.join(o.dir, 'master.sock');
    this.cfg = path.join(o.dir, 'haproxy.cfg');
    this.pidFile = path.join(o.dir, 'haproxy.pid');
  }

  apply(generation: number, frontends: RouterFrontend[], leaseMs: number): Promise<ApplyResult> {
    const run = this.chain.then(() => this.applyNow(generation, frontends, leaseMs));
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async applyNow(generation: number, frontends: RouterFrontend[], leaseMs: number): Promise<ApplyResult> {
    if (generation < this.generation) return { applied: false, reloaded: false, stats: await this.stats() };
    this.generation = generation;
    const reloaded = await this.converge(frontends);
    this.closed = false;
    // From when the routing is in place: a slow reload does not eat the lease.
    this.armLease(leaseMs);
    return { applied: true, reloaded, stats: await this.stats() };
  }

  // Reload when the shape changed or HAProxy is not running; the runtime socket otherwise.
  private async converge(to: RouterFrontend[]): Promise<boolean> {
    if (to.length === 0) {
      // HAProxy without a listener does not run: stopped until an endpoint comes back.
      await this.stopProcess();
      this.current = [];
      return false;
    }
    const leaving = serversLeaving(this.current, to);
    let reloaded = false;
    if (!this.proc || shapeOf(to) !== shapeOf(this.current)) {
      await this.writeConfig(to);
      await this.startOrReload();
      reloaded = true;
    } else {
      for (const c of runtimeCommands(this.current, to)) {
        const err = runtimeError(await runtimeCommand(this.socket, c));
        if (err) throw new Error(`HAProxy refused "${c}": ${err}`);
      }
      // The file follows, so a restart after a crash routes as the socket did.
      await this.writeConfig(to);
    }
    this.current = to;
    if (leaving.length) await this.shutOldSessions(leaving);
    return reloaded;
  }

  // Sessions an earlier reload left in an old worker, to servers taken out of service.
  private async shutOldSessions(leaving: { backend: string; server: string }[]): Promise<void> {
    for (const pid of oldWorkers(await this.masterCommand('show proc'))) {
      const sess = await this.masterCommand(`@!${pid} show sess`);
      for (const l of leaving) {
        for (const id of sessionsTo(sess, l.backend, l.server)) await this.masterCommand(`@!${pid} shutdown session ${id}`);
      }
    }
  }

  // The master re-executes itself on a reload and opens its CLI socket again: retried meanwhile.
  private async masterCommand(command: string, timeoutMs = 5000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        return await runtimeCommand(this.master, command);
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  private async writeConfig(fs_: RouterFrontend[]): Promise<void> {
    await fs.promises.mkdir(this.o.dir, { recursive: true, mode: 0o700 });
    const tmp = `${this.cfg}.tmp`;
    await fs.promises.writeFile(tmp, renderConfig(this.o.bindHost, fs_, { socket: this.socket, pidFile: this.pidFile }), { mode: 0o600 });
    await fs.promises.rename(tmp, this.cfg);
  }

  private async startOrReload(): Promise<void> {
    if (this.proc?.pid) {
      this.proc.kill('SIGUSR2');
    } else {
      this.start();
    }
    await this.waitForSocket();
  }

  // An HAProxy left by an earlier agent process (killed without stopping its children) holds
  // the ports: ended before this one starts, recognised by its pid file and command line.
  private endLeftover(): void {
    const pid = Number(fs.readFileSync(this.pidFile, 'utf8').trim() || 0);
    if (!pid) return;
    const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    if (cmd.includes('haproxy') && cmd.includes(this.cfg)) process.kill(pid, 'SIGKILL');
  }

  private start(): void {
    try {
      this.endLeftover();
    } catch {
      // No pid file or no such process: nothing left over.
    }
    const p = spawn(this.o.haproxy ?? 'haproxy', ['-W', '-db', '-S', `${this.master},mode,600`, '-f', this.cfg], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.proc = p;
    p.stderr?.setEncoding('utf8').on('data', (d: string) => {
      this.lastStderr = d.trim().slice(-500);
      this.log.info({ haproxy: d.trim().slice(0, 500) }, 'haproxy');
    });
    p.on('exit', (code, signal) => {
      const meant = this.proc !== p;
      if (this.proc === p) this.proc = undefined;
      if (this.stopping || meant) return;
      this.log.warn({ code, signal }, 'haproxy exited: restarting it with the last routing');
      setTimeout(() => void this.restart(), RESTART_BACKOFF_MS).unref();
    });
  }

  private async restart(): Promise<void> {
    if (this.proc || this.stopping) return;
    this.start();
    await this.waitForSocket().catch((err: Error) => this.log.warn({ err: err.message }, 'haproxy restart'));
  }

  // Ready when the socket answers a new worker's `show info` (the reload finished).
  private async waitForSocket(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    await new Promise((r) => setTimeout(r, 50));
    while (Date.now() < deadline) {
      try {
        const info = await runtimeCommand(this.socket, 'show info', 1000);
        if (/Pid:/.test(info) && (await this.workerHasConfig())) return;
      } catch (err) {
        last = (err as Error).message;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`HAProxy did not answer on ${this.socket} within ${timeoutMs} ms${last ? `: ${last}` : ''}${this.lastStderr ? `; it said: ${this.lastStderr}` : ''}`);
  }

  // The worker answering the socket has every frontend of the file (and not an older set).
  private async workerHasConfig(): Promise<boolean> {
    const want = [...fs.readFileSync(this.cfg, 'utf8').matchAll(/^frontend (\S+)/gm)].map((m) => m[1]!);
    const have = new Set((await this.stats()).map((s) => s.name));
    return want.every((n) => have.has(n)) && have.size === want.length;
  }

  async stats(): Promise<FrontendStats[]> {
    if (!this.proc) return [];
    return parseShowStat(await runtimeCommand(this.socket, 'show stat'));
  }

  // Not refreshed within the lease: every server to maintenance, sessions shut (fail closed).
  private armLease(leaseMs: number): void {
    if (this.leaseTimer) clearTimeout(this.leaseTimer);
    if (!leaseMs) return;
    this.leaseTimer = setTimeout(() => {
      if (this.closed || this.current.length === 0) return;
      this.log.warn({ leaseMs }, 'router: no routing from the manager within the lease, every endpoint closed');
      const run = this.chain.then(async () => {
        await this.converge(closedFrontends(this.current));
        this.closed = true;
      });
      this.chain = run.catch((err: Error) => this.log.error({ err: err.message }, 'router: closing the endpoints failed'));
    }, leaseMs);
    this.leaseTimer.unref();
  }

  // Ended on purpose (no endpoint left): not restarted.
  private async stopProcess(): Promise<void> {
    const p = this.proc;
    if (!p) return;
    this.proc = undefined;
    await new Promise<void>((r) => {
      p.once('exit', () => r());
      p.kill('SIGTERM');
    });
  }

  kill(): void {
    this.stopping = true;
    if (this.leaseTimer) clearTimeout(this.leaseTimer);
    this.proc?.kill('SIGTERM');
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.leaseTimer) clearTimeout(this.leaseTimer);
    await this.stopProcess();
  }
}
