import { openDb, type DB } from './db';
import { EventsTable } from './events';
import { InstancesTable } from './instances';
import { NodesTable } from './nodes';
import { OperationsTable } from './operations';

export class Store {
  readonly nodes: NodesTable;
  readonly instances: InstancesTable;
  readonly operations: OperationsTable;
  readonly events: EventsTable;

  constructor(readonly db: DB) {
    this.nodes = new NodesTable(db);
    this.instances = new InstancesTable(db);
    this.operations = new OperationsTable(db);
    this.events = new EventsTable(db);
  }

  static open(file: string): Store {
    return new Store(openDb(file));
  }

  // better-sqlite3 is synchronous: a function run here sees and writes one consistent state, and
  // nothing else in this process runs in between.
  tx<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  close(): void {
    this.db.close();
  }
}
