import { REPLICA_SECTION } from '../instance/mycnf';

// Adds or drops the replica section of a rendered my.cnf, so a server made writable stays
// writable after a restart (and a demoted one stays read-only). Pure: text in, text out.
export function withReplicaSection(cnf: string, settings: Record<string, string | number> | undefined): string {
  const lines = cnf.split('\n');
  const start = lines.indexOf(`# ${REPLICA_SECTION}`);
  if (start >= 0) {
    let end = start + 1;
    while (end < lines.length && lines[end]!.trim() !== '' && !lines[end]!.startsWith('[')) end++;
    // The blank line before the section goes with it.
    lines.splice(start - 1, end - start + 1);
  }
  if (settings && Object.keys(settings).length > 0) {
    const client = lines.indexOf('[client]');
    const at = client > 0 ? client - 1 : lines.length;
    const section = ['', `# ${REPLICA_SECTION}`, ...Object.entries(settings).map(([k, v]) => `${k.replaceAll('_', '-')} = ${v}`)];
    lines.splice(at, 0, ...section);
  }
  return lines.join('\n');
}
