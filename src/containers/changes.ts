// `docker diff`: what a container changed in its filesystem, read from its overlay upper dir.
// Kind 0 = modified, 1 = added, 2 = deleted (a whiteout), as docker's /containers/{id}/changes.
import { existsSync, lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { isOpaque } from '../sys/xattr.js';

export interface Change { Path: string; Kind: 0 | 1 | 2 }

/** Mount points the runtime creates in the upper dir (docker keeps them in an init layer). */
const RUNTIME_PATHS = new Set(['/etc/hostname', '/etc/hosts', '/etc/resolv.conf', '/dev', '/proc', '/sys', '/dev/shm', '/dev/pts', '/dev/mqueue', '/dev/console', '/dev/init']);

export async function changes(upper: string, lowerDirs: string[], mountPoints: string[] = []): Promise<Change[]> {
  const out: Change[] = [];
  const hidden = new Set([...RUNTIME_PATHS, ...mountPoints]);
  const inLower = (rel: string) => lowerDirs.some((d) => existsSync(join(d, rel)));
  const walk = async (rel: string): Promise<void> => {
    for (const name of readdirSync(join(upper, rel)).sort()) {
      const r = rel + '/' + name;
      const st = lstatSync(join(upper, r));
      if (st.isCharacterDevice() && st.rdev === 0) { out.push({ Path: r, Kind: 2 }); continue; }
      const kind = inLower(r) ? 0 : 1;
      if (!(kind === 1 && hidden.has(r))) out.push({ Path: r, Kind: kind });
      if (st.isDirectory()) {
        if (await isOpaque(join(upper, r))) {
          // An opaque dir hides everything below it in the image: report what it hid as deleted.
          for (const d of lowerDirs) {
            if (!existsSync(join(d, r))) continue;
            for (const hidden of readdirSync(join(d, r))) if (!existsSync(join(upper, r, hidden))) out.push({ Path: `${r}/${hidden}`, Kind: 2 });
          }
        }
        await walk(r);
      }
    }
  };
  await walk('');
  return out;
}
