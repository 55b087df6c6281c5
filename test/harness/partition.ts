import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

// Cuts one simulated host (an agent and its mysqld on their own 127.0.0.x) off from the others
// with iptables rules on the loopback interface only: every packet to or from that address on
// `lo` is dropped, except to and from `clientAddress` (a test client that must still reach the
// host, to see whether it keeps acknowledging writes). No rule names another interface, so
// nothing reaches off the machine. Every rule carries this partition's own comment and `heal`
// deletes exactly those; `healAll` removes what a crashed earlier run of this harness left.
//
// On loopback Linux picks 127.0.0.1 as the source of every connection, so an agent's own
// connections to the manager are cut only when it dials an address of its host (the manager
// is reached through a forwarder listening on the host's address: `forwarder.ts`).
const TAG_PREFIX = 'berth-test-partition';
const LOOPBACK = /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/;

export interface Partition {
  readonly address: string;
  readonly tag: string;
  heal(): void;
}

export function iptablesAvailable(): boolean {
  try {
    execFileSync('iptables', ['--version'], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
}

export function isolate(address: string, clientAddress?: string): Partition {
  if (!LOOPBACK.test(address) || address === '127.0.0.1') throw new Error(`only a 127.0.0.x address other than 127.0.0.1 may be cut off, not ${address}`);
  if (clientAddress && !LOOPBACK.test(clientAddress)) throw new Error(`the client address must be on loopback, not ${clientAddress}`);
  if (!iptablesAvailable()) throw new Error('iptables is missing: run npm run setup (it installs the iptables package)');
  const tag = `${TAG_PREFIX}-${address}-${randomBytes(3).toString('hex')}`;
  const except = clientAddress ? ['!', '-s', clientAddress] : [];
  const exceptTo = clientAddress ? ['!', '-d', clientAddress] : [];
  const rules = [
    ['-i', 'lo', '-d', address, ...except, '-m', 'comment', '--comment', tag, '-j', 'DROP'],
    ['-i', 'lo', '-s', address, ...exceptTo, '-m', 'comment', '--comment', tag, '-j', 'DROP'],
  ];
  const added: string[][] = [];
  try {
    for (const r of rules) {
      execFileSync('iptables', ['-I', 'INPUT', ...r], { stdio: 'pipe' });
      added.push(r);
    }
  } catch (err) {
    for (const r of added) remove(r);
    throw err;
  }
  let healed = false;
  return {
    address,
    tag,
    heal() {
      if (healed) return;
      for (const r of added) remove(r);
      healed = true;
    },
  };
}

// Rules of this harness left by a run that died before healing.
export function healAll(): number {
  let n = 0;
  for (const line of execFileSync('iptables', ['-S', 'INPUT'], { encoding: 'utf8' }).split('\n')) {
    if (!line.startsWith('-A INPUT ') || !line.includes(TAG_PREFIX)) continue;
    execFileSync('iptables', ['-D', 'INPUT', ...splitRule(line.slice('-A INPUT '.length))], { stdio: 'pipe' });
    n++;
  }
  return n;
}

function remove(rule: string[]): void {
  try {
    execFileSync('iptables', ['-D', 'INPUT', ...rule], { stdio: 'pipe' });
  } catch {
    // already gone
  }
}

// iptables -S quotes comments with spaces; ours have none, so whitespace splits it.
function splitRule(text: string): string[] {
  return text.trim().split(/\s+/).map((t) => t.replace(/^"|"$/g, ''));
}
