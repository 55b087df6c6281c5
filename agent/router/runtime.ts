import net from 'node:net';

// One command on HAProxy's runtime (stats) socket: it answers and closes the connection.
export function runtimeCommand(socket: string, command: string, timeoutMs = 2000): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(socket);
    let out = '';
    const timer = setTimeout(() => s.destroy(new Error(`HAProxy did not answer "${command}" within ${timeoutMs} ms`)), timeoutMs);
    s.setEncoding('utf8');
    s.on('data', (d: string) => (out += d));
    s.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    s.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
    s.end(`${command}\n`);
  });
}

// A command HAProxy refused answers with a message it does not give on success.
export function runtimeError(answer: string): string | undefined {
  const a = answer.trim();
  if (!a || /^no need to change|changed from/i.test(a)) return undefined;
  return a;
}

// Old workers (after a reload) still carry their established sessions but no longer take
// commands on their proxies ("Proxy is disabled"): their sessions to a server are found in
// `show sess` through the master CLI and shut one by one.
export function oldWorkers(showProc: string): number[] {
  const out: number[] = [];
  let inOld = false;
  for (const line of showProc.split('\n')) {
    if (line.startsWith('#')) inOld = /old workers/.test(line);
    else if (inOld && /^\d+\s/.test(line)) out.push(Number(line.split(/\s+/)[0]));
  }
  return out;
}

export function sessionsTo(showSess: string, backend: string, server: string): string[] {
  return showSess
    .split('\n')
    .filter((l) => l.includes(` be=${backend} srv=${server} `))
    .map((l) => l.split(':')[0]!)
    .filter((id) => /^0x[0-9a-f]+$/.test(id));
}
