// Client-side registry credentials, kept like docker's CLI keeps them: config.json in
// $DOCKER_CONFIG or ~/.docker ({"auths":{"<server>":{"auth":"base64(user:password)"}}}), and sent to
// the daemon as X-Registry-Auth (base64url JSON {username,password,serveraddress}).
import { readFileSync, writeFileSync, mkdirSync, renameSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export const DOCKER_IO_KEY = 'https://index.docker.io/v1/';

export interface AuthConfig {
  username?: string;
  password?: string;
  serveraddress?: string;
  identitytoken?: string;
}

interface ConfigFile {
  auths?: Record<string, { auth?: string; identitytoken?: string }>;
  [k: string]: unknown;
}

export function configDir(env: NodeJS.ProcessEnv): string {
  return env.DOCKER_CONFIG || join(env.HOME || homedir(), '.docker');
}

// A string setting of the client config file (psFormat, imagesFormat, detachKeys, ...).
export function configSetting(env: NodeJS.ProcessEnv, key: string): string | undefined {
  const v = readConfig(env)[key];
  return typeof v === 'string' && v ? v : undefined;
}

function readConfig(env: NodeJS.ProcessEnv): ConfigFile {
  try {
    return JSON.parse(readFileSync(join(configDir(env), 'config.json'), 'utf8')) as ConfigFile;
  } catch {
    return {};
  }
}

function writeConfig(env: NodeJS.ProcessEnv, cfg: ConfigFile): void {
  const dir = configDir(env);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = join(dir, `config.json.${process.pid}.tmp`);
  writeFileSync(tmp, JSON.stringify(cfg, null, '\t') + '\n', { mode: 0o600 });
  renameSync(tmp, join(dir, 'config.json'));
}

// The config.json key for a registry: docker.io -> https://index.docker.io/v1/, others as given.
export function serverKey(server: string): string {
  const s = server.replace(/^https?:\/\//, '').replace(/\/.*$/, '');
  if (!s || s === 'docker.io' || s === 'index.docker.io' || s === 'registry-1.docker.io') return DOCKER_IO_KEY;
  return s;
}

export function authFor(env: NodeJS.ProcessEnv, domain: string): AuthConfig | undefined {
  const auths = readConfig(env).auths ?? {};
  const key = serverKey(domain);
  for (const [k, v] of Object.entries(auths)) {
    if (serverKey(k) !== key) continue;
    if (v.identitytoken) return { identitytoken: v.identitytoken, serveraddress: k };
    if (!v.auth) continue;
    const text = Buffer.from(v.auth, 'base64').toString('utf8');
    const i = text.indexOf(':');
    if (i < 0) continue;
    return { username: text.slice(0, i), password: text.slice(i + 1), serveraddress: k };
  }
  return undefined;
}

export function encodeAuthHeader(a: AuthConfig | undefined): string {
  return Buffer.from(JSON.stringify(a ?? {})).toString('base64url') || 'e30';
}

export function registryAuthHeader(env: NodeJS.ProcessEnv, domain: string): string {
  const a = authFor(env, domain);
  return a ? encodeAuthHeader(a) : 'e30=';
}

// Returns the file and whether the stored credentials changed.
export function saveAuth(
  env: NodeJS.ProcessEnv,
  server: string,
  username: string,
  password: string,
): { file: string; changed: boolean } {
  const cfg = readConfig(env);
  const key = serverKey(server);
  const auth = Buffer.from(`${username}:${password}`).toString('base64');
  const changed = cfg.auths?.[key]?.auth !== auth;
  cfg.auths = { ...(cfg.auths ?? {}), [key]: { auth } };
  writeConfig(env, cfg);
  return { file: join(configDir(env), 'config.json'), changed };
}

export function removeAuth(env: NodeJS.ProcessEnv, server: string): boolean {
  const cfg = readConfig(env);
  const key = serverKey(server);
  let found = false;
  for (const k of Object.keys(cfg.auths ?? {}))
    if (serverKey(k) === key) {
      delete cfg.auths![k];
      found = true;
    }
  if (found) writeConfig(env, cfg);
  return found;
}
