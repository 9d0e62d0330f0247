/**
 * Funnel: distinct sessions reaching each stage (default view → cart → checkout → order). Per session the
 * highest stage index reached in the window is kept (delta { sessions: {id: maxStage} } → hash with max);
 * stage i counts the sessions whose highest stage is >= i; rate i→i+1 = sessions(i+1) / sessions(i), null
 * when sessions(i) = 0. Order-free: a session that ordered counts for every earlier stage too.
 */
import { emptyRecord } from './aggregation';
import type { Aggregation, FunnelAcc, FunnelDelta, FunnelInput, FunnelResult } from './aggregation';

/** The funnel result from each session's highest stage (also usable on what the service reads from Redis). */
export function funnelResult(stageNames: readonly string[], maxStages: Iterable<number>): FunnelResult {
  const hist = new Array<number>(stageNames.length).fill(0);
  for (const s of maxStages) if (s >= 0 && s < hist.length) hist[s]++;
  const reached = new Array<number>(stageNames.length).fill(0);
  let acc = 0;
  for (let i = hist.length - 1; i >= 0; i--) reached[i] = acc += hist[i];
  return {
    stages: stageNames.map((name, i) => ({ name, sessions: reached[i] })),
    rates: stageNames.slice(1).map((to, i) => ({ from: stageNames[i], to, rate: reached[i] === 0 ? null : reached[i + 1] / reached[i] })),
  };
}

/** Each session's higher stage of a's and b's; mutates and returns a. */
function keepHigher(a: FunnelAcc, b: FunnelAcc): FunnelAcc {
  for (const [m, s] of b.sessions) if (!(s <= (a.sessions.get(m) ?? -1))) a.sessions.set(m, s);
  return a;
}

export function funnelAggregation(stageNames: readonly string[]): Aggregation<FunnelAcc, FunnelInput, FunnelDelta, FunnelResult> {
  if (stageNames.length < 1) throw new RangeError('a funnel needs at least one stage');
  return {
    kind: 'funnel',
    createAccumulator: () => ({ sessions: new Map() }),
    add: (acc, { member, stage }) => {
      const cur = acc.sessions.get(member);
      if (cur === undefined || stage > cur) acc.sessions.set(member, stage);
      return acc;
    },
    merge: (a, b) => keepHigher({ sessions: new Map(a.sessions) }, b),
    absorb: keepHigher,
    result: (acc) => funnelResult(stageNames, acc.sessions.values()),
    deltaOf: ({ member, stage }) => {
      const sessions = emptyRecord<number>();
      sessions[member] = stage;
      return { kind: 'funnel', sessions };
    },
    addToDelta: (d, { member, stage }) => {
      const cur = d.sessions[member];
      if (cur === undefined || stage > cur) d.sessions[member] = stage;
      return d;
    },
    mergeDelta: (a, b) => {
      const sessions = emptyRecord<number>();
      for (const m in a.sessions) sessions[m] = a.sessions[m];
      for (const m in b.sessions) if (!(b.sessions[m] <= (sessions[m] ?? -1))) sessions[m] = b.sessions[m];
      return { kind: 'funnel', sessions };
    },
    applyDelta: (acc, d) => {
      for (const m in d.sessions) {
        const cur = acc.sessions.get(m);
        if (cur === undefined || d.sessions[m] > cur) acc.sessions.set(m, d.sessions[m]);
      }
      return acc;
    },
    finalizeDelta: (d) => d,
  };
}
