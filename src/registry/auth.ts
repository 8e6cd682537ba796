// Registry credentials: docker's X-Registry-Auth header and docker-compatible config.json files.
//  - X-Registry-Auth: base64url(JSON {username,password,serveraddress,identitytoken?,registrytoken?});
//    "e30=" ({}) means "no credentials from the client".
//  - config.json ($DOCKER_CONFIG/config.json or ~/.docker/config.json, mode 0600):
//    {"auths":{"<server>":{"auth":"base64(user:pass)"}}}; docker.io is kept under
//    "https://index.docker.io/v1/". Credential helpers (credsStore) are not supported.
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

export interface Credentials {
  username?: string;
  password?: string;
  identitytoken?: string;
  registrytoken?: string;
  serveraddress?: string;
}

export const DOCKER_HUB_AUTH_KEY = 'https://index.docker.io/v1/';

/** Decodes X-Registry-Auth (standard or url-safe base64). Undefined when absent, empty or unusable. */
export function decodeRegistryAuth(header: string | string[] | undefined): Credentials | undefined {
  const h = Array.isArray(header) ? header[0] : header;
  if (!h) return undefined;
  try {
    const json = Buffer.from(h.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8');
    const v = JSON.parse(json) as Record<string, unknown>;
    if (!v || typeof v !== 'object') return undefined;
    const c: Credentials = {};
    for (const k of ['username', 'password', 'identitytoken', 'registrytoken', 'serveraddress'] as const) {
      const x = v[k] ?? v[k.charAt(0).toUpperCase() + k.slice(1)];
      if (typeof x === 'string' && x) c[k] = x;
    }
    return c.username || c.identitytoken || c.registrytoken ? c : undefined;
  } catch {
    return undefined;
  }
}

export function encodeRegistryAuth(c: Credentials | undefined): string {
  return Buffer.from(JSON.stringify(c ?? {})).toString('base64');
}

export function configDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.DOCKER_CONFIG || join(env.HOME || homedir(), '.docker');
}

/** The config.json key for a registry domain (docker.io -> https://index.docker.io/v1/). */
export function authKey(domain: string): string {
  return domain === 'docker.io' || domain === 'index.docker.io' || domain === 'registry-1.docker.io'
    ? DOCKER_HUB_AUTH_KEY
    : domain;
}

/** The registry domain a login server address names (https://index.docker.io/v1/ -> docker.io). */
export function domainOfServer(server: string): string {
  if (!server) return 'docker.io';
  const s = server.replace(/^https?:\/\//, '').replace(/\/.*$/, '');
  return s === 'index.docker.io' || s === 'registry-1.docker.io' || s === 'docker.io' ? 'docker.io' : s;
}

type ConfigFile = { auths?: Record<string, { auth?: string; identitytoken?: string }> } & Record<string, unknown>;

function readConfig(dir: string): ConfigFile {
  try {
    return JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as ConfigFile;
  } catch {
    return {};
  }
}

/** Credentials for a domain from config.json (matching keys with or without scheme/path). */
export function credentialsFor(domain: string, dir = configDir()): Credentials | undefined {
  const auths = readConfig(dir).auths ?? {};
  const want = authKey(domain);
  for (const [k, v] of Object.entries(auths)) {
    if (k !== want && domainOfServer(k) !== domain) continue;
    if (v.identitytoken) return { identitytoken: v.identitytoken, serveraddress: k };
    if (!v.auth) continue;
    const plain = Buffer.from(v.auth, 'base64').toString('utf8');
    const i = plain.indexOf(':');
    if (i < 0) continue;
    return { username: plain.slice(0, i), password: plain.slice(i + 1), serveraddress: k };
  }
  return undefined;
}

function writeConfig(dir: string, cfg: ConfigFile): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, 'config.json');
  const tmp = file + '.tmp' + process.pid;
  writeFileSync(tmp, JSON.stringify(cfg, null, '\t') + '\n', { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
  void dirname;
}

/** Stores credentials for a server (docker login). */
export function storeCredentials(server: string, username: string, password: string, dir = configDir()): void {
  const cfg = readConfig(dir);
  cfg.auths = cfg.auths ?? {};
  cfg.auths[authKey(domainOfServer(server))] = { auth: Buffer.from(`${username}:${password}`).toString('base64') };
  writeConfig(dir, cfg);
}

/** Removes credentials (docker logout). Returns whether there were any. */
export function eraseCredentials(server: string, dir = configDir()): boolean {
  const cfg = readConfig(dir);
  const key = authKey(domainOfServer(server));
  const found = Object.keys(cfg.auths ?? {}).filter((k) => k === key || domainOfServer(k) === domainOfServer(server));
  if (!found.length) return false;
  for (const k of found) delete cfg.auths![k];
  writeConfig(dir, cfg);
  return true;
}
