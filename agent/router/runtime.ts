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
