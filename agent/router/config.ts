// The HAProxy configuration of a router node, rendered from the desired routing (pure).
// It always says the whole current state (addresses, maintenance), so a reload or a restart
// comes up routing exactly as the runtime socket had it.

export interface RouterServer {
  name: string;
  host: string;
  port: number;
  ready: boolean;
  backup: boolean;
}

export interface RouterFrontend {
  name: string;
  port: number;
  servers: RouterServer[];
}

export interface RouterPaths {
  socket: string;
  pidFile: string;
}

// Up to 80: a frontend is named c-<cluster>-rw[-2] (a cluster name has up to 63 characters).
const NAME = /^[a-z0-9][a-z0-9-]{0,79}$/;

// Names go into the config and socket commands verbatim: only a narrow alphabet is accepted.
export function checkFrontends(fs: RouterFrontend[]): string | undefined {
  const names = new Set<string>();
  const ports = new Set<number>();
  for (const f of fs) {
    if (!NAME.test(f.name)) return `frontend name "${f.name.slice(0, 90)}" is not [a-z0-9-] (at most 80)`;
    if (names.has(f.name)) return `frontend ${f.name} is given twice`;
    if (!(f.port > 1024 && f.port < 65536) || ports.has(f.port)) return `frontend ${f.name}: port ${f.port} is out of range or given twice`;
    names.add(f.name);
    ports.add(f.port);
    const servers = new Set<string>();
    for (const s of f.servers) {
      if (!NAME.test(s.name) || servers.has(s.name)) return `frontend ${f.name}: server name "${s.name.slice(0, 70)}" is not [a-z0-9-] or given twice`;
      if (!/^[0-9.]{7,15}$/.test(s.host) || !(s.port > 0 && s.port < 65536)) return `frontend ${f.name}: server ${s.name} has no IPv4 address and port`;
      servers.add(s.name);
    }
  }
  return undefined;
}

// What only a reload can change: frontends, their ports, their servers' names and backup flags.
// Everything else (address, port, ready) goes through the runtime socket.
export function shapeOf(fs: RouterFrontend[]): string {
  return JSON.stringify([...fs].sort((a, b) => a.name.localeCompare(b.name)).map((f) => [f.name, f.port, f.servers.map((s) => [s.name, s.backup])]));
}

export function renderConfig(bindHost: string, fs: RouterFrontend[], p: RouterPaths): string {
  const out = [
    'global',
    `  stats socket ${p.socket} mode 600 level admin expose-fd listeners`,
    `  pidfile ${p.pidFile}`,
    // Two descriptors per connection: HAProxy refuses to start when the process's hard limit is
    // below what maxconn needs (this machine's is 20000).
    '  maxconn 4000',
    'defaults',
    '  mode tcp',
    '  timeout connect 2s',
    // Database sessions idle for long; the server's wait_timeout ends them, not the proxy.
    '  timeout client 8h',
    '  timeout server 8h',
    // A server put in maintenance loses its sessions at once (on top of the explicit shutdown).
    '  default-server on-marked-down shutdown-sessions',
  ];
  for (const f of fs) {
    // No server to send it to (closed, failing over): refused at once, so a client fails fast
    // and retries instead of waiting for a greeting that never comes.
    out.push(`frontend ${f.name}`, `  bind ${bindHost}:${f.port}`, `  tcp-request connection reject if { nbsrv(${f.name}) lt 1 }`, `  default_backend ${f.name}`, `backend ${f.name}`);
    for (const s of f.servers) out.push(`  server ${s.name} ${s.host}:${s.port}${s.backup ? ' backup' : ''}${s.ready ? '' : ' disabled'}`);
  }
  return out.join('\n') + '\n';
}

// The runtime commands that take `from` to `to` (same shape). A server leaving service is put
// in maintenance and its sessions shut before anything else, so no client keeps a session to a
// server the manager has taken out; a server entering service gets its address first.
export function runtimeCommands(from: RouterFrontend[], to: RouterFrontend[]): string[] {
  const before = new Map<string, RouterServer>(from.flatMap((f) => f.servers.map((s) => [`${f.name}/${s.name}`, s] as const)));
  const off: string[] = [];
  const on: string[] = [];
  for (const f of to) {
    for (const s of f.servers) {
      const id = `${f.name}/${s.name}`;
      const b = before.get(id);
      const moved = !b || b.host !== s.host || b.port !== s.port;
      if (b?.ready && (!s.ready || moved)) off.push(`set server ${id} state maint`, `shutdown sessions server ${id}`);
      if (moved) on.push(`set server ${id} addr ${s.host} port ${s.port}`);
      if (s.ready && (!b?.ready || moved)) on.push(`set server ${id} state ready`);
    }
  }
  return [...off, ...on];
}

// The servers `from` -> `to` takes out of service (to maintenance, or moved elsewhere).
export function serversLeaving(from: RouterFrontend[], to: RouterFrontend[]): { backend: string; server: string }[] {
  const next = new Map(to.flatMap((f) => f.servers.map((s) => [`${f.name}/${s.name}`, s] as const)));
  return from.flatMap((f) =>
    f.servers
      .filter((s) => s.ready)
      .filter((s) => {
        const n = next.get(`${f.name}/${s.name}`);
        return !n || !n.ready || n.host !== s.host || n.port !== s.port;
      })
      .map((s) => ({ backend: f.name, server: s.name })),
  );
}

// Every server in maintenance with its sessions shut: how a router fails closed.
export function closedFrontends(fs: RouterFrontend[]): RouterFrontend[] {
  return fs.map((f) => ({ ...f, servers: f.servers.map((s) => ({ ...s, ready: false })) }));
}
