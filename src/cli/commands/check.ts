// `cocon check [--format json]`: audits the daemon and its containers (src/cli/audit.ts) and exits
// 1 when an item fails, 0 otherwise (warnings do not fail).
import type { Command } from '../context.js';
import { audit, renderFindings, type ContainerFacts, type DaemonFacts } from '../audit.js';

export const checkCommand: Command = {
  name: 'check',
  usage: 'check [OPTIONS]',
  desc: 'Audit the daemon and its containers against the hardening points (exit 1 on a failure)',
  flags: [{ long: 'format', short: 'f', type: 'string', desc: 'Output format: "json" for a JSON array' }],
  maxArgs: 0,
  async run(ctx, o) {
    const client = await ctx.client();
    const info = await client.json<{
      DriverStatus?: Array<[string, string]> | null;
      CoconSecurity?: DaemonFacts['security'];
    }>('GET', '/info');
    const list = await client.json<Array<{ Id: string }>>('GET', '/containers/json', { query: { all: '1' } });
    const containers: ContainerFacts[] = [];
    for (const c of list ?? []) containers.push(await client.json<ContainerFacts>('GET', `/containers/${c.Id}/json`));
    const findings = audit({ driverStatus: info.DriverStatus ?? [], security: info.CoconSecurity }, containers);
    const format = o.str('format');
    if (format === 'json') ctx.out(JSON.stringify(findings, null, 2) + '\n');
    else if (format) {
      ctx.err(`unknown format "${format}": only json is supported\n`);
      return 125;
    } else ctx.out(renderFindings(findings));
    return findings.some((f) => f.status === 'fail') ? 1 : 0;
  },
};
