// The build's progress stream in docker's JSON message format (pure), as dockerd's legacy builder
// writes it: `Step N/M : <instruction>` then "\n" as a separate message, ` ---> Running in <id>`,
// the RUN's output, `Removing intermediate container <id>`, ` ---> Using cache`, ` ---> <id>`,
// then `{"aux":{"ID":...}}`, `Successfully built <id>`, `Successfully tagged <name>`. A failed
// step ends with errorDetail {code, message}.
import type { JsonMessage } from '../images/progress.js';

export const short = (id: string): string => id.replace(/^sha256:/, '').slice(0, 12);

export function stepMessages(n: number, total: number, original: string): JsonMessage[] {
  return [{ stream: `Step ${n}/${total} : ${original}` }, { stream: '\n' }];
}
export const imageMessage = (id: string): JsonMessage => ({ stream: ` ---> ${short(id)}\n` });
export const usingCache = (): JsonMessage => ({ stream: ' ---> Using cache\n' });
export const runningIn = (containerId: string): JsonMessage => ({ stream: ` ---> Running in ${short(containerId)}\n` });
export const removingContainer = (containerId: string): JsonMessage => ({
  stream: `Removing intermediate container ${short(containerId)}\n`,
});
export const triggers = (n: number): JsonMessage => ({
  stream: `# Executing ${n} build trigger${n === 1 ? '' : 's'}\n`,
});
export const auxId = (id: string): JsonMessage => ({ aux: { ID: id } });
export const successBuilt = (id: string): JsonMessage => ({ stream: `Successfully built ${short(id)}\n` });
export const successTagged = (name: string): JsonMessage => ({ stream: `Successfully tagged ${name}\n` });

/** The message of a RUN that exited non-zero, as docker words it (exec form shows the JSON array). */
export function runFailed(cmd: string[], json: boolean, code: number): string {
  const shown = json ? `[${cmd.map((c) => JSON.stringify(c)).join(' ')}]` : cmd.join(' ');
  return `The command '${shown}' returned a non-zero code: ${code}`;
}

export function errorMessage(message: string, code?: number): JsonMessage {
  return code !== undefined
    ? { errorDetail: { code, message }, error: message }
    : { errorDetail: { message }, error: message };
}
