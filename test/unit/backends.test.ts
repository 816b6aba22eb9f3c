import { BACKEND_TABLE, chooseBackend, expectedCost, fallbackBackend, type QueueStats } from '../../common/backends';
import { BACKENDS, TIERS, type Backend } from '../../common/constants';

const up: QueueStats = { pollers: 1, backlog: 0 };
const all = Object.fromEntries(BACKENDS.map((b) => [b, up])) as Record<Backend, QueueStats>;
const only = (...bs: Backend[]) => Object.fromEntries(bs.map((b) => [b, up])) as Partial<Record<Backend, QueueStats>>;

describe('chooseBackend', () => {
  test.each([
    // tier, optimizeFor, seconds, live queues, expected
    ['free', 'cost', 60, all, 'cpu'],
    ['free', 'speed', 60, all, 'gpu-spot'],
    ['free', 'balanced', 60, all, 'gpu-spot'], // 10× faster for 2.2× the price: cost × time favours spot
    ['free', 'balanced', 3600, all, 'gpu-spot'], // long file: CPU skipped while a GPU queue has workers
    ['free', 'balanced', 3600, only('cpu'), 'cpu'], // ... but not when no GPU queue has any
    ['standard', 'cost', 60, all, 'cpu'],
    ['standard', 'speed', 60, all, 'gpu-ondemand'], // warm on-demand is never interrupted: fastest expected
    ['standard', 'balanced', 3600, all, 'gpu-spot'],
    ['standard', 'speed', 60, only('cpu', 'gpu-ondemand'), 'gpu-ondemand'],
    ['premium', 'speed', 60, all, 'gpu-reserved'],
    ['premium', 'balanced', 60, all, 'gpu-spot'], // an idle spot queue is cheaper for the same speed
    ['premium', 'balanced', 60, { ...all, 'gpu-spot': { pollers: 1, backlog: 200 } }, 'gpu-reserved'], // ... not behind a flood
    ['premium', 'cost', 60, all, 'cpu'],
    ['premium', 'cost', 3600, all, 'gpu-spot'],
    ['premium', 'balanced', 60, only('cpu'), 'cpu'],
    ['premium', 'balanced', 60, only('gpu-spot', 'cpu'), 'gpu-spot'],
  ] as const)('%s, %s, %i s, live %j → %s', (tier, optimizeFor, audioSeconds, stats, expected) => {
    const choice = chooseBackend({ tier, optimizeFor, audioSeconds }, stats);
    expect(choice.backend).toBe(expected);
    expect(choice.waitingForCapacity).toBe(false);
    expect(BACKEND_TABLE.tierBackends[tier]).toContain(choice.backend);
  });

  test.each(TIERS)('%s with no pollers anywhere: the tier default, waiting for capacity', (tier) => {
    const choice = chooseBackend({ tier, audioSeconds: 60 }, {});
    expect(choice).toMatchObject({ backend: BACKEND_TABLE.tierBackends[tier][0], waitingForCapacity: true });
    expect(choice.considered.every((c) => c.skipped === 'no workers polling')).toBe(true);
  });

  test('never a backend outside the tier table, for every tier × optimizeFor × length × live set', () => {
    const subsets: Partial<Record<Backend, QueueStats>>[] = [];
    for (let mask = 0; mask < 1 << BACKENDS.length; mask++) {
      subsets.push(only(...BACKENDS.filter((_, i) => mask & (1 << i))));
    }
    for (const tier of TIERS)
      for (const optimizeFor of ['cost', 'speed', 'balanced'] as const)
        for (const audioSeconds of [1, 599, 601, 43_200])
          for (const stats of subsets) {
            const c = chooseBackend({ tier, optimizeFor, audioSeconds }, stats);
            expect(BACKEND_TABLE.tierBackends[tier]).toContain(c.backend);
            const liveAllowed = BACKEND_TABLE.tierBackends[tier].filter((b) => stats[b]);
            if (liveAllowed.length) expect(stats[c.backend]).toBeDefined();
            else expect(c.waitingForCapacity).toBe(true);
          }
  });

  test('a deep backlog moves speed-minded work to another queue', () => {
    const stats = { 'gpu-reserved': { pollers: 1, backlog: 10_000 }, 'gpu-ondemand': up };
    expect(chooseBackend({ tier: 'premium', optimizeFor: 'speed', audioSeconds: 60 }, stats).backend).toBe('gpu-ondemand');
  });

  test('expected cost counts minimum billing and redone work', () => {
    expect(expectedCost(BACKEND_TABLE.backends['gpu-ondemand'], 60)).toBeCloseTo(0.1 * 5); // 5 min minimum
    expect(expectedCost(BACKEND_TABLE.backends['gpu-spot'], 600)).toBeCloseTo(0.02 * 10 * 1.1);
  });

  test('fallback is the first allowed non-spot backend', () => {
    expect(fallbackBackend('free')).toBe('cpu');
    expect(fallbackBackend('standard')).toBe('cpu');
    expect(fallbackBackend('premium')).toBe('gpu-reserved');
  });
});
