// The metadata store: one SQLite database (better-sqlite3, WAL) per daemon data root.
// Every change of state is one transaction. Schema changes are appended to MIGRATIONS, never edited:
// the database records how many it has applied (PRAGMA user_version).
import Database from 'better-sqlite3';
import { PRIVATE, privateFile, tighten } from '../sys/perms.js';

export type DB = Database.Database;

const MIGRATIONS: string[] = [
  // 1: containers, images, tags, layers
  `CREATE TABLE containers (
     id TEXT PRIMARY KEY,
     name TEXT NOT NULL UNIQUE,
     image_id TEXT NOT NULL,
     created TEXT NOT NULL,
     record TEXT NOT NULL            -- JSON: ContainerRecord (config, host config, state)
   );
   CREATE INDEX containers_image ON containers(image_id);
   CREATE TABLE images (
     id TEXT PRIMARY KEY,            -- sha256:<config digest>
     created TEXT NOT NULL,
     record TEXT NOT NULL            -- JSON: ImageRecord
   );
   CREATE TABLE image_tags (
     ref TEXT PRIMARY KEY,           -- normalised reference, e.g. docker.io/library/busybox:latest
     image_id TEXT NOT NULL REFERENCES images(id)
   );
   CREATE INDEX image_tags_image ON image_tags(image_id);
   CREATE TABLE layers (
     chain_id TEXT PRIMARY KEY,
     diff_id TEXT NOT NULL,
     parent TEXT,
     size INTEGER NOT NULL
   );`,
  // 2: volumes
  `CREATE TABLE volumes (
     name TEXT PRIMARY KEY,
     record TEXT NOT NULL            -- JSON: VolumeRecord
   );`,
  // 3: networks (Docker's network JSON) and endpoints (container x network: aliases, address, ports)
  `CREATE TABLE networks (
     id TEXT PRIMARY KEY,
     name TEXT NOT NULL UNIQUE,
     record TEXT NOT NULL            -- JSON: NetworkRecord
   );
   CREATE TABLE endpoints (
     key TEXT PRIMARY KEY,           -- <container id>:<network id>
     container_id TEXT NOT NULL,
     network_id TEXT NOT NULL,
     record TEXT NOT NULL            -- JSON: Endpoint (address while active, ports, aliases, links)
   );
   CREATE INDEX endpoints_container ON endpoints(container_id);`,
  // 4: snapshots that are not committed layers (active = writable, view = read-only; keyed by their
  //    user, e.g. a container id) and layer holds (who keeps which layer chain: a holder keeps its
  //    chain id and every parent of it). Images hold their top layer; existing images get theirs here.
  `CREATE TABLE snapshots (
     key TEXT PRIMARY KEY,
     kind TEXT NOT NULL CHECK (kind IN ('active', 'view')),
     parent TEXT,                    -- chain id of the committed layer below; NULL: an empty base
     upper TEXT,                     -- its own dir (an active one's upper; a view's stays empty),
                                     -- relative to the snapshotter root
     work TEXT,                      -- overlay work dir, relative to the snapshotter root (NULL: a view)
     created TEXT NOT NULL
   );
   CREATE INDEX snapshots_parent ON snapshots(parent);
   CREATE INDEX layers_parent ON layers(parent);
   CREATE TABLE layer_holds (
     holder TEXT NOT NULL,           -- 'image:sha256:<id>'
     chain_id TEXT NOT NULL,
     PRIMARY KEY (holder, chain_id)
   );
   CREATE INDEX layer_holds_chain ON layer_holds(chain_id);
   INSERT OR IGNORE INTO layer_holds (holder, chain_id)
     SELECT 'image:' || id, json_extract(record, '$.chainIds[#-1]') FROM images
     WHERE json_array_length(json_extract(record, '$.chainIds')) > 0;`,
];

export function openDb(path: string): DB {
  // 0600: the records hold containers' Env (passwords). SQLite gives -wal and -shm the database
  // file's mode when it creates them; ones an older cocon left 0644 are tightened here.
  privateFile(path, PRIVATE.file);
  for (const f of [`${path}-wal`, `${path}-shm`]) tighten(f, PRIVATE.file);
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  const applied = db.pragma('user_version', { simple: true }) as number;
  for (let i = applied; i < MIGRATIONS.length; i++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[i]);
      db.pragma(`user_version = ${i + 1}`);
    })();
  }
  return db;
}
