import type { FastifyInstance } from 'fastify';
import { invalidArgument } from '../../../src/errors';
import { KEEP_HOURS_MS, KEEP_MINUTES_MS } from '../../capacity/history';
import type { Resolution, Scope } from '../../store/capacity-history';
import type { AdminContext } from '../context';

const figures = { type: 'object', properties: { capacity: { type: 'number' }, allocated: { type: 'number' }, used: { type: 'number' } } } as const;
const sample = {
  type: 'object',
  properties: { at: { type: 'string' }, instances: { type: 'number' }, cpu: figures, memory: figures, disk: figures },
} as const;
const trend = { type: 'object', properties: { perDay: { type: 'number' }, stderrPerDay: { type: ['number', 'null'] }, samples: { type: 'number' } } } as const;
const nullableDays = { type: ['number', 'null'] } as const;

// The capacity history (a point a minute for a day, an hour for 90 days, fleet and zones) and
// the forecast made from it (capacity/history.ts, capacity/forecast.ts).
export function capacityHistoryRoutes(ctx: AdminContext) {
  return async function (app: FastifyInstance): Promise<void> {
    app.get(
      '/v1/capacity/history',
      {
        schema: {
          tags: ['capacity'],
          summary: "the fleet's or a zone's capacity, allocation and measured use over time (CPU in millicores, bytes)",
          description: 'resolution 1m keeps a day, 1h keeps 90 days; from/to default to all of it.',
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: {
              zone: { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,63}$', description: 'a zone; absent: the fleet' },
              resolution: { type: 'string', enum: ['1m', '1h'], default: '1h' },
              from: { type: 'string', format: 'date-time' },
              to: { type: 'string', format: 'date-time' },
            },
          },
          response: { 200: { type: 'object', properties: { scope: { type: 'string' }, name: { type: 'string' }, resolution: { type: 'string' }, samples: { type: 'array', items: sample } } } },
        },
      },
      async (req) => {
        const q = req.query as { zone?: string; resolution: Resolution; from?: string; to?: string };
        const now = ctx.now();
        const from = iso('from', q.from, now - (q.resolution === '1m' ? KEEP_MINUTES_MS : KEEP_HOURS_MS));
        const to = iso('to', q.to, now + 1);
        const scope: Scope = q.zone ? 'zone' : 'fleet';
        const name = q.zone ?? '';
        const samples = ctx.store.capacityHistory.range(q.resolution, scope, name, from, to).map(({ scope: _s, name: _n, ...rest }) => rest);
        return { scope, name, resolution: q.resolution, samples };
      },
    );

    app.get(
      '/v1/capacity/forecast',
      {
        schema: {
          tags: ['capacity'],
          summary: 'per zone and for the fleet: the allocation trend, and for its most common shapes how many more fit now (the real scheduler) and the days until the first refusal at that trend, with an interval',
          response: {
            200: {
              type: 'object',
              properties: {
                forecasts: {
                  type: 'array',
                  items: {
                    type: 'object',
                    properties: {
                      scope: { type: 'string' },
                      name: { type: 'string' },
                      windowDays: { type: 'number' },
                      growth: { type: 'object', properties: { cpu: trend, memory: trend, disk: trend } },
                      shapes: {
                        type: 'array',
                        items: {
                          type: 'object',
                          properties: {
                            shape: { type: 'object', properties: { cpuMillis: { type: 'number' }, memoryBytes: { type: 'number' }, diskBytes: { type: 'number' }, zone: { type: 'string' } } },
                            fitsNow: { type: 'number' },
                            truncated: { type: 'boolean' },
                            limitedBy: { type: 'string' },
                            perDay: { type: 'number' },
                            days: nullableDays,
                            low: nullableDays,
                            high: nullableDays,
                          },
                        },
                      },
                    },
                  },
                },
              },
            },
          },
        },
      },
      async () => {
        const h = ctx.capacityHistory;
        if (!h) return { forecasts: [] };
        // Made every 10 minutes; a reader gets one at most a minute old.
        const forecasts = h.stale() ? await h.refreshForecast() : h.forecasts();
        // JSON has no Infinity: an unknown error is null.
        return { forecasts: forecasts.map((f) => ({ ...f, growth: Object.fromEntries(Object.entries(f.growth).map(([k, t]) => [k, { ...t, stderrPerDay: Number.isFinite(t.stderrPerDay) ? t.stderrPerDay : null }])) })) };
      },
    );
  };
}

function iso(param: string, v: string | undefined, dflt: number): string {
  if (v === undefined) return new Date(dflt).toISOString();
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw invalidArgument(`parameter "${param}" is not a date-time`);
  return new Date(t).toISOString();
}
