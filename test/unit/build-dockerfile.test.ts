import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDockerfile, ParseError } from '../../src/build/dockerfile.js';
import { processWord, processWords, keyValues, runEnv, type Vars } from '../../src/build/vars.js';
import { planBuild, resolveFrom } from '../../src/build/stages.js';
import {
  applyMetadata,
  cacheKey,
  commandLine,
  declareArgs,
  nopCreatedBy,
  parseDuration,
  runArgs,
  runCreatedBy,
  sourcesDigest,
  unusedArgs,
  type StageState,
} from '../../src/build/instructions.js';
import { errorMessage, runFailed, stepMessages, imageMessage, successBuilt } from '../../src/build/progress.js';
import { isIgnored, parseDockerignore } from '../../src/build/dockerignore.js';
import { goJson } from '../../src/images/progress.js';
import { InvalidArgument } from '../../src/core/errors.js';

test('parser: continuations, comments, flags, JSON and shell forms', () => {
  const df = parseDockerfile(
    [
      'FROM busybox AS base',
      '# a comment',
      'RUN echo a \\',
      '  # comment inside a continuation',
      '',
      '  && echo b',
      'copy --from=base --chown=1:2 a.txt /x/',
      'CMD ["sh", "-c", "echo hi"]',
      'ENTRYPOINT [not json',
      'healthcheck --interval=5s CMD true',
    ].join('\n'),
  );
  assert.equal(df.escape, '\\');
  const [from, run, copy, cmd, ep, hc] = df.instructions;
  assert.equal(from.cmd, 'from');
  assert.equal(run.cmd, 'run');
  assert.equal(run.line, 3);
  assert.equal(run.original, 'RUN echo a   && echo b');
  assert.equal(run.json, undefined);
  assert.deepEqual(copy.flags, { from: 'base', chown: '1:2' });
  assert.equal(copy.rest, 'a.txt /x/');
  assert.deepEqual(cmd.json, ['sh', '-c', 'echo hi']);
  assert.equal(ep.json, undefined);
  assert.equal(hc.flags.interval, '5s');
});

test('parser: escape directive and line numbers in errors', () => {
  const df = parseDockerfile('# escape=`\nFROM busybox\nRUN echo a `\n b\n');
  assert.equal(df.escape, '`');
  assert.equal(df.instructions[1].original, 'RUN echo a  b');
  assert.throws(
    () => parseDockerfile('FROM busybox\n\nFOO bar\n'),
    (e: unknown) =>
      e instanceof ParseError &&
      e instanceof InvalidArgument &&
      e.message === 'Dockerfile parse error line 3: unknown instruction: FOO',
  );
  assert.throws(
    () => parseDockerfile('FROM busybox\nSHELL /bin/bash\n'),
    /line 2: SHELL requires the arguments to be in JSON form/,
  );
  assert.throws(() => parseDockerfile('FROM busybox\nENV\n'), /line 2: ENV requires at least one argument/);
  assert.throws(() => parseDockerfile('# escape=x\nFROM busybox\n'), /invalid escape token/);
  // a directive after an instruction is an ordinary comment
  assert.equal(parseDockerfile('FROM busybox\n# escape=`\n').escape, '\\');
});

test('variables: ${VAR}, defaults, alternatives, quotes and escapes', () => {
  const v: Vars = new Map([
    ['A', '1'],
    ['E', ''],
    ['P', '/usr/bin'],
  ]);
  assert.equal(processWord('$A-${A}', v), '1-1');
  assert.equal(processWord('${NOPE:-dflt}', v), 'dflt');
  assert.equal(processWord('${E:-dflt}', v), 'dflt');
  assert.equal(processWord('${E-dflt}', v), '');
  assert.equal(processWord('${A:+alt}', v), 'alt');
  assert.equal(processWord('${NOPE:+alt}', v), '');
  assert.equal(processWord('${NOPE:-x y}', v), 'x y');
  assert.equal(processWord('\'$A\' "$A" \\$A', v), '$A 1 $A');
  assert.equal(processWord('${NOPE:-$P}/bin', v), '/usr/bin/bin');
  assert.deepEqual(processWords('a "b c" $A', v), ['a', 'b c', '1']);
  assert.equal(processWord('`$A', v, '`'), '$A');
  assert.deepEqual(keyValues('env', 'X=$A Y="two words"', v), [
    ['X', '1'],
    ['Y', 'two words'],
  ]);
  assert.deepEqual(keyValues('env', 'X  hello $A', v), [['X', 'hello 1']]);
  assert.throws(() => keyValues('env', 'X=1 Y', v), /can't find = in "Y"/);
  assert.throws(() => processWord('${A', v), InvalidArgument);
  assert.deepEqual(
    runEnv(
      ['PATH=/bin', 'A=env'],
      new Map([
        ['A', 'arg'],
        ['B', '2'],
      ]),
    ),
    ['PATH=/bin', 'A=env', 'B=2'],
  );
});

function stage(): StageState {
  return {
    config: { Env: ['PATH=/bin'] },
    shell: ['/bin/sh', '-c'],
    args: new Map(),
    metaArgs: new Map(),
    escape: '\\',
  };
}

test('ARG scoping: meta ARGs, --build-arg, ENV shadows ARG', () => {
  const df = parseDockerfile('ARG V=1\nFROM busybox:${V}\nARG V\nARG W=w\nENV W=env\nRUN echo');
  const plan = planBuild(df);
  const meta: Vars = new Map();
  declareArgs(plan.metaArgs[0], meta, meta, { V: '9' });
  assert.equal(meta.get('V'), '9');
  const s = stage();
  s.metaArgs = meta;
  for (const ins of plan.stages[0].commands.slice(0, 3)) applyMetadata(ins, s, { V: '9' });
  assert.equal(s.args.get('V'), '9'); // bare ARG takes the meta ARG's value
  assert.deepEqual(s.config.Env, ['PATH=/bin', 'W=env']);
  assert.deepEqual([...runArgs(s)], [['V', '9']]); // W is shadowed by ENV
  assert.equal(runCreatedBy(['/bin/sh', '-c', 'echo'], runArgs(s)), '|1 V=9 /bin/sh -c echo');
  assert.deepEqual(unusedArgs({ V: '1', X: '2', HTTP_PROXY: 'p' }, new Set(['V'])), ['X']);
  const s2 = stage();
  applyMetadata(parseDockerfile('FROM x\nARG Y=${NOPE:-d}').instructions[1], s2, {});
  assert.equal(s2.args.get('Y'), 'd');
});

test('metadata instructions change the config', () => {
  const s = stage();
  const df = parseDockerfile(
    [
      'FROM x',
      'ENV A=1 B="b c"',
      'WORKDIR /app',
      'WORKDIR $A',
      'USER nobody',
      'LABEL l=$A',
      'EXPOSE 80 53/udp',
      'VOLUME ["/data"]',
      'STOPSIGNAL SIGINT',
      'SHELL ["/bin/ash", "-ec"]',
      'CMD echo hi',
      'ENTRYPOINT ["e"]',
      'ONBUILD RUN x',
      'HEALTHCHECK --interval=1m30s --retries=2 CMD ["true"]',
    ].join('\n'),
  );
  for (const ins of df.instructions.slice(1)) assert.equal(applyMetadata(ins, s, {}), true);
  const c = s.config;
  assert.deepEqual(c.Env, ['PATH=/bin', 'A=1', 'B=b c']);
  assert.equal(c.WorkingDir, '/app/1');
  assert.equal(c.User, 'nobody');
  assert.deepEqual(c.Labels, { l: '1' });
  assert.deepEqual(Object.keys(c.ExposedPorts!), ['80/tcp', '53/udp']);
  assert.deepEqual(Object.keys(c.Volumes!), ['/data']);
  assert.equal(c.StopSignal, 'SIGINT');
  assert.deepEqual(c.Cmd, ['/bin/ash', '-ec', 'echo hi']);
  assert.deepEqual(c.Entrypoint, ['e']);
  assert.deepEqual(c.OnBuild, ['RUN x']);
  assert.deepEqual(c.Healthcheck, { Test: ['CMD', 'true'], Interval: 90e9, Retries: 2 });
  assert.equal(applyMetadata(df.instructions[0], s, {}), false);
  assert.equal(nopCreatedBy(s, df.instructions[1]), '/bin/ash -ec #(nop)  ENV A=1 B="b c"');
  assert.deepEqual(commandLine(parseDockerfile('FROM x\nRUN ["a","b"]').instructions[1], s.shell), ['a', 'b']);
  assert.throws(
    () => applyMetadata(parseDockerfile('FROM x\nSTOPSIGNAL NOPE').instructions[1], stage(), {}),
    /Invalid signal: NOPE/,
  );
  assert.throws(
    () => applyMetadata(parseDockerfile('FROM x\nONBUILD FROM y').instructions[1], stage(), {}),
    /FROM isn't allowed/,
  );
  assert.equal(parseDuration('1h2m3s'), 3723e9);
  assert.throws(() => parseDuration('5x'), /invalid duration/);
});

test('stages: names, target, --from resolution, missing stage', () => {
  const df = parseDockerfile(
    'ARG X\nFROM busybox AS build\nRUN a\nFROM build AS two\nCOPY --from=build /a /b\nFROM scratch\nCOPY --from=1 /b /c',
  );
  const plan = planBuild(df);
  assert.equal(plan.stages.length, 3);
  assert.equal(plan.total, 1 + 3 + 3);
  assert.deepEqual(resolveFrom(plan, 'build', 1, false), { stage: 0 });
  assert.deepEqual(resolveFrom(plan, '1', 2, true), { stage: 1 });
  assert.deepEqual(resolveFrom(plan, 'busybox', 0, false), { image: 'busybox' });
  assert.throws(() => resolveFrom(plan, '2', 2, true), /refers to current or later build stage/);
  assert.throws(() => resolveFrom(plan, 'two', 1, true), /not built before it is used/);
  const t = planBuild(df, 'build');
  assert.equal(t.stages.length, 1);
  assert.equal(t.total, 1 + 2);
  assert.throws(() => planBuild(df, 'nope'), /failed to reach build target nope in Dockerfile/);
  assert.throws(() => planBuild(parseDockerfile('RUN x\nFROM y')), /line 1: no build stage in current context/);
  assert.throws(() => planBuild(parseDockerfile('FROM a AS x\nFROM b AS x')), /duplicate name x/);
  assert.throws(() => planBuild(parseDockerfile('FROM a AS 1x')), /invalid name for build stage/);
  assert.throws(() => planBuild(parseDockerfile('FROM a b')), /FROM requires either one or three arguments/);
});

test('cache key: equal inputs give equal keys, any change another key', () => {
  const k = cacheKey('sha256:p', '/bin/sh -c x', { Env: ['A=1'] });
  assert.equal(k, cacheKey('sha256:p', '/bin/sh -c x', { Env: ['A=1'] }));
  assert.notEqual(k, cacheKey('sha256:q', '/bin/sh -c x', { Env: ['A=1'] }));
  assert.notEqual(k, cacheKey('sha256:p', '/bin/sh -c y', { Env: ['A=1'] }));
  assert.notEqual(k, cacheKey('sha256:p', '/bin/sh -c x', { Env: ['A=2'] }));
  const f = { path: 'a', type: 'file' as const, mode: 0o644, uid: 0, gid: 0, size: 1, digest: 'd1' };
  assert.match(sourcesDigest([[f]]), /^file:[0-9a-f]{64}$/);
  assert.match(sourcesDigest([[f, { ...f, path: 'b' }]]), /^dir:/);
  assert.notEqual(sourcesDigest([[f]]), sourcesDigest([[{ ...f, mode: 0o755 }]]));
  assert.notEqual(sourcesDigest([[f]]), sourcesDigest([[{ ...f, digest: 'd2' }]]));
  assert.match(sourcesDigest([[f], [f]]), /^multi:/);
});

test('progress messages as dockerd writes them', () => {
  assert.deepEqual(stepMessages(2, 5, 'ENV A=1'), [{ stream: 'Step 2/5 : ENV A=1' }, { stream: '\n' }]);
  assert.equal(goJson(imageMessage('sha256:d2e365362a9d0000')), '{"stream":" ---\\u003e d2e365362a9d\\n"}');
  assert.deepEqual(successBuilt('sha256:e730dafda6e0655f'), { stream: 'Successfully built e730dafda6e0\n' });
  const msg = runFailed(['/bin/sh', '-c', 'echo about to fail && exit 3'], false, 3);
  assert.equal(msg, "The command '/bin/sh -c echo about to fail && exit 3' returned a non-zero code: 3");
  assert.equal(runFailed(['false'], true, 1), `The command '["false"]' returned a non-zero code: 1`);
  assert.equal(
    goJson(errorMessage(msg, 3)),
    '{"errorDetail":{"code":3,"message":"The command \'/bin/sh -c echo about to fail \\u0026\\u0026 exit 3\' returned a non-zero code: 3"},"error":"The command \'/bin/sh -c echo about to fail \\u0026\\u0026 exit 3\' returned a non-zero code: 3"}',
  );
});

test('.dockerignore: **, ! exceptions, directories', () => {
  const p = parseDockerignore('# c\n**/*.log\nbuild/\n!build/keep.txt\n*.md\n!README.md\n');
  assert.equal(isIgnored('a.log', p), true);
  assert.equal(isIgnored('x/y/z.log', p), true);
  assert.equal(isIgnored('build/out.o', p), true);
  assert.equal(isIgnored('build/keep.txt', p), false);
  assert.equal(isIgnored('NOTES.md', p), true);
  assert.equal(isIgnored('README.md', p), false);
  assert.equal(isIgnored('src/main.c', p), false);
});

test('COPY globs: Go filepath.Match rules', async () => {
  const { globRegExp, hasGlob } = await import('../../src/build/glob.js');
  assert.equal(globRegExp('*.conf').test('a.conf'), true);
  assert.equal(globRegExp('*.conf').test('d/a.conf'), false);
  assert.equal(globRegExp('d/?.txt').test('d/a.txt'), true);
  assert.equal(globRegExp('[ab]*').test('bcd'), true);
  assert.equal(globRegExp('[^ab]*').test('bcd'), false);
  assert.equal(globRegExp('a\\*').test('a*'), true);
  assert.equal(globRegExp('a.b').test('axb'), false);
  assert.equal(hasGlob('x/y.txt'), false);
  assert.throws(() => globRegExp('[ab'), /syntax error in pattern/);
});
