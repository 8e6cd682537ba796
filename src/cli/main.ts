// cocon's command-line entry: `cocon daemon` starts the daemon; every other command is a client
// of the Docker Engine API (see ./commands/).
import { runDaemon } from '../daemon/main.js';

async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'daemon') { await runDaemon(argv.slice(1)); return -1; }
  process.stderr.write('cocon: client commands are not built yet\n');
  return 1;
}

main(process.argv.slice(2)).then((code) => { if (code >= 0) process.exitCode = code; }, (e: unknown) => {
  process.stderr.write(`cocon: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 125;
});
