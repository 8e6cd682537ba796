// Schema migrations (src/store/db.ts) on a database left by an older daemon: migration 4 gives every
// recorded image a hold on its top layer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { openDb } from '../../src/store/db.js';

test('migration 4: images of a schema-3 database hold their top layers; an image without layers holds none', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cocon-mig-'));
  try {
    const path = join(dir, 'cocon.db');
    const old = new Database(path);
    old.exec(`CREATE TABLE images (id TEXT PRIMARY KEY, created TEXT NOT NULL, record TEXT NOT NULL);
      CREATE TABLE layers (chain_id TEXT PRIMARY KEY, diff_id TEXT NOT NULL, parent TEXT, size INTEGER NOT NULL);`);
    old
      .prepare('INSERT INTO images VALUES (?, ?, ?)')
      .run('sha256:aa', 'x', JSON.stringify({ chainIds: ['sha256:c1', 'sha256:c2'] }));
    old.prepare('INSERT INTO images VALUES (?, ?, ?)').run('sha256:bb', 'x', JSON.stringify({ chainIds: [] }));
    old.pragma('user_version = 3');
    old.close();
    const db = openDb(path);
    try {
      assert.equal(db.pragma('user_version', { simple: true }), 4);
      assert.deepEqual(db.prepare('SELECT holder, chain_id FROM layer_holds').all(), [
        { holder: 'image:sha256:aa', chain_id: 'sha256:c2' },
      ]);
      assert.deepEqual(db.prepare('SELECT COUNT(*) AS n FROM snapshots').get(), { n: 0 });
    } finally {
      db.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
