// The import rules of berth's code, checked by `npm run check:deps` (scripts/test.sh runs it
// before the tests, so CI fails on a violation). Tests are left out: a test may import any
// layer to build what it checks.
//
// manager/ is layered; a folder imports only folders below it, never one above, so no two
// folders import each other. From the bottom up:
//
//   store                      SQLite tables and migrations
//   agents, auth, leader       the agent client pool; principals and tokens; the leader lease
//   scheduler                  pure placement rules and the in-memory Snapshot they read
//   state                      FleetState, the one owner of fleet state: it owns the Snapshot
//                              and schedules inside its transactions, hence above the scheduler
//   capacity, movement, clusters, endpoints   what operations are made of
//   operations                 the engine and the operation types (each owns its admission)
//   health, expansion, backups reconcilers that watch the fleet and start operations (backups:
//                              the backup scheduler, retention and restore drills)
//   api, http                  the gRPC and admin HTTP edges
//   main.ts                    wiring
//
// Folders in one row are ordered too (a folder may import those to its left): that keeps
// siblings from importing each other both ways. A new folder under manager/ must be placed here.
const LAYERS = [
  ['store'],
  ['agents', 'auth', 'leader'],
  ['scheduler'],
  ['state'],
  ['capacity', 'movement', 'clusters', 'endpoints'],
  ['operations'],
  ['health', 'expansion', 'backups'],
  ['api', 'http'],
];
const ORDER = LAYERS.flat();
const TESTS = '\\.test\\.ts$';

const upward = ORDER.map((folder, i) => ({
  name: `layer-${folder}`,
  comment: `manager/${folder}/ imports only folders below it (.dependency-cruiser.cjs, LAYERS)`,
  severity: 'error',
  from: { path: `^manager/${folder}/`, pathNot: TESTS },
  to: { path: `^manager/(${[...ORDER.slice(i + 1), 'main\\.ts$'].join('|')})(/|$)` },
}));

module.exports = {
  forbidden: [
    ...upward,
    {
      name: 'layer-unplaced-folder',
      comment: 'every folder under manager/ has its place in LAYERS (.dependency-cruiser.cjs)',
      severity: 'error',
      from: { path: `^manager/(?!(${ORDER.join('|')})/)[^/]+/`, pathNot: TESTS },
      to: { path: '^manager/' },
    },
    {
      name: 'no-circular',
      comment: 'no import cycle, between folders or inside one',
      severity: 'error',
      from: { path: '^(manager|agent|src)/', pathNot: TESTS },
      to: { circular: true },
    },
    {
      name: 'shared-code-stays-shared',
      comment: 'src/ is shared by the manager, the agent and berthctl: it imports neither',
      severity: 'error',
      from: { path: '^src/', pathNot: TESTS },
      to: { path: '^(manager|agent)/' },
    },
    // The boundaries of issue 19 (docs/design.md, "Boundaries"): each outside system is reached
    // through one module. Statements themselves are checked by src/boundaries.test.ts.
    {
      name: 'docker-only-in-docker-module',
      comment: 'only agent/docker.ts talks to the Docker Engine: the others get narrow methods there',
      severity: 'error',
      from: { path: '^(manager|agent|src)/', pathNot: `^agent/docker\\.ts$|${TESTS}` },
      to: { path: '(^|/)node_modules/(@types/)?dockerode/' },
    },
    {
      name: 'mysql-driver-only-in-connect',
      comment: 'mysql2 is opened in src/mysql/connect.ts only',
      severity: 'error',
      from: { path: '^(manager|agent|src)/', pathNot: `^src/mysql/connect\\.ts$|${TESTS}` },
      to: { path: '(^|/)node_modules/(@types/)?mysql2/' },
    },
    {
      name: 'one-mysql-session-helper',
      comment: 'the agent opens MySQL sessions through agent/session.ts only (statements from the Dialect)',
      severity: 'error',
      from: { path: '^(manager|agent|src)/', pathNot: `^agent/session\\.ts$|${TESTS}` },
      to: { path: '^src/mysql/connect\\.ts$' },
    },
    {
      name: 'sqlite-only-in-store',
      comment: 'only manager/store/ opens and queries SQLite; everything else calls its tables',
      severity: 'error',
      from: { path: '^(manager|agent|src)/', pathNot: `^manager/store/|${TESTS}` },
      to: { path: '(^|/)node_modules/(@types/)?better-sqlite3/' },
    },
    {
      name: 'agent-apart-from-manager',
      comment: 'the agent and the manager talk over gRPC only',
      severity: 'error',
      from: { path: '^agent/', pathNot: TESTS },
      to: { path: '^manager/' },
    },
  ],
  options: {
    // Type-only imports count: they tie modules together as much as value imports do.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    doNotFollow: { path: 'node_modules' },
    exclude: { path: `${TESTS}|^src/gen/` },
  },
};
