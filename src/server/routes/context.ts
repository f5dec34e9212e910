import type { Tether } from '../../broker/api.js';
import type { TetherConfig } from '../../config.js';
import type { RequestLimits } from '../limits.js';
import type { ServerMetrics } from '../metrics.js';
import type { SseHub } from '../sse.js';

/** What every route group is given by the app. */
export interface RouteContext {
  tether: Tether;
  config: TetherConfig;
  limits: RequestLimits;
  sse: SseHub;
  metrics: ServerMetrics;
}
