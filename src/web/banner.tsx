import { useEffect, useState } from 'preact/hooks';
import { api } from './api.js';
import { useEvents } from './events.js';
import { when } from './types.js';

interface Stats {
  usageLimit?: { until: string; reason: string; backend: string };
}

/** Says so while an agent's account is out of quota and turns are parked until it resets. */
export function UsageLimitBanner() {
  const [limit, setLimit] = useState<Stats['usageLimit'] | null>(null);
  const [version, setVersion] = useState(0);
  useEvents((type) => {
    if (type === 'turn.failed' || type === 'turn.completed' || type === 'reconnected') setVersion((v) => v + 1);
  });
  useEffect(() => {
    api<Stats>('/stats')
      .then((s) => setLimit(s.usageLimit ?? null))
      .catch(() => setLimit(null));
  }, [version]);
  if (!limit) return null;
  return (
    <p class="banner">
      {limit.backend} is out of quota until {when(limit.until)}: its turns wait until then ({limit.reason}).
    </p>
  );
}
