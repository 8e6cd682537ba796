// POST /auth (docker login): checks credentials against the registry and answers
// 200 {"Status":"Login Succeeded","IdentityToken":""}; a refusal is 401 with the registry's words.
// The daemon does not store credentials: clients keep them (config.json) and send X-Registry-Auth.
import type { Router } from './router.js';
import type { Services } from '../daemon/services.js';
import { Internal, InvalidArgument, Unauthorized } from '../core/errors.js';
import type { RegistryOptions } from '../registry/client.js';
import { domainOfServer } from '../registry/auth.js';

export function registryOptions(s: Services): RegistryOptions {
  return { insecure: s.config.insecureRegistries ?? [] };
}

export function registerAuthRoutes(r: Router, s: Services): void {
  r.post('/auth', async (ctx) => {
    const body = await ctx.json<{
      username?: string;
      password?: string;
      serveraddress?: string;
      identitytoken?: string;
    }>('auth');
    if (!body.username && !body.identitytoken) throw new InvalidArgument('username is required');
    const domain = domainOfServer(body.serveraddress ?? '');
    // the registry client is loaded on first use (an idle daemon does not hold it)
    const { RegistryClient, RegistryError } = await import('../registry/client.js');
    const client = new RegistryClient(
      domain,
      '',
      { username: body.username, password: body.password, identitytoken: body.identitytoken },
      registryOptions(s),
    );
    try {
      await client.login();
    } catch (e) {
      if (e instanceof RegistryError) throw e.status === 401 ? new Unauthorized(e.message) : new Internal(e.message);
      throw e;
    }
    ctx.send(200, { IdentityToken: '', Status: 'Login Succeeded' });
  });
}
