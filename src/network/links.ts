// docker's legacy --link on the default bridge, the pure part: the stored form of a link and the
// variables the linking container gets (ALIAS_PORT_80_TCP=tcp://ip:80, ALIAS_NAME, ALIAS_ENV_*).
import type { ContainerRecord } from '../containers/types.js';

/** "/name:/me/alias" (docker's stored form) or "name:alias" or "name" -> "name:alias". */
export function normLink(l: string): string {
  const [a, b] = l.split(':');
  const name = a.replace(/^\//, '');
  const alias = (b ?? name).split('/').pop() || name;
  return `${name}:${alias}`;
}

/** docker's legacy link variables (ALIAS_PORT_80_TCP=tcp://ip:80, ALIAS_NAME, ALIAS_ENV_*). */
export function linkEnv(alias: string, selfName: string, target: ContainerRecord, ip: string): string[] {
  const A = alias.toUpperCase().replace(/[^A-Z0-9_]/g, '_');
  const env: string[] = [`${A}_NAME=/${selfName}/${alias}`];
  const ports = Object.keys(target.config.ExposedPorts ?? {})
    .map((k) => {
      const [p, proto = 'tcp'] = k.split('/');
      return { p: Number(p), proto };
    })
    .sort((a, b) => a.p - b.p || a.proto.localeCompare(b.proto));
  if (ports.length) env.push(`${A}_PORT=${ports[0].proto}://${ip}:${ports[0].p}`);
  for (const { p, proto } of ports) {
    const P = `${A}_PORT_${p}_${proto.toUpperCase()}`;
    env.push(`${P}=${proto}://${ip}:${p}`, `${P}_ADDR=${ip}`, `${P}_PORT=${p}`, `${P}_PROTO=${proto}`);
  }
  for (const kv of target.config.Env ?? []) {
    const i = kv.indexOf('=');
    const k = kv.slice(0, i);
    if (i <= 0 || k === 'HOME' || k === 'PATH' || k === 'HOSTNAME') continue;
    env.push(`${A}_ENV_${k}=${kv.slice(i + 1)}`);
  }
  return env;
}
