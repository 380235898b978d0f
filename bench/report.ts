/**
 * Judging runs and printing them: per rate whether the target sustained it,
 * per target the sustainable rate, and the issue's targets as ratios of ours
 * to the baselines measured in the same run (so a noisy machine shifts both).
 */
import { cpus, totalmem } from 'node:os';
import type { IdleResult } from './idle.js';
import { EARLY_S, STEADY_S } from './options.js';
import type { LoadResult } from './load.js';
import type { CpuShare } from './proc.js';
import { grid, mb, ms, summarize, type Summary } from './stats.js';
import { DESCRIPTIONS, type TargetName } from './target.js';

/** the issue's bar for a sustained rate */
export const P99_LIMIT_MS = 200;
const STORED_SHARE = 0.95;

export interface RateRun {
  target: TargetName;
  rate: number;
  r: LoadResult;
  deliver: Summary;
  storedPerS: number;
  deliveredPerS: number;
  cpu: CpuShare[];
  /** no loss, duplicate, reordering or misrouting */
  correct: boolean;
  sustained: boolean;
  /** the second try at this rate, run because the first was not sustained (run.ts) */
  retry: boolean;
}

export function judge(target: TargetName, rate: number, r: LoadResult, cpu: CpuShare[], retry = false): RateRun {
  const seconds = r.windowMs / 1000;
  const deliver = summarize(r.deliverLatency);
  const storedPerS = r.storedInWindow / seconds;
  const correct = r.delivered === r.issued && r.duplicates === 0 && r.outOfOrder === 0 && r.misrouted === 0;
  const sustained = correct && r.drained && deliver.p99 <= P99_LIMIT_MS && storedPerS >= STORED_SHARE * rate;
  return { target, rate, r, deliver, storedPerS, deliveredPerS: r.deliveredInWindow / seconds, cpu, correct, sustained, retry };
}

export const cpuText = (cpu: CpuShare[]) => cpu.map((c) => `${c.name} ${c.percent.toFixed(0)}%`).join(', ');

/** One line per rate while the sweep runs. */
export function describeRun(run: RateRun): string {
  const r = run.r;
  const lost = r.issued - r.delivered;
  const store = summarize(r.storeLatency);
  return (
    `${run.target} @ ${run.rate}/s${run.retry ? ' (second try)' : ''}: stored ${run.storedPerS.toFixed(0)}/s, delivered ${run.deliveredPerS.toFixed(0)}/s, ` +
    `p50 ${ms(run.deliver.p50)} p99 ${ms(run.deliver.p99)} max ${ms(run.deliver.max)}, lost ${lost}, dups ${r.duplicates}, ` +
    `order ${r.outOfOrder}, drain ${(r.drainMs / 1000).toFixed(1)} s${r.drained ? '' : ' (gave up)'}; ` +
    `send→sent p50 ${ms(store.p50)} p99 ${ms(store.p99)}, generator late ${ms(r.generatorLagMs)} at worst; CPU ${cpuText(run.cpu)}` +
    `${run.sustained ? '' : ' — not sustained'}`
  );
}

interface Sustainable {
  rate: number;
  /** every rate of the sweep was sustained: the real limit is higher */
  atTop: boolean;
  /** the first rate not sustained, if any */
  failedAt: number | undefined;
}

/** A target's highest sustained rate below its lowest missed one (a rate counts as sustained when either of its tries was), if it missed any. */
export function sweepEdge(runs: RateRun[]): { sustained: number; missed: number } | undefined {
  const rates = [...new Set(runs.map((run) => run.rate))].sort((a, b) => a - b);
  const missed = rates.find((rate) => !runs.some((run) => run.rate === rate && run.sustained));
  if (missed === undefined) return undefined;
  return { sustained: rates.filter((rate) => rate < missed).pop() ?? 0, missed };
}

function sustainable(runs: RateRun[], sweep: number[]): Sustainable {
  const edge = sweepEdge(runs);
  const rate = edge ? edge.sustained : Math.max(0, ...runs.map((run) => run.rate));
  return { rate, atTop: !edge && rate === sweep[sweep.length - 1], failedAt: edge?.missed };
}

const sustainableText = (s: Sustainable) => (s.rate === 0 ? 'none' : `${s.atTop ? '≥ ' : ''}${s.rate}/s`);

/** One of the issue's targets: what was measured, the bar, and the verdict. */
type Row = [what: string, measured: string, bar: string, verdict: string];

/** ours ÷ baseline of the sustainable rates; only a bound when a sweep never saturated */
function rateRow(what: string, bar: string, min: number, ours: Sustainable | undefined, base: Sustainable | undefined): Row {
  if (!ours || !base) return [what, 'not run', bar, 'n/a'];
  if (base.rate === 0) return [what, 'n/a (the baseline sustained no rate)', bar, 'n/a'];
  if (ours.atTop && base.atTop) return [what, 'n/a (both sustained every rate: extend --sweep)', bar, 'n/a'];
  const value = ours.rate / base.rate;
  // ours saturated but the baseline did not: its limit is higher, so the ratio is at most this
  const text = `${ours.atTop ? '≥ ' : base.atTop ? '≤ ' : ''}${value.toFixed(2)}`;
  const verdict = value >= min ? (base.atTop ? 'n/a (extend --sweep)' : 'met') : ours.atTop ? 'n/a (extend --sweep)' : 'NOT met';
  return [what, text, bar, min > 0 ? verdict : ''];
}

export interface Report {
  backend: string;
  instances: number;
  pairs: number;
  durationS: number;
  heartbeatS: number;
  holdS: number;
  sweep: number[] | undefined;
  runs: RateRun[];
  idle: Map<TargetName, IdleResult>;
  notes: string[];
  /** the machine's 1-minute load average at the start and the end: other work on it shows here */
  loadAverage: [number, number];
}

function header(rep: Report): string[] {
  const cpu = cpus();
  return [
    '',
    `im-service bench, ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC: ${cpu.length} cores (${cpu[0]?.model.trim() ?? '?'}), ` +
      `${(totalmem() / 2 ** 30).toFixed(0)} GB, Node ${process.version}, ${rep.backend} + redis-server; ` +
      `load average ${rep.loadAverage[0].toFixed(1)} at the start, ${rep.loadAverage[1].toFixed(1)} at the end`,
    ...Object.entries(DESCRIPTIONS).map(([name, d]) => `  ${name}: ${d}`),
  ];
}

function sweepSection(rep: Report): string[] {
  // run interleaved (the targets take turns at each rate), shown by target
  const order = Object.keys(DESCRIPTIONS);
  const runs = [...rep.runs].sort((a, b) => order.indexOf(a.target) - order.indexOf(b.target) || a.rate - b.rate || Number(a.retry) - Number(b.retry));
  return [
    '',
    `Sweep: ${rep.instances} instance${rep.instances > 1 ? 's' : ''} per target, ${rep.pairs} pairs (${2 * rep.pairs} clients), ${rep.durationS} s per rate, the targets taking turns at each rate; ` +
      `sustained = p99 send→deliver ≤ ${P99_LIMIT_MS} ms, stored ≥ ${STORED_SHARE * 100}% of offered, nothing lost (r0 stores nothing: its "stored" is its \`sent\`); ` +
      'a rate missed is tried once more, and counts as sustained if that try is; then each target is tried halfway between its last sustained and its first missed rate (--refine times)',
    grid(
      ['target', 'offered/s', 'stored/s', 'delivered/s', 'p50', 'p99', 'max', 'lost', 'dups', 'order', 'sustained', 'CPU during the load (% of one core)'],
      runs.map((run) => [
        run.target,
        String(run.rate),
        run.storedPerS.toFixed(0),
        run.deliveredPerS.toFixed(0),
        ms(run.deliver.p50),
        ms(run.deliver.p99),
        ms(run.deliver.max),
        String(run.r.issued - run.r.delivered),
        String(run.r.duplicates),
        String(run.r.outOfOrder),
        `${run.sustained ? 'yes' : 'no'}${run.retry ? ' (2nd try)' : ''}`,
        cpuText(run.cpu),
      ]),
    ),
  ];
}

function idleSection(rep: Report): string[] {
  const n = [...rep.idle.values()][0]?.connections ?? 0;
  const busy = (cpu: CpuShare[]) => cpuText(cpu.filter((c) => c.percent >= 1));
  return [
    '',
    `Idle: ${n} authenticated connections on one process of each target, held ${rep.holdS} s with heartbeats every ${rep.heartbeatS} s;`,
    `  RSS held: median of the last ${Math.min(STEADY_S, rep.holdS)} s of the hold; first ${EARLY_S} s: the same just after connecting (garbage not yet handed back)`,
    grid(
      ['target', 'held', 'disconnects', 'connect time', 'RSS before', 'RSS held', 'RSS per conn.', `first ${EARLY_S} s`, 'after GC', 'live heap per conn.', 'CPU while connecting | while held'],
      [...rep.idle].map(([name, i]) => [
        name,
        `${i.held}/${i.connections}`,
        String(i.disconnects),
        `${(i.connectMs / 1000).toFixed(1)} s`,
        mb(i.rssBeforeBytes),
        mb(i.rssAfterBytes),
        `${(i.bytesPerConnection / 1024).toFixed(1)} KB`,
        `${(i.earlyBytesPerConnection / 1024).toFixed(1)} KB`,
        i.settledRssPerConnection === undefined ? 'n/a' : `${(i.settledRssPerConnection / 1024).toFixed(1)} KB`,
        i.heapPerConnection === undefined ? 'n/a' : `${(i.heapPerConnection / 1024).toFixed(1)} KB`,
        `${busy(i.connectCpu)} | ${busy(i.holdCpu)}`,
      ]),
    ),
  ];
}

function targetRows(rep: Report, sustained: Map<TargetName, Sustainable>): Row[] {
  const rows: Row[] = [];
  const ours = rep.idle.get('ours');
  for (const [base, bar] of [['r0', '≤ 1.5'], ['r1', '']] as const) {
    const b = rep.idle.get(base);
    const what = `memory per idle connection ÷ ${base.toUpperCase()}`;
    if (!ours || !b) {
      if (bar) rows.push([what, 'not run', bar, 'n/a']);
      continue;
    }
    const verdict = (value: number) => (bar ? (value <= 1.5 ? 'met' : 'NOT met') : '');
    const held = ours.bytesPerConnection / b.bytesPerConnection;
    rows.push([`${what}, RSS while held`, held.toFixed(2), bar, verdict(held)]);
    rows.push([`  RSS in the first ${EARLY_S} s after connecting ÷ ${base.toUpperCase()}`, (ours.earlyBytesPerConnection / b.earlyBytesPerConnection).toFixed(2), '', '']);
    if (ours.settledRssPerConnection !== undefined && b.settledRssPerConnection !== undefined) {
      const settled = ours.settledRssPerConnection / b.settledRssPerConnection;
      rows.push([`${what}, RSS after a full GC`, settled.toFixed(2), bar, verdict(settled)]);
    }
    if (ours.heapPerConnection !== undefined && b.heapPerConnection !== undefined) {
      rows.push([`  live heap per idle connection ÷ ${base.toUpperCase()}`, (ours.heapPerConnection / b.heapPerConnection).toFixed(2), '', '']);
    }
  }
  rows.push(rateRow('sustainable rate ÷ R1', '≥ 0.6', 0.6, sustained.get('ours'), sustained.get('r1')));
  if (sustained.has('r1d')) {
    // how much of the gap to R1 is what the service must store (its documents under the dedup index), and how much the rest of the service
    rows.push(rateRow("  ÷ R1d (R1 storing the service's documents)", '', 0, sustained.get('ours'), sustained.get('r1d')));
    rows.push(rateRow('  R1d ÷ R1 (the service\'s documents and dedup index, in the store)', '', 0, sustained.get('r1d'), sustained.get('r1')));
  }
  if (sustained.has('r0')) rows.push(rateRow('sustainable rate ÷ R0', '', 0, sustained.get('ours'), sustained.get('r0')));

  const what = `p99 at 1000 msg/s, ours, ${rep.instances} instance${rep.instances > 1 ? 's' : ''}`;
  // the first try: a second one, after a miss, does not replace it here
  const at1000 = rep.runs.find((run) => run.target === 'ours' && run.rate === 1000 && !run.retry);
  const failedAt = sustained.get('ours')?.failedAt;
  const verdict = (met: boolean) => (rep.instances !== 1 ? 'n/a (the target is for one instance)' : met ? 'met' : 'NOT met');
  if (at1000) rows.push([what, ms(at1000.deliver.p99), '≤ 50 ms', verdict(at1000.correct && at1000.deliver.p99 <= 50)]);
  else if (failedAt !== undefined && failedAt < 1000) rows.push([what, `not run: saturated at ${failedAt}/s`, '≤ 50 ms', verdict(false)]);
  else rows.push([what, 'not run', '≤ 50 ms', 'n/a']);

  rows.push([
    'idle connections per instance, ours',
    ours ? `${ours.held} held of ${ours.connections}` : 'not run',
    '≥ 10000',
    ours ? (ours.held >= 10_000 && ours.disconnects === 0 ? 'met' : 'NOT met') : 'n/a',
  ]);
  return rows;
}

export function render(rep: Report): string {
  const out = header(rep);
  const sustained = new Map<TargetName, Sustainable>();
  if (rep.sweep) {
    out.push(...sweepSection(rep));
    for (const name of Object.keys(DESCRIPTIONS) as TargetName[]) {
      const runs = rep.runs.filter((run) => run.target === name);
      if (runs.length) sustained.set(name, sustainable(runs, rep.sweep));
    }
    out.push('', `Sustainable rate: ${[...sustained].map(([name, s]) => `${name} ${sustainableText(s)}`).join(', ')}`);
  }
  if (rep.idle.size) out.push(...idleSection(rep));
  // (a failover run alone measures none of them)
  if (rep.sweep || rep.idle.size) out.push('', "The issue's targets (ratios are ours ÷ baseline, same machine, same run):", grid(['', 'measured', 'target', ''], targetRows(rep, sustained)));
  if (rep.notes.length) out.push('', ...rep.notes.map((n) => `note: ${n}`));
  return out.join('\n');
}
