import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log';
import { Snapshot } from '../scheduler/snapshot';
import { DEFAULT_SCHEDULER_CONFIG } from '../scheduler/types';
import { UsageMap } from '../state/usage';
import { Store } from '../store/index';
import { buildAdminServer } from './server';

const ROOT = path.resolve(__dirname, '..', '..');
const RULES = path.join(ROOT, 'deploy', 'prometheus', 'berth-alerts.yml');
const DASHBOARD = path.join(ROOT, 'deploy', 'grafana', 'berth-dashboard.json');

interface Panel {
  title: string;
  targets: { expr: string }[];
  gridPos: { x: number; y: number; w: number; h: number };
}

// What ships for a team's own Prometheus and Grafana (deploy/): the rules pass promtool (Debian's
// prometheus package, installed by set-up) and their own tests, and every query of the rules
// and the dashboard names only metrics the manager exports, read from its real /metrics.
describe('deploy/: Prometheus rules and the Grafana dashboard', () => {
  let exported: Set<string>;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-monitoring-'));
  const dashboard = JSON.parse(fs.readFileSync(DASHBOARD, 'utf8')) as { uid: string; schemaVersion: number; panels: Panel[]; templating: { list: { name: string }[] } };
  const exprs = dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr));

  beforeAll(async () => {
    const store = new Store(Store.open(':memory:').db);
    const app = await buildAdminServer({ store, snapshot: Snapshot.fromStore([], []), usage: new UsageMap(), scheduler: DEFAULT_SCHEDULER_CONFIG, log: createLogger('test', 'silent'), token: 't' });
    const body = (await app.inject({ method: 'GET', url: '/metrics' })).body;
    await app.close();
    exported = new Set<string>();
    for (const [, name, type] of body.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
      exported.add(name!);
      if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) exported.add(name! + s);
    }
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  const berthNames = (text: string) => [...new Set([...text.matchAll(/\bberth_[a-z_]+\b/g)].map((m) => m[0]))];

  it('name only metrics the manager exports', () => {
    const rules = fs.readFileSync(RULES, 'utf8');
    const used = [...berthNames(rules), ...exprs.flatMap(berthNames)];
    expect(used.length).toBeGreaterThan(10);
    expect(used.filter((n) => !exported.has(n))).toEqual([]);
  });

  it('the rules pass promtool check and their unit tests (promtool test rules)', () => {
    expect(execFileSync('promtool', ['check', 'rules', RULES], { encoding: 'utf8' })).toMatch(/SUCCESS: \d+ rules found/);
    expect(execFileSync('promtool', ['test', 'rules', 'berth-alerts.test.yml'], { cwd: path.dirname(RULES), encoding: 'utf8' })).toMatch(/SUCCESS/);
  });

  it('every dashboard query is valid PromQL (checked by promtool as a recording rule), and the panels do not overlap', () => {
    // Grafana's variables as Prometheus would see them once Grafana has put their values in.
    const promql = exprs.map((e) => e.replaceAll('$__rate_interval', '5m').replaceAll('$zone', '.*'));
    const file = path.join(dir, 'dashboard-queries.yml');
    fs.writeFileSync(file, ['groups:', '  - name: dashboard', '    rules:', ...promql.flatMap((e, i) => [`      - record: dashboard_query_${i}`, `        expr: ${JSON.stringify(e)}`])].join('\n') + '\n');
    expect(execFileSync('promtool', ['check', 'rules', file], { encoding: 'utf8' })).toMatch(new RegExp(`SUCCESS: ${promql.length} rules found`));
    expect(dashboard).toMatchObject({ uid: 'berth-fleet', schemaVersion: 39 });
    expect(dashboard.templating.list.map((v) => v.name)).toEqual(['datasource', 'zone']);
    const cells = new Set<string>();
    for (const p of dashboard.panels) {
      expect(p.gridPos.x + p.gridPos.w).toBeLessThanOrEqual(24);
      for (let x = p.gridPos.x; x < p.gridPos.x + p.gridPos.w; x++) {
        for (let y = p.gridPos.y; y < p.gridPos.y + p.gridPos.h; y++) {
          expect(cells.has(`${x},${y}`), `${p.title} overlaps another panel`).toBe(false);
          cells.add(`${x},${y}`);
        }
      }
    }
  });
});
