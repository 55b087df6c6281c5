import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import type { PortalClient } from '../gen/berth/v1/Portal';
import type { AsyncClient } from '../rpc';
import { initCa, issueCert, ROLES, type Role } from '../tls/ca';
import { collect } from '../cliopts';

interface Out {
  json: () => boolean;
  print: (v: unknown) => void;
  table: (head: string[], rows: (string | number)[][]) => void;
}

const defaultDir = () => path.resolve(process.env.BERTH_STATE_DIR ?? '.berth', 'tls');

function clientOpt(v: string, prev: { name: string; role: Role }[]): { name: string; role: Role }[] {
  const [name, role] = v.split(':');
  if (!name || !(ROLES as readonly string[]).includes(role ?? '')) throw new InvalidArgumentError(`want NAME:ROLE with a role of ${ROLES.join(', ')}, got "${v}"`);
  return [...prev, { name, role: role as Role }];
}

// `certs` (the fleet CA, made with openssl) and `token` (bearer tokens, through the portal).
export function addSecurityCommands(program: Command, portal: () => AsyncClient<PortalClient>, out: Out): void {
  const certs = program.command('certs').description('the fleet CA and the certificates of the manager, agents and clients');
  certs
    .command('init')
    .description('make the CA, the manager certificate and an admin client certificate (kept if they exist), plus any --node and --client')
    .option('--dir <dir>', 'where to keep them (default: $BERTH_STATE_DIR/tls or .berth/tls)')
    .option('--node <name>', 'agent certificate for this node, repeatable', collect, [])
    .option('--client <name:role>', 'client certificate with a role (viewer, operator, admin), repeatable', clientOpt, [])
    .option('--host <name-or-ip>', "extra name or address in the manager's certificate, repeatable", collect, [])
    .option('--write-config <file>', "write a berthctl config file using the admin client certificate")
    .action((o: { dir?: string; node: string[]; client: { name: string; role: Role }[]; host: string[]; writeConfig?: string }, cmd: Command) => {
      const dir = path.resolve(o.dir ?? defaultDir());
      const made: string[] = [];
      if (initCa(dir)) made.push('ca');
      if (issueCert(dir, 'manager', 'manager', { hosts: o.host }).created) made.push('manager');
      const admin = issueCert(dir, 'admin', 'admin');
      if (admin.created) made.push('client admin (admin)');
      for (const n of o.node) {
        if (issueCert(dir, 'node', n).created) made.push(`node ${n}`);
        if (issueCert(dir, 'mysql', n).created) made.push(`mysql servers of ${n}`);
      }
      for (const c of o.client) if (issueCert(dir, c.role, c.name).created) made.push(`client ${c.name} (${c.role})`);
      if (o.writeConfig) {
        const manager = cmd.optsWithGlobals<{ manager?: string }>().manager ?? process.env.BERTH_MANAGER ?? '127.0.0.1:7400';
        fs.mkdirSync(path.dirname(path.resolve(o.writeConfig)), { recursive: true });
        fs.writeFileSync(o.writeConfig, JSON.stringify({ manager, ca: path.join(dir, 'ca.crt'), cert: admin.cert, key: admin.key }, null, 2) + '\n', { mode: 0o600 });
      }
      if (out.json()) out.print({ dir, made });
      else process.stdout.write(made.length ? `${dir}: made ${made.join(', ')}\n` : `${dir}: everything already there\n`);
    });
  certs
    .command('issue')
    .description('issue (or with --force re-issue, to rotate) one certificate signed by the CA')
    .option('--dir <dir>', 'the CA directory (default: $BERTH_STATE_DIR/tls or .berth/tls)')
    .option('--node <name>', "an agent certificate for this node, and its MySQL servers' certificate (give the node's address with --host)")
    .option('--client <name:role>', 'a client certificate with a role', clientOpt, [])
    .option('--manager-cert', "the manager's certificate")
    .option('--host <name-or-ip>', 'extra name or address in the certificate, repeatable', collect, [])
    .option('--force', 'replace an existing certificate and key')
    .action((o: { dir?: string; node?: string; client: { name: string; role: Role }[]; managerCert?: boolean; host: string[]; force?: boolean }) => {
      const dir = path.resolve(o.dir ?? defaultDir());
      if (!fs.existsSync(path.join(dir, 'ca.key'))) throw new Error(`no CA in ${dir}: run berthctl certs init first`);
      const opts = { hosts: o.host, force: o.force };
      const done = [
        ...(o.managerCert ? [issueCert(dir, 'manager', 'manager', opts)] : []),
        ...(o.node ? [issueCert(dir, 'node', o.node, opts), issueCert(dir, 'mysql', o.node, opts)] : []),
        ...o.client.map((c) => issueCert(dir, c.role, c.name, opts)),
      ];
      if (done.length === 0) throw new Error('say what to issue: --node, --client or --manager-cert');
      if (out.json()) out.print(done);
      else for (const d of done) process.stdout.write(`${d.created ? 'issued' : 'exists (use --force to replace)'}: ${d.cert} (serial ${new X509Certificate(fs.readFileSync(d.cert)).serialNumber})\n`);
      // A re-issue does not stop the old certificate: only a revocation does.
      if (o.force && !out.json()) process.stdout.write('the replaced certificate still works until it is revoked: berthctl certs revoke --serial <its serial> (or revoke by name before re-issuing)\n');
    });

  certs
    .command('revoke')
    .description('revoke a certificate at the manager (admin): by --serial or --file, or every certificate of a --node, --client or the manager issued up to now (re-issue it afterwards)')
    .option('--serial <hex>', 'the serial (openssl x509 -noout -serial)')
    .option('--file <crt>', 'the certificate file whose serial to revoke')
    .option('--node <name>', "every certificate of this node's agent issued up to now")
    .option('--client <name:role>', 'every certificate of this client issued up to now', clientOpt, [])
    .option('--manager-cert', "every certificate of the manager issued up to now (restart the manager with a new one first: agents refuse the revoked one)")
    .option('--reason <text>', 'kept with the record')
    .action(async (o: { serial?: string; file?: string; node?: string; client: { name: string; role: Role }[]; managerCert?: boolean; reason?: string }) => {
      const picks = [o.serial, o.file, o.node, o.client.length ? 'client' : undefined, o.managerCert ? 'manager' : undefined].filter(Boolean);
      if (picks.length !== 1 || o.client.length > 1) throw new Error('say exactly one of --serial, --file, --node, --client or --manager-cert');
      const serial = o.serial ?? (o.file ? new X509Certificate(fs.readFileSync(o.file)).serialNumber : '');
      const who = o.node ? { kind: 'node', name: o.node } : o.client[0] ? { kind: o.client[0].role, name: o.client[0].name } : o.managerCert ? { kind: 'manager', name: 'manager' } : { kind: '', name: '' };
      const r = await portal().revokeCertificate({ serial, ...who, reason: o.reason ?? '' });
      if (out.json()) out.print(r);
      else {
        const v = r.revoked!;
        process.stdout.write(v.serial ? `revoked certificate ${v.serial}\n` : `revoked every ${v.kind} certificate of ${v.name} issued up to ${v.issuedBefore}; re-issue it now (berthctl certs issue --force)\n`);
      }
    });
  certs
    .command('revoked')
    .description('the revocation list the manager enforces and pushes to agents')
    .action(async () => {
      const r = await portal().listRevokedCertificates({});
      if (out.json()) out.print(r);
      else out.table(['SERIAL', 'KIND', 'NAME', 'ISSUED UP TO', 'REVOKED', 'BY', 'REASON'], r.revoked.map((x) => [x.serial || '-', x.kind || '-', x.name || '-', x.issuedBefore || '-', x.revokedAt, x.revokedBy, x.reason]));
    });

  const token = program.command('token').description('bearer tokens for portal and admin HTTP callers (admin role)');
  token
    .command('create <name>')
    .requiredOption('--role <role>', `one of ${ROLES.join(', ')}`)
    .description('make a token; it is printed once and only its hash is kept')
    .action(async (name: string, o: { role: string }) => {
      const r = await portal().createToken({ name, role: o.role });
      if (out.json()) out.print(r);
      else process.stdout.write(`${r.token}\n`);
    });
  token
    .command('list')
    .action(async () => {
      const { tokens } = await portal().listTokens({});
      if (out.json()) out.print(tokens);
      else out.table(['NAME', 'ROLE', 'CREATED'], tokens.map((t) => [t.name, t.role, t.createdAt]));
    });
  token
    .command('revoke <name>')
    .action(async (name: string) => {
      const r = await portal().revokeToken({ name });
      if (out.json()) out.print(r);
      else process.stdout.write(r.existed ? `revoked ${name}\n` : `no token ${name}\n`);
    });
}
