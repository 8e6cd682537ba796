// The real docker CLI 28 (/usr/local/bin/docker) against a cocon daemon: the docker-user suite.
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { useDaemon, docker, DOCKER_BIN } from '../helpers/daemon.js';
import { clientSuite } from './suite.js';

const h = useDaemon({ busybox: true });

clientSuite(h, {
  name: 'docker',
  run: docker,
  argv: (d, args) => {
    const cfg = join(d.root, 'docker-config');
    mkdirSync(cfg, { recursive: true });
    return { argv: [DOCKER_BIN, ...args], env: { DOCKER_HOST: d.host, DOCKER_CONFIG: cfg, DOCKER_CLI_HINTS: 'false' } };
  },
});
