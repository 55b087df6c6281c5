import fs from 'node:fs';

// HAProxy processes the agents of a run started under `dir` (their config lives there): ended
// by pid when an agent died before its children. Only ours: the command line names the run's dir.
export function endProxiesUnder(dir: string): void {
  for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (cmd.startsWith('haproxy') && cmd.includes(dir)) process.kill(Number(pid), 'SIGKILL');
    } catch {
      // Gone meanwhile.
    }
  }
}
