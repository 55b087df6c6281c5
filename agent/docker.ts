import { readFileSync } from 'node:fs';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import Docker from 'dockerode';
import { failedPrecondition } from '../src/errors';

// The only module that talks to the Docker Engine API (dockerode is imported nowhere else:
// .dependency-cruiser.cjs, docker-only-in-docker-module). Everything the agent owns carries these
// labels, and every listing filters on them, so the agent never sees (or touches) other
// containers on the host. Labels hold only what never changes for a container (managed, node,
// instance, disk, role); what can change (shape, role in a cluster, read-only) is in the
// instance's desired-state record (instance/record.ts). The other keys are read from containers
// made before the record existed.
export const LABEL = {
  managed: 'berth.managed',
  node: 'berth.node',
  instance: 'berth.instance',
  role: 'berth.role',
  disk: 'berth.disk',
  name: 'berth.name',
  port: 'berth.port',
  cpuMillis: 'berth.cpu-millis',
  memory: 'berth.memory-bytes',
  diskBytes: 'berth.disk-bytes',
  flavor: 'berth.flavor',
  version: 'berth.version',
} as const;

export type Role = 'mysqld' | 'init' | 'probe';

export interface OwnedContainer {
  id: string;
  name: string;
  state: string; // running, exited, restarting, created, …
  image: string;
  labels: Record<string, string>;
}

// A throwaway container of an instance's image that runs beside it (no network) while the agent
// reads or writes through a FIFO in its bind-mounted tmp dir: mbstream unpacking a copy,
// mariabackup making one. `limits`: 'init' gives it what an init container gets (INIT_LIMITS).
export interface HelperSpec {
  image: string;
  cmd: string[];
  binds: string[];
  labels: Record<string, string>;
  limits: 'init' | 'none';
  // 'host' for a client that must reach a server (the binlog archiver); no network otherwise.
  network?: 'none' | 'host';
}

export interface RunningHelper {
  // The exit code; -1 when Docker could not say.
  exited: Promise<number>;
  // The last 4000 characters of its stderr, and of stdout and stderr together.
  stderr(): string;
  output(): string;
  // Force-removes the container (once, however often it is called).
  remove(): Promise<void>;
}

// What a running container uses now (one-shot stats): memory without the page cache the
// kernel can drop (the sum `docker stats` shows) and the CPU time used since it started.
export interface ContainerUsage {
  memoryBytes: number;
  cpuTotalNs: number;
}

export interface MysqldSpec {
  name: string;
  image: string;
  cmd: string[];
  binds: string[];
  labels: Record<string, string>;
  nanoCpus: number;
  memoryBytes: number;
}

// Least privilege (docs/design.md, "Containers"): every capability dropped but the few that
// switching to the mysql user (and, for init, chown of the data directories) needs.
// nofile: 65536, or less where this host's hard limit is lower: an engine without
// CAP_SYS_RESOURCE refuses to raise a container above its own limit ("error setting rlimit type
// 7: operation not permitted"; this machine's dockerd has 20000).
const NOFILE = Math.min(65536, hostNofileHard());
const COMMON_LIMITS = {
  SecurityOpt: ['no-new-privileges'],
  LogConfig: { Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '3' } },
  Ulimits: [{ Name: 'nofile', Soft: NOFILE, Hard: NOFILE }],
};

function hostNofileHard(): number {
  try {
    const m = /^Max open files\s+\S+\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return m ? Number(m[1]) : 65536;
  } catch {
    return 65536;
  }
}
// mysqld starts as root only to switch to the mysql user (my.cnf user=mysql): SETUID and SETGID.
export const MYSQLD_LIMITS = { ...COMMON_LIMITS, CapDrop: ['ALL'], CapAdd: ['SETUID', 'SETGID', 'DAC_OVERRIDE'], PidsLimit: 1024 };
export const INIT_LIMITS = {
  ...COMMON_LIMITS,
  CapDrop: ['ALL'],
  CapAdd: ['CHOWN', 'SETUID', 'SETGID', 'DAC_OVERRIDE', 'FOWNER'],
  PidsLimit: 256,
  Memory: 1024 ** 3,
  MemorySwap: 1024 ** 3,
  NanoCpus: 2e9,
};

export class DockerEngine {
  private readonly api: Docker;

  constructor(socketPath: string) {
    this.api = new Docker({ socketPath });
  }

  async version(): Promise<string> {
    return (await this.api.version()).Version;
  }

  async imageId(image: string): Promise<string> {
    try {
      return (await this.api.getImage(image).inspect()).Id;
    } catch (err) {
      if (statusCode(err) === 404) {
        throw failedPrecondition(`image ${image} is not on this host: build it (npm run setup builds berth/mariadb:10.11) or pull it`);
      }
      throw err;
    }
  }

  // Runs a command to completion in a throwaway container (no network) and returns its output.
  // Used for `mysqld --version` and data directory initialization, never for serving.
  async runOnce(opts: { image: string; cmd: string[]; binds?: string[]; labels: Record<string, string>; timeoutMs: number }): Promise<{ exitCode: number; output: string }> {
    const c = await this.api.createContainer({
      Image: opts.image,
      Cmd: opts.cmd,
      Tty: true, // one raw stream: no multiplexed frames to decode
      Labels: opts.labels,
      HostConfig: { NetworkMode: 'none', Binds: opts.binds ?? [], ...INIT_LIMITS },
    });
    try {
      await c.start();
      const waited = (await withTimeout(c.wait(), opts.timeoutMs, `${opts.cmd.join(' ').slice(0, 80)} did not finish`)) as { StatusCode: number };
      const logs = (await c.logs({ stdout: true, stderr: true, follow: false })) as unknown as Buffer;
      return { exitCode: waited.StatusCode, output: logs.toString('utf8') };
    } finally {
      await c.remove({ force: true }).catch(() => undefined);
    }
  }

  async createAndStart(spec: MysqldSpec): Promise<string> {
    const c = await this.api.createContainer({
      name: spec.name,
      Image: spec.image,
      Cmd: spec.cmd,
      Labels: spec.labels,
      StopSignal: 'SIGTERM',
      HostConfig: {
        // Host networking: mysqld listens on the node's address and the instance's own port,
        // with no NAT in the path and no dependency on the docker0 bridge.
        NetworkMode: 'host',
        Binds: spec.binds,
        NanoCpus: spec.nanoCpus,
        Memory: spec.memoryBytes,
        // Equal to Memory: no swap, so a container over its limit is visible, not slow.
        MemorySwap: spec.memoryBytes,
        RestartPolicy: { Name: 'unless-stopped', MaximumRetryCount: 0 },
        ...MYSQLD_LIMITS,
      },
    });
    await c.start();
    return c.id;
  }

  async list(labels: Record<string, string>): Promise<OwnedContainer[]> {
    const filters = { label: Object.entries(labels).map(([k, v]) => `${k}=${v}`) };
    const rows = await this.api.listContainers({ all: true, filters: JSON.stringify(filters) });
    return rows.map((r) => ({
      id: r.Id,
      name: (r.Names[0] ?? '').replace(/^\//, ''),
      state: r.State,
      image: r.Image,
      labels: r.Labels,
    }));
  }

  async state(id: string): Promise<{ status: string; exitCode: number; restarting: boolean } | undefined> {
    try {
      const s = (await this.api.getContainer(id).inspect()).State;
      return { status: s.Status, exitCode: s.ExitCode, restarting: s.Restarting };
    } catch (err) {
      if (statusCode(err) === 404) return undefined;
      throw err;
    }
  }

  async start(id: string): Promise<void> {
    await this.api.getContainer(id).start().catch(ignore(304));
  }

  // mysqld needs time for a clean InnoDB shutdown; SIGKILL only after the grace period.
  async stop(id: string, graceSeconds = 60): Promise<void> {
    await this.api.getContainer(id).stop({ t: graceSeconds }).catch(ignore(304, 404));
  }

  // Live limits: CPU, and memory with swap equal to it (as at creation).
  async update(id: string, limits: { nanoCpus: number; memoryBytes: number }): Promise<void> {
    await this.api.getContainer(id).update({ NanoCpus: limits.nanoCpus, Memory: limits.memoryBytes, MemorySwap: limits.memoryBytes });
  }

  // What Docker enforces now (read back after an update).
  async limits(id: string): Promise<{ nanoCpus: number; memoryBytes: number; memorySwapBytes: number }> {
    const h = (await this.api.getContainer(id).inspect()).HostConfig;
    return { nanoCpus: h.NanoCpus ?? 0, memoryBytes: h.Memory ?? 0, memorySwapBytes: h.MemorySwap ?? 0 };
  }

  async remove(id: string): Promise<void> {
    await this.api.getContainer(id).remove({ force: true, v: true }).catch(ignore(404));
  }

  // SIGKILL, no shutdown; Docker's restart policy does not bring a killed container back. A
  // container that is not running (409) is left as it is.
  async kill(id: string): Promise<void> {
    await this.api.getContainer(id).kill().catch(ignore(409));
  }

  // When the container last started (RFC 3339, as Docker reports it): changes at each restart.
  async startedAt(id: string): Promise<string> {
    return (await this.api.getContainer(id).inspect()).State.StartedAt;
  }

  async usage(id: string): Promise<ContainerUsage> {
    const s = (await this.api.getContainer(id).stats({ stream: false, 'one-shot': true })) as unknown as DockerStats;
    const m = s.memory_stats ?? {};
    const st = m.stats ?? {};
    const reclaimable = st.total_inactive_file ?? st.inactive_file ?? 0;
    return { memoryBytes: Math.max(0, (m.usage ?? 0) - reclaimable), cpuTotalNs: s.cpu_stats?.cpu_usage?.total_usage ?? 0 };
  }

  // Attached before it starts, so no output is lost.
  async startHelper(spec: HelperSpec): Promise<RunningHelper> {
    const c = await this.api.createContainer({
      Image: spec.image,
      Cmd: spec.cmd,
      AttachStdout: true,
      AttachStderr: true,
      Labels: spec.labels,
      HostConfig: { NetworkMode: spec.network ?? 'none', Binds: spec.binds, ...(spec.limits === 'init' ? INIT_LIMITS : {}) },
    });
    const raw = (await c.attach({ stream: true, stdout: true, stderr: true })) as unknown as NodeJS.ReadableStream;
    const demux = new Demux();
    void pipeline(raw, demux).catch(() => undefined);
    demux.resume();
    await c.start();
    let removed: Promise<void> | undefined;
    return {
      exited: c.wait().then((r: { StatusCode: number }) => r.StatusCode, () => -1),
      stderr: () => demux.stderr,
      output: () => demux.output,
      remove: () => (removed ??= c.remove({ force: true }).then(() => undefined, () => undefined)),
    };
  }
}

interface DockerStats {
  memory_stats?: { usage?: number; stats?: { total_inactive_file?: number; inactive_file?: number } };
  cpu_stats?: { cpu_usage?: { total_usage?: number } };
}

const TAIL = 4000;

// Docker's multiplexed attach stream (8-byte frame headers: stream type, 0, 0, 0, size) split
// into stdout, passed on with backpressure, and stderr; the tails of stderr and of both
// together are kept for error messages.
export class Demux extends Transform {
  private pending: Buffer = Buffer.alloc(0);
  stderr = '';
  output = '';

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    while (this.pending.length >= 8) {
      const size = this.pending.readUInt32BE(4);
      if (this.pending.length < 8 + size) break;
      const payload = this.pending.subarray(8, 8 + size);
      const text = payload.toString('utf8');
      this.output = (this.output + text).slice(-TAIL);
      if (this.pending[0] === 2) this.stderr = (this.stderr + text).slice(-TAIL);
      else this.push(payload);
      this.pending = this.pending.subarray(8 + size);
    }
    cb();
  }
}

function statusCode(err: unknown): number | undefined {
  return typeof err === 'object' && err !== null && 'statusCode' in err ? (err as { statusCode: number }).statusCode : undefined;
}

function ignore(...codes: number[]) {
  return (err: unknown) => {
    if (!codes.includes(statusCode(err) ?? -1)) throw err;
  };
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} within ${Math.round(ms / 1000)} s`)), ms);
    }),
  ]);
}
