// Multi-stage resolution (pure): the ARGs before the first FROM, the stages (FROM image [AS name]),
// the --target stage, and what a `FROM x` or `COPY --from=x` names (an earlier stage or an image).
// Like docker's legacy builder, every stage up to the target is built, in order.
import { InvalidArgument } from '../core/errors.js';
import { ParseError, type Dockerfile, type Instruction } from './dockerfile.js';

export interface Stage {
  index: number;
  /** Lower-cased `AS` name, if any. */
  name?: string;
  /** The FROM instruction (its image word is expanded with the meta ARGs at build time). */
  from: Instruction;
  commands: Instruction[];
}

export interface Plan {
  /** ARG instructions before the first FROM. */
  metaArgs: Instruction[];
  /** The stages to build: up to and including the target. */
  stages: Stage[];
  /** Steps docker counts for `Step N/M`: meta ARGs, FROMs and commands of the built stages. */
  total: number;
}

const STAGE_NAME = /^[a-z][a-z0-9-_.]*$/;

/** FROM's words: image and optional `AS name`. */
export function fromWords(ins: Instruction): { image: string; name?: string } {
  const w = ins.rest.split(/\s+/).filter(Boolean);
  if (w.length !== 1 && !(w.length === 3 && w[1].toLowerCase() === 'as')) {
    throw new ParseError(ins.line, 'FROM requires either one or three arguments');
  }
  if (w.length === 1) return { image: w[0] };
  const name = w[2].toLowerCase();
  if (!STAGE_NAME.test(name))
    throw new ParseError(
      ins.line,
      `invalid name for build stage: "${w[2]}", name can't start with a number or contain symbols`,
    );
  return { image: w[0], name };
}

/** Splits a Dockerfile into meta ARGs and stages, up to `target` (a stage name). */
export function planBuild(df: Dockerfile, target?: string): Plan {
  const metaArgs: Instruction[] = [];
  const stages: Stage[] = [];
  for (const ins of df.instructions) {
    if (ins.cmd === 'from') {
      const { name } = fromWords(ins);
      if (name && stages.some((s) => s.name === name)) throw new ParseError(ins.line, `duplicate name ${name}`);
      stages.push({ index: stages.length, name, from: ins, commands: [] });
      continue;
    }
    if (!stages.length) {
      if (ins.cmd !== 'arg') throw new ParseError(ins.line, 'no build stage in current context');
      metaArgs.push(ins);
      continue;
    }
    stages[stages.length - 1].commands.push(ins);
  }
  if (!stages.length) throw new InvalidArgument('the Dockerfile (Dockerfile) cannot be empty');
  let last = stages.length - 1;
  if (target) {
    const i = stages.findIndex((s) => s.name === target.toLowerCase());
    if (i < 0) throw new InvalidArgument(`failed to reach build target ${target} in Dockerfile`);
    last = i;
  }
  const built = stages.slice(0, last + 1);
  const total = metaArgs.length + built.reduce((n, s) => n + 1 + s.commands.length, 0);
  return { metaArgs, stages: built, total };
}

/**
 * What `name` (a FROM image word or a COPY --from value) means in stage `current`: an earlier stage
 * (by name, or by index for --from), or an image reference. A stage cannot refer to itself or a later one.
 */
export function resolveFrom(
  plan: Plan,
  name: string,
  current: number,
  numeric: boolean,
): { stage: number } | { image: string } {
  const lower = name.toLowerCase();
  const byName = plan.stages.findIndex((s, i) => i < current && s.name === lower);
  if (byName >= 0) return { stage: byName };
  if (numeric && /^\d+$/.test(name)) {
    const n = Number(name);
    if (n >= current)
      throw new InvalidArgument(`invalid from flag value ${name}: refers to current or later build stage`);
    return { stage: n };
  }
  if (plan.stages.some((s, i) => i >= current && s.name === lower)) {
    throw new InvalidArgument(`invalid from flag value ${name}: stage ${name} is not built before it is used`);
  }
  return { image: name };
}
