import mysql from 'mysql2/promise';

// MariaDB's unix_socket and MySQL's auth_socket check the peer's uid on the socket and need no
// data from the client; if the server asks for them by name, answer with an empty packet.
const socketAuth = () => () => Buffer.alloc(0);
const authPlugins = { unix_socket: socketAuth, auth_socket: socketAuth };

export async function connectSocket(socketPath: string, timeoutMs = 5000): Promise<mysql.Connection> {
  return mysql.createConnection({ socketPath, user: 'root', connectTimeout: timeoutMs, authPlugins, multipleStatements: false });
}

// ssl: verify the server against this CA (and its address against the certificate).
export async function connectTcp(opts: { host: string; port: number; user: string; password: string; timeoutMs?: number; ssl?: { ca: Buffer } }): Promise<mysql.Connection> {
  return mysql.createConnection({ host: opts.host, port: opts.port, user: opts.user, password: opts.password, connectTimeout: opts.timeoutMs ?? 5000, ...(opts.ssl ? { ssl: { ca: opts.ssl.ca, rejectUnauthorized: true } } : {}) });
}
