// The bench's verdicts (bench/report.ts): which rate a target sustained when a
// missed rate got a second try, and which try the p99 target is judged on.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { LoadResult } from '../../../bench/load.js';
import { judge, render, sweepEdge, type RateRun } from '../../../bench/report.js';
import type { TargetName } from '../../../bench/target.js';

const WINDOW_MS = 10_000;

/** a run at `rate` whose every message was stored and delivered once, in order, each `latencyMs` after it was sent */
function run(target: TargetName, rate: number, latencyMs: number, retry = false): RateRun {
  const count = (rate * WINDOW_MS) / 1000;
  const r: LoadResult = {
    issued: count,
    stored: count,
    storedInWindow: count,
    delivered: count,
    deliveredInWindow: count,
    duplicates: 0,
    outOfOrder: 0,
    misrouted: 0,
    sendErrors: 0,
    reconnects: 0,
    storeLatency: Array<number>(count).fill(latencyMs),
    deliverLatency: Array<number>(count).fill(latencyMs),
    generatorLagMs: 0,
    windowMs: WINDOW_MS,
    drainMs: 0,
    drained: true,
  };
  return judge(target, rate, r, [], retry);
}

/** a rate missed on both tries (the second run after the first miss) */
const missedTwice = (target: TargetName, rate: number, latencyMs = 300) => [run(target, rate, latencyMs), run(target, rate, latencyMs, true)];

function report(runs: RateRun[]): string {
  return render({
    backend: 'test',
    instances: 1,
    pairs: 100,
    durationS: 10,
    heartbeatS: 25,
    holdS: 150,
    sweep: [1000, 2000, 3000],
    runs,
    idle: new Map(),
    notes: [],
    loadAverage: [0, 0],
  });
}

const line = (text: string, start: string) => text.split('\n').find((l) => l.trimStart().startsWith(start)) ?? '';

test('a rate missed once and sustained on its second try counts; the sweep is judged at the first rate missed twice', () => {
  const text = report([
    run('ours', 1000, 20),
    run('r1', 1000, 250),
    run('r1', 1000, 10, true),
    run('ours', 2000, 30),
    run('r1', 2000, 10),
    run('ours', 3000, 300),
    run('ours', 3000, 250, true),
    run('r1', 3000, 10),
  ]);
  assert.match(text, /Sustainable rate: ours 2000\/s, r1 ≥ 3000\/s/);
  assert.match(line(text, 'sustainable rate ÷ R1'), /≤ 0\.67 .*n\/a \(extend --sweep\)/);
  // both tries are listed, the second marked
  const rows = (target: string, rate: number) => text.split('\n').filter((l) => new RegExp(`^\\s+${target}\\s+${rate}\\s`).test(l));
  assert.deepEqual(
    rows('r1', 1000).map((l) => l.trim().split(/\s{2,}/).pop()),
    ['no', 'yes (2nd try)'],
  );
  assert.deepEqual(
    rows('ours', 3000).map((l) => l.trim().split(/\s{2,}/).pop()),
    ['no', 'no (2nd try)'],
  );
});

test('rates tried between the last sustained and the first missed (--refine) move the edge and the ratio', () => {
  const runs = [
    run('ours', 1000, 20),
    run('r1', 1000, 10),
    run('ours', 2000, 30),
    run('r1', 2000, 10),
    ...missedTwice('ours', 3000),
    ...missedTwice('r1', 3000, 250),
  ];
  assert.deepEqual(sweepEdge(runs.filter((r) => r.target === 'ours')), { sustained: 2000, missed: 3000 });
  // halfway: ours takes 2,500 on its second try, R1 misses it twice; then a quarter step each
  runs.push(run('ours', 2500, 250), run('ours', 2500, 40, true), ...missedTwice('r1', 2500));
  assert.deepEqual(sweepEdge(runs.filter((r) => r.target === 'ours')), { sustained: 2500, missed: 3000 });
  assert.deepEqual(sweepEdge(runs.filter((r) => r.target === 'r1')), { sustained: 2000, missed: 2500 });
  runs.push(...missedTwice('ours', 2750), run('r1', 2250, 20));
  const text = report(runs);
  assert.match(text, /Sustainable rate: ours 2500\/s, r1 2250\/s/);
  assert.match(line(text, 'sustainable rate ÷ R1'), /1\.11\s+≥ 0\.6\s+met$/);
  const oursRates = text.split('\n').filter((l) => /^\s+ours\s+\d+\s/.test(l)).map((l) => Number(l.trim().split(/\s+/)[1]));
  assert.deepEqual(oursRates, [1000, 2000, 2500, 2500, 2750, 2750, 3000, 3000], 'the table lists the runs by rate');
});

test('a target that never missed has no edge to refine', () => {
  assert.equal(sweepEdge([run('r1', 1000, 10), run('r1', 2000, 10)]), undefined);
});

test('the p99 at 1,000 msg/s is judged on the first try, even when a second one did better', () => {
  const text = report([run('ours', 1000, 220), run('ours', 1000, 20, true), run('r1', 1000, 10)]);
  assert.match(line(text, 'p99 at 1000 msg/s'), /220\.0 ms .*NOT met/);
  assert.match(text, /Sustainable rate: ours 1000\/s/);
});

test('a target that misses its first rate on both tries has sustained none, and fails the rate target', () => {
  const text = report([run('ours', 1000, 300), run('ours', 1000, 400, true), run('r1', 1000, 10), run('r1', 2000, 10)]);
  assert.match(text, /Sustainable rate: ours none, r1 2000\/s/);
  assert.match(line(text, 'sustainable rate ÷ R1'), /0\.00 .*NOT met/);
});

test('with R1d in the sweep, the report splits the gap to R1: the dedup index in the store, and the rest of the service', () => {
  const text = report([
    run('ours', 1000, 20),
    run('r1', 1000, 10),
    run('r1d', 1000, 10),
    ...missedTwice('ours', 2000),
    run('r1', 2000, 10),
    run('r1d', 2000, 10),
    run('r1', 3000, 10),
    ...missedTwice('r1d', 3000, 250),
  ]);
  assert.match(text, /Sustainable rate: ours 1000\/s, r1 ≥ 3000\/s, r1d 2000\/s/);
  assert.match(line(text, 'sustainable rate ÷ R1 '), /≤ 0\.33 /);
  assert.match(line(text, '÷ R1d'), /0\.50/);
  assert.match(line(text, 'R1d ÷ R1'), /≤ 0\.67/);
});

test('without R1d in the sweep, the report has no R1d rows', () => {
  const text = report([run('ours', 1000, 20), run('r1', 1000, 10)]);
  const targets = text.slice(text.indexOf("The issue's targets"));
  assert.match(targets, /sustainable rate ÷ R1 /);
  assert.doesNotMatch(targets, /R1d/);
});
